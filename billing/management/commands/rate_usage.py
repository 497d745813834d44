from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from billing.rating_tasks import rate_chunks_task
from billing.services.rating import RatingError, rate_month
from billing.services.rating_finalize import billing_month_finalize
from billing.reconciliation_format import parse_month


class Command(BaseCommand):
    help = "Rate the calls of an ended month (re-rating a draft month replaces its lines); --finalize closes it."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="YYYY-MM")
        parser.add_argument("--finalize", action="store_true", help="finalize the month after rating it")

    def handle(self, *args, **options):
        try:
            month = parse_month(options["month"])
        except ValueError:
            raise CommandError(f"--month must be YYYY-MM, not {options['month']!r}") from None

        def progress(done, total):
            if options["verbosity"] > 1:
                self.stdout.write(f"… {done}/{total}")

        try:
            run = rate_month(month=month, progress=progress, helper_task=rate_chunks_task)
            self.stdout.write(f"{month:%Y-%m}: {run.processed_records} calls rated")
            if options["finalize"]:
                billing_month_finalize(month=month)
                self.stdout.write(f"{month:%Y-%m}: finalized")
        except RatingError as error:
            raise CommandError(error.description) from None
        except DatabaseError as error:
            raise CommandError(
                f"{month:%Y-%m}: the run stopped on a database error and published nothing ({error})."
            ) from None
