"""Forms of the overage app. Choices are built per customer and partner (scoped where the
field is built); the Azure subscription itself is checked again by the service, which says
precisely what is wrong with a malformed, unknown, cancelled or another customer's id."""

from django import forms
from django.utils.translation import gettext_lazy as _

from overage.services import CREATE_NEW

NONE = "none"
# An Azure subscription id: a GUID, possibly written as "{…}" or "urn:uuid:…".
GUID_MAX_LENGTH = 45


class ManageOverageForm(forms.Form):
    """Where the customer's PhoneServices overage goes: one of its active Azure
    subscriptions, a new one (Create new), or nowhere (None)."""

    target = forms.CharField(
        label=_("Azure subscription receiving overage"),
        max_length=GUID_MAX_LENGTH,
        error_messages={"required": _("Choose an Azure subscription, Create new, or None.")},
    )
    # The Azure subscription id the member saw when choosing (empty for None): a stale
    # form (a second click, another member meanwhile) is refused instead of applied.
    seen = forms.CharField(required=False, max_length=GUID_MAX_LENGTH, widget=forms.HiddenInput)

    def __init__(self, *args, azure_subscriptions=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(str(az.pk), f"{az.friendly_name} ({az.pk})") for az in azure_subscriptions]
        choices += [(CREATE_NEW, _("Create new")), (NONE, _("None"))]
        self.fields["target"].widget = forms.RadioSelect(choices=choices)

    def change(self):
        """``(enabled, azure_subscription)`` for ``overage_update``."""
        target = self.cleaned_data["target"].strip()
        if target == NONE:
            return False, None
        return True, target


class TransferForm(forms.Form):
    """One step of a transfer agreement: propose, or record a party's agreement."""

    ACTIONS = [
        ("propose", _("Propose")),
        ("agree_from_partner", _("Agree as current owner")),
        ("agree_to_partner", _("Agree as receiving partner")),
        ("agree_customer", _("Record the customer's agreement")),
    ]
    action = forms.ChoiceField(choices=ACTIONS)
    in_writing = forms.BooleanField(
        required=False, label=_("I have the customer's agreement in writing.")
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == "agree_customer" and not cleaned.get("in_writing"):
            raise forms.ValidationError(_("Confirm that you have the customer's agreement in writing."))
        return cleaned
