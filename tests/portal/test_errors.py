"""One error type (issue 14): every code and every text is defined once, the API renders a
service's refusal as Partner Center's error body, and a page shows the same error with its code."""

import ast
import datetime
import html
import pickle
import re
from collections import defaultdict
from pathlib import Path

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from overage.services import OverageError
from portal.errors import ErrorCode, PortalError, error_message
from portal.models import Role
from subscriptions.services.lifecycle import CANCEL_WINDOW_CLOSED, CANNOT_DECREASE
from tests.factories import SeatChangeFactory, SubscriptionFactory

ROOT = Path(__file__).resolve().parents[2]
APPS = ["portal", "catalog", "subscriptions", "overage", "billing"]
CODES = {name: value for name, value in vars(ErrorCode).items() if not name.startswith("_")}


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def test_each_code_has_one_name():
    names = defaultdict(list)
    for name, value in CODES.items():
        names[value].append(name)
    assert {value: found for value, found in names.items() if len(found) > 1} == {}


def test_no_module_but_portal_errors_spells_a_code():
    """A code written as a number or string anywhere else (``CODE_X = 800002`` or
    ``raise SomeError(800002, …)``) is a second definition that can drift."""
    codes = set(CODES.values())
    found = []
    for module, tree in _modules():
        if module == "portal/errors.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                named = [t.id for t in node.targets if isinstance(t, ast.Name) and "CODE" in t.id]
                value = node.value.value
                if named and (value in codes or isinstance(value, int)):
                    found.append(f"{module}:{node.lineno} {named[0]} = {node.value.value!r}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", "").endswith("Error") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and first.value in codes:
                    found.append(f"{module}:{node.lineno} {node.func.id}({first.value!r}, …)")
    assert found == []


def _texts(tree):
    """The message texts a module writes: ``NAME = _("…")`` and ``_("…")`` inside a ``raise``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets):
            yield from _gettext_literals(node.value)
        elif isinstance(node, ast.Raise) and node.exc is not None:
            yield from _gettext_literals(node.exc)


def _gettext_literals(node):
    for call in ast.walk(node):
        if (
            isinstance(call, ast.Call)
            and getattr(call.func, "id", "") in ("_", "gettext", "gettext_lazy")
            and call.args
            and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str)
        ):
            yield call.lineno, call.args[0].value


def test_each_text_is_written_once():
    """A message text copied into a second place (two wordings drift apart)."""
    places = defaultdict(list)
    for module, tree in _modules():
        for line, text in _texts(tree):
            if len(text) > 20:  # a message, not a label such as "Active"
                places[text].append(f"{module}:{line}")
    assert {text: where for text, where in places.items() if len(where) > 1} == {}


def test_the_exception_classes_of_the_apps_are_portal_errors():
    from billing.services.rating import RatingError
    from billing.services.usage_parse import UsageFileError, UsageImportError
    from portal.api import ApiError
    from portal.tokens import TokenError
    from subscriptions.errors import CartInputError
    from subscriptions.services.lifecycle import SubscriptionError

    for error in (ApiError, CartInputError, SubscriptionError, OverageError, RatingError, UsageImportError, TokenError):
        assert issubclass(error, PortalError), error
    assert UsageFileError("bad", line=3).description == "bad"


def test_a_description_with_params_is_formatted_when_read_and_survives_pickling():
    error = OverageError(ErrorCode.INVALID_INPUT, CANCEL_WINDOW_CLOSED, params={"deadline": "2026-03-08 10:00"})
    assert error.description == str(CANCEL_WINDOW_CLOSED) % {"deadline": "2026-03-08 10:00"}
    assert str(error) == error.description and error.status == 400 and error.target == []
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.code, again.description) == (OverageError, error.code, error.description)
    with translation.override("en"):
        assert error_message(error) == f"{error.description} (800002)"


# --- The API and a page show the same refusal -----------------------------------------------

PURCHASE = datetime.datetime(2026, 3, 1, 10, 0, tzinfo=datetime.UTC)
LATE = PURCHASE + datetime.timedelta(hours=168, minutes=1)


@pytest.fixture
def bought(partner_a, customer_of):
    with time_machine.travel(PURCHASE, tick=False):
        subscription = SubscriptionFactory(
            partner=partner_a, customer=customer_of(partner_a), quantity=5, purchased_at=PURCHASE,
            term_started_at=PURCHASE, start_date=PURCHASE.date(),
        )
        SeatChangeFactory(subscription=subscription, occurred_at=PURCHASE,
                          refundable_until=PURCHASE + datetime.timedelta(hours=168))
    return subscription


def _shown_error(response):
    """The text of the page's error box, as a person reads it."""
    box = re.search(r'data-testid="action-error">(.*?)</div>', response.content.decode(), re.S).group(1)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", box)).split())


@pytest.mark.parametrize(
    "page_action,page_data,api_body,code,text",
    [
        ("quantity", {"quantity": "3"}, {"quantity": 3}, ErrorCode.CANNOT_DECREASE, CANNOT_DECREASE),
        ("cancel", {}, {"status": "deleted"}, ErrorCode.INVALID_INPUT, CANCEL_WINDOW_CLOSED),
    ],
)
def test_api_and_page_show_the_same_refusal(
    api_client, make_member, partner_a, bought, page_action, page_data, api_body, code, text
):
    api = api_client(partner_a)
    page = make_member(partner_a, Role.ADMIN_AGENT)
    customer = bought.customer
    with time_machine.travel(LATE, tick=False):
        page.force_login(page.user)
        answered = api.patch(
            f"/v1/customers/{customer.tenant_id}/subscriptions/{bought.pk}", api_body, content_type="application/json"
        )
        shown = page.post(reverse(f"subscriptions:subscription_{page_action}", args=[bought.pk]), page_data)

    # The API answers PC's 400; a page answers a refusal 422 with the form again (portal.htmx).
    assert (answered.status_code, shown.status_code) == (400, 422)
    body = answered.json()
    assert body["code"] == code and body["description"].startswith(str(text)[:30]) and body["data"] == []
    assert _shown_error(shown) == f"{body['description']} ({code})"
    bought.refresh_from_db()
    assert (bought.quantity, bought.status) == (5, "active")

