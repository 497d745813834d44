"""``/v1/usage/records``: call-usage records by API (SPEC §8, §10), for billing roles.

The same rules as a CSV file (``billing.services.usage_import``): idempotent by ``recordId`` (a
record sent again is counted in ``duplicates``), bad items reported by their 0-based index
with the reason while the good ones are imported, and only the caller's own customers
accepted (another partner's tenant is "unknown", like one that does not exist).
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from ninja import Router, Schema

from billing.services.usage_import import usage_import_records
from billing.services.usage_parse import MAX_API_RECORDS
from portal import permissions
from portal.api import ApiError, AttributesOut, attributes, require, responses
from portal.errors import ErrorCode

router = Router(tags=["usage"])

TOO_MANY_RECORDS = _("Send at most %(max)s records per request; this one has %(count)s.")


class UsageRecordsIn(Schema):
    # Items stay untyped here so that one malformed item is reported by its index instead of
    # refusing the whole batch.
    items: list[Any]


class UsageRecordErrorOut(Schema):
    index: int
    recordId: str
    description: str


class UsageRecordBatchOut(Schema):
    totalCount: int
    imported: int
    duplicates: int
    errors: list[UsageRecordErrorOut]
    attributes: AttributesOut


@router.post("/records", response=responses(UsageRecordBatchOut), summary="Send a batch of call-usage records")
def post_usage_records(request, payload: UsageRecordsIn):
    require(request, permissions.USAGE_IMPORT)
    if len(payload.items) > MAX_API_RECORDS:
        raise ApiError(
            ErrorCode.INVALID_INPUT, TOO_MANY_RECORDS % {"max": MAX_API_RECORDS, "count": len(payload.items)}, 400
        )
    result = usage_import_records(records=payload.items, partner=request.partner, acting_user=request.user)
    return {
        "totalCount": result.total,
        "imported": result.imported,
        "duplicates": result.duplicates,
        "errors": result.errors,
        "attributes": attributes("UsageRecordBatchResult"),
    }
