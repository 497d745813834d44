"""Communication credits: a customer's prepaid balance and its append-only ledger (SPEC §8).

Money is ``Decimal`` and never mutated in place: a credit balance is the sum of its ledger.
"""


from django.conf import settings
from django.db import models
from django.db.models import Q, Sum
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.models import Customer
from portal.text import stored_text_in_language



def _visible_customers(partner):
    return Customer.objects.transacted_by(partner)


class CreditAccountQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        return self.filter(customer__in=_visible_customers(partner))


class CreditAccount(models.Model):
    """A customer's prepaid communication-credits balance. While auto-recharge is on, the
    balance is refilled whenever it falls below ``threshold``, so post-paid overage never starts."""

    customer = models.OneToOneField(Customer, on_delete=models.PROTECT, related_name="credit_account")
    currency = models.CharField(_("currency"), max_length=3)
    auto_recharge = models.BooleanField(_("auto-recharge"), default=False)
    threshold = models.DecimalField(_("recharge below"), max_digits=12, decimal_places=2, default=0)
    recharge_amount = models.DecimalField(_("recharge amount"), max_digits=12, decimal_places=2, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CreditAccountQuerySet.as_manager()

    class Meta:
        verbose_name = _("communication-credit account")
        verbose_name_plural = _("communication-credit accounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold__gte=0) & Q(recharge_amount__gte=0), name="credit_account_amounts_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(auto_recharge=False) | Q(recharge_amount__gt=0), name="credit_auto_recharge_needs_amount"
            ),
        ]

    def __str__(self):
        return gettext("Credits of %(customer)s (%(currency)s)") % {"customer": self.customer, "currency": self.currency}

    def balance(self):
        return self.entries.aggregate(total=Sum("amount"))["total"] or 0


class CreditEntryKind(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    RECHARGE = "recharge", _("Auto-recharge")
    USAGE_DRAW = "usage_draw", _("Usage draw")
    ADJUSTMENT = "adjustment", _("Adjustment")


class CreditLedgerEntryQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        return self.filter(account__customer__in=_visible_customers(partner))


# The notes a rating run writes on its draws and recharges, stored in English (``portal.text``).
CALLS_OF_NOTE = _("Calls of %(day)s")
RECHARGE_NOTE = _("Auto-recharge below %(threshold)s")


class CreditLedgerEntry(models.Model):
    """Append-only: purchases and recharges are positive, usage draws negative."""

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("kind"), max_length=12, choices=CreditEntryKind.choices)
    # Six decimals: a usage draw is minutes × a per-minute price, kept to the sub-cent.
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=6)
    occurred_at = models.DateTimeField(_("when"), db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    billing_month = models.ForeignKey(
        "BillingMonth",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="credit_entries",
        help_text=_("Set on the usage draws and recharges of a rating run: provisional while the month is open "
                    "(re-rating replaces them), final once it is finalized."),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    objects = CreditLedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["account", "occurred_at", "id"]
        verbose_name = _("credit ledger entry")
        verbose_name_plural = _("credit ledger")
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind__in=["purchase", "recharge"], amount__gt=0) | Q(kind="usage_draw", amount__lt=0) | Q(kind="adjustment")),
                name="credit_entry_sign_matches_kind",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount}"

    @property
    def note_text(self):
        """The note in the reader's language when a rating run wrote it; a person's as typed."""
        return stored_text_in_language(self.note, [CALLS_OF_NOTE, RECHARGE_NOTE]) if self.note else ""
