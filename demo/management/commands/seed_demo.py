"""``manage.py seed_demo [--if-empty]``: load the demo data of SPEC §13 (idempotent)."""

from django.core.management.base import BaseCommand

from demo.loader import load_demo
from portal.models import Partner


class Command(BaseCommand):
    help = "Load the demo partners, users, customers, catalog, subscriptions, overage, credits, rates and usage."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when the database already holds a partner (used by `make run`).",
        )

    def handle(self, *args, if_empty=False, **options):
        if if_empty and Partner.objects.exists():
            self.stdout.write("Partners already exist: demo data not loaded (--if-empty).")
            return
        summary = load_demo()
        clock = summary["clock"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {summary['partners']} partners, {summary['users']} users, "
                f"{summary['customers']} customers, {summary['skus']} SKUs, {summary['rates']} rates."
            )
        )
        self.stdout.write(
            f"Created {summary['new_subscriptions']} subscriptions (bought {clock.purchase_date:%Y-%m-%d}) and "
            f"{summary['new_usage_records']} usage records for {clock.usage_month:%Y-%m}; "
            f"rated {summary['rated_calls']} calls (the month stays open)."
        )
