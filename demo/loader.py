"""``load_demo``: the whole of SPEC §13 in one transaction. Called by ``manage.py seed_demo``."""

from django.db import transaction
from django.utils import timezone

from .catalog import build_catalog
from .clock import DemoClock
from .overage import build_azure_plans, build_credits, build_overage
from .partners import USERS, build_customers, build_partners, build_users
from .sales import build_other_licenses, build_purchases
from .usage import build_rates, build_usage


def _actors(users):
    """Per partner key, the admin recorded as acting in that partner's demo purchases."""
    actors = {}
    for email, _, partner_key, roles in USERS:
        if partner_key not in actors and {"global_admin", "admin_agent"} & {str(r) for r in roles}:
            actors[partner_key] = users[email]
    return actors


def load_demo(*, today=None):
    """Create whatever part of the demo data is missing and return a summary of counts.

    Idempotent: natural keys and ``uuid5`` ids find what an earlier run made, so a second
    run adds no rows. All-or-nothing: one transaction.
    """
    clock = DemoClock(today=today or timezone.localdate())
    with transaction.atomic():
        partners = build_partners()
        users = build_users(partners)
        actors = _actors(users)
        customers = build_customers(partners)
        skus = build_catalog(clock)
        build_other_licenses(customers, skus)
        new_subscriptions = build_purchases(clock, partners=partners, customers=customers, skus=skus, actors=actors)
        azure_subscriptions = build_azure_plans(
            clock, partners=partners, customers=customers, skus=skus, actors=actors
        )
        build_overage(clock, partners=partners, customers=customers, azure_subscriptions=azure_subscriptions,
                      actors=actors)
        build_credits(clock, customers=customers, actors_by_customer={"fourthcoffee": actors["fabrikam"]})
        rates = build_rates(clock)
        new_usage = build_usage(clock, customers=customers, skus=skus)
    rated = _rate_usage_month(clock)
    return {
        "clock": clock,
        "partners": len(partners),
        "users": len(users),
        "customers": len(customers),
        "skus": len(skus),
        "new_subscriptions": new_subscriptions,
        "rates": rates,
        "new_usage_records": new_usage,
        "rated_calls": rated,
    }


def _rate_usage_month(clock):
    """Rate the demo month once (left open, so staff can re-rate or finalize it), so the
    billing pages show overage, credit draws and blocked calls from the first visit."""
    from billing.models import BillingMonth, RatedCall
    from billing.services.rating import rate_month

    if RatedCall.objects.billed_in(clock.usage_month).exists():
        return 0
    if BillingMonth.objects.filter(month=clock.usage_month, status="finalized").exists():
        return 0
    return rate_month(month=clock.usage_month).processed_records
