"""``export_reconciliation --partner MPN --month YYYY-MM [--output FILE]``: a partner's
reconciliation file for a month (SPEC §9, §12), to standard output unless ``--output``.

The same bytes as the download: a finalized month from its snapshot, an open one live.
"""

import sys

from django.core.management.base import BaseCommand, CommandError

from billing.reconciliation_format import parse_month
from billing.reconciliation_selectors import reconciliation_csv
from portal.models import Partner


class Command(BaseCommand):
    help = "Write a partner's reconciliation CSV for a month (standard output unless --output)."

    def add_arguments(self, parser):
        parser.add_argument("--partner", required=True, help="The partner's MPN id.")
        parser.add_argument("--month", required=True, help="The billing month, YYYY-MM.")
        parser.add_argument("--output", help="Write to this file instead of standard output.")

    def handle(self, *args, partner, month, output=None, **options):
        try:
            first_day = parse_month(month)
        except ValueError:
            raise CommandError(f"Bad --month {month!r}: use YYYY-MM, e.g. 2026-10.") from None
        found = Partner.objects.filter(mpn_id=partner).first()
        if found is None:
            raise CommandError(f"No partner with MPN id {partner!r}.")
        chunks = reconciliation_csv(partner=found, month=first_day)
        if output:
            try:
                with open(output, "w", encoding="utf-8", newline="") as handle:
                    for chunk in chunks:
                        handle.write(chunk)
            except OSError as error:
                raise CommandError(f"Cannot write {output}: {error.strerror}.") from None
        else:
            # Straight to the stream: self.stdout would add a newline after every chunk.
            stream = getattr(self.stdout, "_out", sys.stdout)
            for chunk in chunks:
                stream.write(chunk)
            stream.flush()
