"""Reading usage imports (SPEC §8): which imports a person may see, and how many rows one
refused."""

from billing.models import UsageImport, UsageImportStatus


def usage_imports_for(user, partner):
    """The imports a person may see: their partner's, or for the operator's staff without a
    partner, the operator imports they started."""
    if partner is not None:
        return UsageImport.objects.owned_by(partner)
    if user.is_staff:
        return UsageImport.objects.filter(partner__isnull=True, created_by=user)
    return UsageImport.objects.none()


def usage_import_error_rows(usage_import):
    """How many rows were rejected (the stored list keeps at most ``MAX_STORED_ERRORS``)."""
    if usage_import.status == UsageImportStatus.FAILED and not usage_import.processed_rows:
        return len(usage_import.errors or [])
    return max(usage_import.processed_rows - usage_import.imported_rows - usage_import.duplicate_rows, 0)
