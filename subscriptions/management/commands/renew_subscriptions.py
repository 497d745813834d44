from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from subscriptions.services.renewal import renew_subscriptions


def iso_date(value):
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be YYYY-MM-DD, not {value!r}") from None


class Command(BaseCommand):
    help = "Renew (auto-renew on) or expire (off) every subscription whose term ended before the date (default today)."

    def add_arguments(self, parser):
        parser.add_argument("--date", type=str, default=None, help="YYYY-MM-DD, default: today (UTC)")

    def handle(self, *args, **options):
        on_date = iso_date(options["date"]) if options["date"] else timezone.localdate()

        def progress(renewed, expired):
            if options["verbosity"] > 1:
                self.stdout.write(f"… {renewed} renewed, {expired} expired")

        renewed, expired = renew_subscriptions(on_date=on_date, progress=progress)
        self.stdout.write(f"{on_date}: {renewed} renewed, {expired} expired")
