"""``import_usage FILE.csv [--partner MPN]``: import a call-usage CSV (SPEC §8, §12).

Prints the counts (imported, duplicates, errors) and the first errors by line. Exits 0 when
the file was imported, even with bad rows (they are reported); non-zero with a one-line
reason when the file is missing or unreadable, the partner unknown, or the whole file was
refused (a missing column, an empty file, not UTF-8). Without ``--partner`` the import is the
operator's and may name any customer; with it, only that partner's customers.
"""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from billing.models import UsageImportStatus
from billing.services.usage_import import usage_import_file
from billing.services.usage_parse import file_chunks
from billing.usage_selectors import usage_import_error_rows
from portal.models import Partner

ERRORS_SHOWN = 20


class Command(BaseCommand):
    help = "Import call-usage records from a CSV file (idempotent by record_id)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The usage CSV (UTF-8, header on line 1).")
        parser.add_argument("--partner", metavar="MPN", help="Import as this partner: only its customers are accepted.")

    def handle(self, *args, file, partner=None, **options):
        partner_obj = None
        if partner:
            partner_obj = Partner.objects.filter(mpn_id=partner).first()
            if partner_obj is None:
                raise CommandError(f"No partner with MPN id {partner}.")
        verbose = options["verbosity"] > 1
        try:
            fileobj = open(file, "rb")  # noqa: SIM115 - closed below, after streaming
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}.") from None
        with fileobj:
            if os.path.isdir(file):
                raise CommandError(f"Cannot read {file}: it is a directory.")
            try:
                usage_import = usage_import_file(
                    fileobj_chunks=file_chunks(fileobj),
                    file_name=os.path.basename(file),
                    partner=partner_obj,
                    progress=(lambda done: self.stderr.write(f"{done} rows processed")) if verbose else None,
                )
            except DatabaseError as exc:  # the import is marked failed, with what it committed
                raise CommandError(f"{file}: the import stopped on a database error ({exc}).") from None
        if usage_import.status == UsageImportStatus.FAILED:
            reason = usage_import.errors[0]["reason"] if usage_import.errors else "the import failed"
            raise CommandError(f"{file}: {reason}")
        error_rows = usage_import_error_rows(usage_import)
        self.stdout.write(
            f"Imported {usage_import.imported_rows}, duplicates {usage_import.duplicate_rows}, "
            f"errors {error_rows} (of {usage_import.total_rows} rows; import #{usage_import.pk})."
        )
        for error in usage_import.errors[:ERRORS_SHOWN]:
            self.stdout.write(f"line {error['line']}: {error['reason']}")
        if error_rows > ERRORS_SHOWN:
            self.stdout.write(f"… and {error_rows - ERRORS_SHOWN} more errors.")
