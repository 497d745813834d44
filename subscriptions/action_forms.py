"""Forms of the subscription row actions (the flyout and the actions page).

They only parse input; every rule (SKU range, the 168-hour windows, the transition table,
auto-renew for next-term changes) is the lifecycle service's, so the API and the UI refuse
the same things with the same words.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from catalog.models import BillingCycle, TermDuration
from subscriptions.forms import split_term_choice, term_choice, term_label
from subscriptions.models import SubscriptionStatus
from subscriptions.services.lifecycle import QUANTITY_NOT_INTEGER
from subscriptions.services.renewal import renewal_terms

FROM_CHOICES = [("list", "list"), ("detail", "detail")]
# A seat count is a whole number a database integer holds: ten digits at most.
QUANTITY_MAX_DIGITS = 10


def _parse_quantity(raw, *, required):
    raw = (raw or "").strip() if isinstance(raw, str) else raw
    if raw in (None, ""):
        if required:
            raise forms.ValidationError(QUANTITY_NOT_INTEGER, code="invalid")
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise forms.ValidationError(QUANTITY_NOT_INTEGER, code="invalid") from None


class _ActionForm(forms.Form):
    # Where the flyout was opened from: the list swaps the row, the subscription page reloads.
    origin = forms.ChoiceField(choices=FROM_CHOICES, required=False, widget=forms.HiddenInput)
    # The subscription's version this form was rendered with: a change from a form that an
    # other change has overtaken is refused (optimistic concurrency), not applied.
    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, subscription, **kwargs):
        self.subscription = subscription
        super().__init__(*args, **kwargs)
        self.fields["version"].initial = subscription.version


class QuantityForm(_ActionForm):
    """The new total number of seats. Range checks stay with the service (one message)."""

    # Not ``required``: an empty value gets the same "whole number" message as "abc".
    quantity = forms.CharField(
        label=_("Total seats"), required=False, max_length=QUANTITY_MAX_DIGITS, widget=forms.NumberInput(attrs={"step": 1})
    )

    def __init__(self, *args, subscription, **kwargs):
        super().__init__(*args, subscription=subscription, **kwargs)
        sku = subscription.sku
        self.fields["quantity"].widget.attrs.update({"min": max(sku.min_quantity, 1), "max": sku.max_quantity})
        self.fields["quantity"].initial = subscription.quantity

    def clean_quantity(self):
        return _parse_quantity(self.cleaned_data.get("quantity"), required=True)


class CancelForm(_ActionForm):
    pass


class AutoRenewForm(_ActionForm):
    enabled = forms.TypedChoiceField(
        label=_("Auto-renew"),
        choices=[("true", _("On")), ("false", _("Off"))],
        coerce=lambda value: value == "true",
    )


class NextTermForm(_ActionForm):
    """Changes applied at renewal. Empty fields mean "keep as is"; all empty clears them.
    Term and billing cycle are one choice among the pairs the offer sells, so the form never
    offers a combination the service would refuse (P3Y billed monthly where it is not sold)."""

    quantity = forms.CharField(
        label=_("Seats"), required=False, max_length=QUANTITY_MAX_DIGITS, widget=forms.NumberInput(attrs={"step": 1})
    )
    term = forms.ChoiceField(label=_("Term and billing cycle"), required=False)

    def __init__(self, *args, subscription, pairs=(), **kwargs):
        super().__init__(*args, subscription=subscription, **kwargs)
        sku = subscription.sku
        self.fields["quantity"].widget.attrs.update({"min": max(sku.min_quantity, 1), "max": sku.max_quantity})
        valid = [
            (t, c) for t, c in dict.fromkeys(pairs) if t in TermDuration.values and c in BillingCycle.values
        ]
        self.fields["term"].choices = [("", _("No change"))] + [
            (term_choice(t, c), term_label(t, c)) for t, c in sorted(valid)
        ]
        if not self.is_bound:
            scheduled = subscription.next_term_duration or subscription.next_term_billing_cycle
            self.initial.update({
                "quantity": subscription.next_term_quantity or "",
                "term": term_choice(*renewal_terms(subscription)) if scheduled else "",
            })

    def clean_quantity(self):
        return _parse_quantity(self.cleaned_data.get("quantity"), required=False)

    def clean(self):
        """``term_duration`` and ``billing_cycle`` for the service: each only when it differs
        from the current one (choosing the current pair changes nothing)."""
        cleaned = super().clean()
        term, cycle = split_term_choice(cleaned.get("term"))
        cleaned["term_duration"] = term if term and term != self.subscription.term_duration else None
        cleaned["billing_cycle"] = cycle if cycle and cycle != self.subscription.billing_cycle else None
        return cleaned


class StatusForm(_ActionForm):
    """Any known status is accepted here; the transition table decides (and explains)."""

    status = forms.ChoiceField(label=_("Status"), choices=SubscriptionStatus.choices)


def first_error(form):
    """The first error of a form, as one sentence for the flyout's alert."""
    for errors in form.errors.values():
        if errors:
            return str(errors[0])
    return str(_("The request is not valid."))
