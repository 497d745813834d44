"""Background work of the billing app's usage import (Django's tasks framework). Rating
tasks live in ``billing/rating_tasks.py``."""

import time
import uuid

from django.conf import settings
from django.tasks import task

from billing.models import UsageImport, UsageImportStatus
from billing.services.usage_import import usage_import_file
from billing.services.usage_parse import file_chunks


def upload_dir():
    """Where uploaded usage files wait between the preview and the import."""
    path = settings.BASE_DIR / "var" / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def upload_path(token):
    """The saved upload named by ``token`` (a server-made hex id, never a user's path)."""
    if not token.isalnum():
        raise ValueError("bad upload token")
    return upload_dir() / f"usage-{token}.csv"


STALE_UPLOAD_SECONDS = 24 * 3600


def save_upload(upload):
    """Copy an uploaded file under ``var/uploads`` chunk by chunk; returns its token. Files
    left by previews nobody confirmed are removed after a day."""
    cutoff = time.time() - STALE_UPLOAD_SECONDS
    for stale in upload_dir().glob("usage-*.csv"):
        if stale.stat().st_mtime < cutoff:
            stale.unlink(missing_ok=True)
    token = uuid.uuid4().hex
    with upload_path(token).open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return token


@task
def import_usage_upload(usage_import_id: int, upload_token: str) -> dict:
    """Import a saved upload into its pending ``UsageImport``, then delete the file. A task
    that finds its import already started does nothing (a redelivered task is harmless)."""
    usage_import = UsageImport.objects.select_related("partner", "created_by").get(pk=usage_import_id)
    path = upload_path(upload_token)
    if usage_import.status != UsageImportStatus.PENDING:
        return {"status": usage_import.status}
    try:
        with path.open("rb") as fileobj:
            usage_import_file(
                fileobj_chunks=file_chunks(fileobj),
                file_name=usage_import.file_name,
                partner=usage_import.partner,
                acting_user=usage_import.created_by,
                usage_import=usage_import,
            )
    finally:
        path.unlink(missing_ok=True)
    return {
        "status": usage_import.status,
        "imported": usage_import.imported_rows,
        "duplicates": usage_import.duplicate_rows,
    }
