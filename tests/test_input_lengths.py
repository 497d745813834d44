"""Lengths are checked before the database does (PostgreSQL answers an over-long text with
"value too long for type character varying", a 500 or a traceback): every text field of every
form has a maximum, and every command answers an over-long argument with a one-line reason."""

import importlib
import pkgutil
from io import StringIO

import pytest
from django import forms
from django.core.management import CommandError, call_command

from tests.factories import MembershipFactory, UserFactory

APPS = ("portal", "catalog", "subscriptions", "overage", "billing")
LONG = "x" * 500

# Text fields that never reach the database, with the reason.
NOT_STORED = {
    # Checked against the password hash only.
    ("portal.forms", "LoginForm", "password"),
}


def _our_forms():
    for app in APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".migrations" not in module.name and ".management" not in module.name:
                importlib.import_module(module.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return {form for form in subclasses(forms.BaseForm) if form.__module__.split(".")[0] in APPS}


def test_every_text_field_of_every_form_has_a_maximum_length():
    unbounded = [
        f"{form.__module__}.{form.__name__}.{name}"
        for form in _our_forms()
        for name, field in form.base_fields.items()
        if isinstance(field, forms.CharField)
        and field.max_length is None
        and (form.__module__, form.__name__, name) not in NOT_STORED
    ]
    assert sorted(unbounded) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ["create_api_token", LONG],
        ["create_api_token", "alan@contoso.example", "--name", LONG],
        ["import_usage", LONG],
        ["import_usage", __file__, "--partner", LONG],
        ["rate_usage", "--month", LONG],
        ["renew_subscriptions", "--date", LONG],
        ["export_reconciliation", "--partner", LONG, "--month", "2026-10"],
        ["export_reconciliation", "--partner", "1000001", "--month", LONG],
        ["export_reconciliation", "--partner", "1000001", "--month", "2026-10", "--output", f"/tmp/{LONG}.csv"],
    ],
    ids=lambda args: " ".join(a if len(a) < 40 else "<500 characters>" for a in args),
)
def test_every_command_answers_an_over_long_argument_with_a_one_line_reason(args):
    MembershipFactory(user=UserFactory(email="alan@contoso.example"), partner__mpn_id="1000001")
    with pytest.raises(CommandError) as refused:
        call_command(*args, stdout=StringIO(), stderr=StringIO())
    assert "\n" not in str(refused.value)
