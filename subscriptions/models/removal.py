"""Requests to remove an add-on an upgrade made redundant, and their decision."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from subscriptions.models.scopes import of_subscription_transacted_by
from subscriptions.models.subscription import Subscription


class RemovalRequestStatus(models.TextChoices):
    OPEN = "open", _("Open")
    COMPLETED = "completed", _("Completed")
    REJECTED = "rejected", _("Rejected")


# A request is decided once, by the operator's staff: the add-on removed with its credit, or refused.
REMOVAL_REQUEST_TRANSITIONS = {
    RemovalRequestStatus.OPEN: {RemovalRequestStatus.COMPLETED, RemovalRequestStatus.REJECTED},
}


class AddonRemovalRequestQuerySet(models.QuerySet):
    def transacted_by(self, partner):
        return self.filter(of_subscription_transacted_by(partner))


class AddonRemovalRequest(models.Model):
    """A support request to remove an add-on made redundant by an upgrade, with a refund.
    Accepted only within two billing cycles of the upgraded license's first billing."""

    subscription = models.OneToOneField(Subscription, on_delete=models.PROTECT, related_name="removal_request")
    upgraded_subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="+")
    deadline = models.DateField(_("deadline"))
    status = models.CharField(
        _("status"), max_length=10, choices=RemovalRequestStatus.choices, default=RemovalRequestStatus.OPEN
    )
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    raised_at = models.DateTimeField(_("raised"), auto_now_add=True)
    # The decision (issue 13, defect 14): who decided, when, the credit given and the note the
    # partner reads (the reason of a rejection).
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("decided"), null=True, blank=True)
    credit = models.DecimalField(_("credit"), max_digits=14, decimal_places=2, null=True, blank=True)
    note = models.CharField(_("note to the partner"), max_length=500, blank=True)

    objects = AddonRemovalRequestQuerySet.as_manager()

    class Meta:
        verbose_name = _("add-on removal request")
        verbose_name_plural = _("add-on removal requests")

    def __str__(self):
        return f"Remove {self.subscription}"
