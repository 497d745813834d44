"""Every read of a partner-owned model goes through one of the two scope names.

- ``owned_by(partner)``: the row's partner is this partner;
- ``transacted_by(partner)``: the partner transacts it or is its reseller of record.

A static check over every module of the project's apps (views, API handlers, selectors,
services, forms, filters...; not models (a module or a package), admin, migrations, tasks: see
``_is_checked_module``).
It flags

1. ``<PartnerOwnedModel>.objects.<anything but a scope name or a write>(…)``, and
2. a partner filter written by hand: ``.filter(partner=…)``, ``.get(reseller=…)``,
   ``Q(subscription__partner=…)`` and the like,

unless the enclosing function is on ``ALLOWED`` with the reason it may work across partners
(staff pages, the billing engine) or hand-filter (it re-reads a row it already holds).

The partner-owned models come from the models themselves: every model whose queryset declares a
scope name, or that has a foreign key to ``Partner`` or ``Customer`` (and such a model must
declare one), so a new model is covered without editing this file.
"""

import ast
from pathlib import Path

from django.apps import apps
from django.conf import settings

from portal.models import Customer, Partner

SCOPE_NAMES = {"owned_by", "transacted_by"}
# Writes set ownership on the server; they read nothing another partner could see.
WRITES = {"create", "bulk_create", "none"}
READS = {"filter", "exclude", "get", "get_or_create", "update_or_create", "update", "delete", "Q"}
# Field names that hold a partner: a lookup through one of them is a hand-written scope.
PARTNER_FIELDS = {"partner", "partner_id", "reseller", "reseller_id", "from_partner", "to_partner", "owner"}

LOCKS = "re-reads and locks a row the caller already holds (taken from a scoped queryset)"

# (module, function) -> why it may read partner-owned rows without a scope name; (module, "*")
# for a module of the billing engine, which works across partners by design.
ALLOWED = {
    # Staff pages and the billing engine: across partners on purpose.
    ("billing/rating_views.py", "rating_home"): "staff-only page: the months that have calls, all partners",
    ("billing/services/rating.py", "*"): "the rating engine rates every partner's calls of a month",
    ("billing/services/rating_credits.py", "*"): "the rating engine draws every customer's credits",
    ("billing/services/rating_context.py", "*"): "the rating engine's pools and months, over every partner's customers",
    ("billing/services/rating_finalize.py", "month_summary"): "staff-only summary of a rated month, all partners",
    ("billing/services/rating_tables.py", "*"): "the rating engine drops the rows of replaced runs, every partner's",
    ("billing/services/rating_sql.py", "*"): "the rating engine's SQL, over every partner's rows",
    ("billing/reconciliation_licenses.py", "_may_bill_instalments"):
        "every partner's billable subscriptions; _cycle_charge_lines narrows it with owned_by",
    ("billing/reconciliation_licenses.py", "_cycle_charge_lines"):
        "prefetches of the subscriptions it took with owned_by(partner)",
    ("billing/services/reconciliation.py", "_partners_with_activity"): "finalization: which partners had activity",
    ("billing/services/reconciliation.py", "reconciliation_snapshot"): "finalization: every partner's lines of a month",
    ("billing/services/usage_write.py", "_write_portable"): "the import writer: records of one import, any partner",
    ("billing/services/usage_write.py", "BackgroundWriter._work"): "the import writer updates its own import row by pk",
    ("billing/services/usage_engine.py", "Importer.__init__"):
        "a partner's import names only Customer.objects.transacted_by(partner); the staff's, any customer",
    ("billing/services/usage_engine.py", "Importer.flush"): "the import writer: records of one import, any partner",
    ("billing/services/usage_engine.py", "Importer._save_counts"): "the import writer updates its own import row by pk",
    ("billing/services/usage_engine.py", "transition"): "the import task moves its own import row by pk",
    ("billing/services/usage_import.py", "reap_dead_imports"): "housekeeping task over every import",
    ("subscriptions/selectors_attention.py", "addons_outliving_base"):
        "Subscription.objects.transacted_by(partner) narrowed to the branch the partner's kind can have rows in "
        "(owned_by, or reseller of record), so the read walks its (partner|reseller, status, end date) index in order",
    ("overage/selectors.py", "overage_not_owned_by"):
        "reads the settings other partners own so that they are left out, correlated to a scoped customer",
    ("billing/selectors.py", "blocked_calls_in_months"):
        "calls of the customers of Customer.objects.transacted_by(partner)",
    ("billing/services/usage_import.py", "_import_rows"): "the import task counts the records of its own import",
    ("billing/services/usage_import_copy.py", "_count"): "the COPY lane updates its own import row by pk",
    ("billing/services/usage_engine.py", "customers_for"): "the operator's import (partner None) may name any customer",
    ("billing/selectors.py", "customer_credits"): "the customer is one the page already read through its partner's scope",
    ("subscriptions/services/changes.py", "_decide"): "staff decide a removal request by pk, for any partner (admin)",
    ("billing/usage_selectors.py", "usage_imports_for"):
        "the operator's staff (no partner) see the operator imports they started; partners use owned_by",
    ("subscriptions/services/renewal.py", "due_for_renewal"): "the renewal task, every partner's subscriptions",
    ("subscriptions/services/renewal.py", "renew_subscriptions"): "the renewal task, every partner's subscriptions",
    ("subscriptions/services/renewal.py", "renewal_prices"): "the renewal task reads the renewing customers' markets",
    # Authentication: who the user or token is, before any partner is known.
    ("portal/middleware.py", "_membership"): "finds the signed-in user's own membership (their partner)",
    ("portal/tokens.py", "api_token_create"): "the membership of the user the token is made for",
    ("portal/tokens.py", "api_token_revoke"): "the token being revoked and its user's membership, by pk",
    ("portal/tokens.py", "api_token_authenticate"): "finds the token a request presents: that decides the partner",
    ("billing/usage_lines.py", "usage_line_calls"):
        "the overage interval each of the partner's calls fell in (a subquery correlated to those calls)",
    # Services: the caller scoped the object; the service locks or re-reads it by pk.
    ("subscriptions/services/lifecycle.py", "_lock"): LOCKS,
    ("subscriptions/services/cart.py", "cart_update"): LOCKS,
    ("subscriptions/services/checkout.py", "_checkout_locked"):
        LOCKS + "; the order of that cart, and the customer row locked to serialise checkouts",
    ("subscriptions/services/checkout.py", "_locked_cart"): LOCKS,
    ("subscriptions/services/changes.py", "addon_removal_request_raise"):
        "one request per subscription, of a subscription the caller scoped and this service locked",
    ("subscriptions/services/cart.py", "_live_subscriptions"):
        "counts the customer's live seats of every partner for the SKU limits (values, nothing shown)",
    ("overage/services.py", "_lock_customer"): LOCKS,
    ("overage/services.py", "azure_subscription_create"): LOCKS,
    ("overage/services.py", "overage_transfer_agree"): LOCKS,
    ("overage/services.py", "azure_plan_create"): "the customer's one plan, whoever created it (one plan per customer)",
    ("overage/services.py", "_locked_setting"):
        "the customer's one setting, whoever owns it (overage_update decides who may change it)",
    ("overage/services.py", "_acting_reseller"):
        "the reseller's link among the customer's relationships owned_by(partner)",
    ("overage/services.py", "_reassign"):
        "the customer's one open interval, whoever owns it (overage_update decides who may change it)",
    ("overage/services.py", "overage_transfer_propose"): "the customer's one setting and its open transfer, any party",
    ("overage/services.py", "_agreed_transfer"): "the transfer to the partner the caller names",
    ("overage/services.py", "_resolve_azure_subscription"):
        "looks up the id a partner typed and answers 'unknown' for another partner's (no leak)",
    # Reads of an object the caller already scoped.
    ("catalog/selectors.py", "tenant_active_sku_ids"):
        "the tenant's licenses from every channel, of a customer taken from Customer.objects.transacted_by",
    ("catalog/selectors.py", "addon_prerequisite_rows"):
        "the tenant's licenses from every channel, of a customer taken from Customer.objects.transacted_by",
    ("overage/selectors.py", "OverageState._assignment"):
        "the customer's overage interval, read only when the setting is not another partner's",
    ("overage/selectors.py", "overage_setting"): "the customer's one setting; the page shows another owner as such",
    ("overage/selectors.py", "overage_state"): "whether the customer has a setting at all, whoever owns it",
    ("billing/selectors.py", "blocked_calls_by_customer"):
        "blocked calls have no partner: scoped through Customer.objects.transacted_by(partner)",
    ("subscriptions/api_lookups.py", "_subscriptions"): "seat changes prefetched onto transacted_by rows",
    ("portal/token_views.py", "_render"): "for_user(request.user): narrower than owned_by",
    ("portal/token_views.py", "token_revoke"): "for_user(request.user): narrower than owned_by",
}

ROOT = Path(settings.BASE_DIR).resolve()


def _project_apps():
    return [config for config in apps.get_app_configs() if Path(config.path).resolve().is_relative_to(ROOT)]


def _fk_to_partner_or_customer(model):
    return any(
        field.many_to_one and field.related_model in (Partner, Customer)
        for field in model._meta.get_fields()
        if field.concrete
    )


def _declares_scope(model):
    return any(hasattr(model._default_manager, name) for name in SCOPE_NAMES)


def partner_owned_models():
    # Partner is the tenant itself, not a row a partner owns (its scope is resellers_of).
    return {
        model
        for config in _project_apps()
        for model in config.get_models()
        if model is not Partner and (_declares_scope(model) or _fk_to_partner_or_customer(model))
    }


# Not checked: where the scopes are defined (models), the staff's admin, migrations, management
# commands, background tasks and signal receivers (handed their rows by id), the demo seed.
UNCHECKED_STEMS = {"models", "admin", "admin_actions", "apps", "tasks", "receivers", "rating_tasks"}
UNCHECKED_FOLDERS = {"migrations", "tests", "management", "demo", "models"}


def _is_checked_module(path):
    parts = path.relative_to(ROOT).parts
    return not (UNCHECKED_FOLDERS & set(parts[:-1]) or path.stem in UNCHECKED_STEMS)


def checked_modules():
    for config in _project_apps():
        for path in sorted(Path(config.path).resolve().rglob("*.py")):
            if _is_checked_module(path):
                yield path


class _Finder(ast.NodeVisitor):
    def __init__(self, module, model_names):
        self.module = module
        self.model_names = model_names
        self.function = "<module>"
        self.found = []

    def _visit_function(self, node):
        outer = self.function
        self.function = node.name if outer == "<module>" else f"{outer}.{node.name}"
        self.generic_visit(node)
        self.function = outer

    visit_FunctionDef = visit_AsyncFunctionDef = _visit_function

    def visit_ClassDef(self, node):
        self._visit_function(node)

    def _flag(self, node, what):
        if (self.module, self.function) not in ALLOWED and (self.module, "*") not in ALLOWED:
            self.found.append(f"{self.module}:{node.lineno} in {self.function}: {what}")

    def visit_Call(self, node):
        func = node.func
        # Model.objects.method(...)
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "objects"
            and isinstance(func.value.value, ast.Name)
            and func.value.value.id in self.model_names
            and func.attr not in SCOPE_NAMES | WRITES
        ):
            self._flag(node, f"{func.value.value.id}.objects.{func.attr}() without owned_by/transacted_by")
        # .filter(partner=...), Q(reseller=...)
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in READS:
            for keyword in node.keywords:
                if keyword.arg and PARTNER_FIELDS & set(keyword.arg.split("__")):
                    self._flag(node, f"{name}({keyword.arg}=…) filters by partner by hand")
        self.generic_visit(node)


def scope_bypasses():
    model_names = {model.__name__ for model in partner_owned_models()}
    found = []
    for path in checked_modules():
        module = path.relative_to(ROOT).as_posix()
        finder = _Finder(module, model_names)
        finder.visit(ast.parse(path.read_text(), filename=module))
        found += finder.found
    return found


def test_every_model_with_a_partner_or_customer_declares_a_scope_name():
    missing = [
        model._meta.label
        for model in partner_owned_models()
        if _fk_to_partner_or_customer(model) and not _declares_scope(model)
    ]
    assert missing == [], f"give these models' querysets owned_by(partner) and/or transacted_by(partner): {missing}"


def test_the_check_sees_the_models_and_modules_it_is_about():
    names = {model.__name__ for model in partner_owned_models()}
    assert {"Customer", "Subscription", "Cart", "UsageImport", "RatedCall", "ReconciliationLine"} <= names
    modules = {path.relative_to(ROOT).as_posix() for path in checked_modules()}
    assert {"portal/views.py", "overage/selectors.py", "billing/services/reconciliation.py"} <= modules


def test_views_api_selectors_and_services_read_partner_owned_models_through_a_scope_name():
    found = scope_bypasses()
    assert found == [], (
        "read partner-owned models through .owned_by(partner) or .transacted_by(partner), or add the "
        "function to ALLOWED in tests/test_scope_names.py with the reason it works across partners:\n"
        + "\n".join(found)
    )


def test_the_allow_list_names_only_functions_that_exist_and_need_it():
    model_names = {model.__name__ for model in partner_owned_models()}
    needed = set()
    for path in checked_modules():
        module = path.relative_to(ROOT).as_posix()
        finder = _Finder(module, model_names)
        finder._flag = lambda node, what, f=finder: needed.update({(f.module, f.function), (f.module, "*")})
        finder.visit(ast.parse(path.read_text(), filename=module))
    assert set(ALLOWED) - needed == set(), "these ALLOWED entries no longer bypass a scope: remove them"
