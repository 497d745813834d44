"""The upload preview (SPEC §8): the first rows of a file checked by the import's own engine
(validation, tenant scoping, duplicates), nothing written."""

from dataclasses import dataclass, field

from billing.services.usage_engine import Importer
from billing.services.usage_parse import COLUMNS, UsageFileError, csv_rows


@dataclass
class UsagePreview:
    """The first rows of a file as the import would see them, and the counts so far."""

    rows: list = field(default_factory=list)  # (line, values dict, reason or "")
    scanned: int = 0
    valid: int = 0
    already_imported: int = 0
    invalid: int = 0
    errors: list = field(default_factory=list)
    file_error: str = ""
    complete: bool = False  # the whole file was scanned


def usage_preview(*, fileobj_chunks, partner=None, show_rows=20, scan_rows=1000):
    """Check the first ``scan_rows`` rows of a file without writing: the same validation,
    tenant scoping and duplicate rules as the import. ``show_rows`` rows come back with
    their outcome for the preview table."""
    preview = UsagePreview()
    importer = Importer(partner=partner)
    shown = []
    try:
        rows = csv_rows(fileobj_chunks)
        for line, values in rows:
            if preview.scanned >= scan_rows:
                break
            preview.scanned += 1
            if len(shown) < show_rows:
                shown.append((line, values))
            importer.add(line, values)
        else:
            preview.complete = True
        importer.flush()
    except UsageFileError as exc:
        preview.file_error = exc.reason
        return preview
    reasons = {error["line"]: error["reason"] for error in importer.errors}
    preview.rows = [
        (line, dict(zip(COLUMNS, values)) if not isinstance(values, str) else {}, reasons.get(line, ""))
        for line, values in shown
    ]
    preview.valid = importer.imported + importer.duplicates
    preview.already_imported = importer.duplicates
    preview.invalid = importer.error_rows
    preview.errors = importer.errors
    return preview
