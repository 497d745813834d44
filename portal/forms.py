from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    """Sign in by email. The error for a wrong password and for an unknown user is the same
    (Django's), so the page never tells whether an account exists."""

    username = forms.CharField(
        label=_("Email"), max_length=254, widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"})
    )
