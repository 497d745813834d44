from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import formats
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    """Sign in by email. The error for a wrong password and for an unknown user is the same
    (Django's), so the page never tells whether an account exists."""

    username = forms.CharField(
        label=_("Email"), max_length=254, widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"})
    )


class LocalDateInput(forms.DateInput):
    """A date typed in the user's language (``21/10/2027`` in Italian, ``2027-10-21`` in
    English: the first of Django's ``DATE_INPUT_FORMATS``), with that format as placeholder.
    Not ``type="date"``: the browser would show its own locale's format, not the portal's.
    ``forms.DateField`` reads the same formats, and ISO dates too."""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        pattern = self.format or formats.get_format("DATE_INPUT_FORMATS")[0]
        placeholder = pattern.replace("%d", gettext("dd")).replace("%m", gettext("mm")).replace("%Y", gettext("yyyy"))
        context["widget"]["attrs"].setdefault("placeholder", placeholder)
        return context
