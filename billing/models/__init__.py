"""Communication credits, call rates, call usage, rating and billing months.

Money is ``Decimal`` and never mutated in place: a credit balance is the sum of its ledger.
A call is rated at most once (unique per usage record); re-rating a draft month replaces its
lines, a finalized month never changes (SPEC §8).

A package: ``credits`` (balances and their ledger), ``usage`` (rates, imports, records) and
``rating`` (billing months, runs, rated calls, reconciliation snapshots); every model is
imported here, where Django and the rest of the project find it.
"""

from billing.models.credits import (
    CALLS_OF_NOTE,
    RECHARGE_NOTE,
    CreditAccount,
    CreditAccountQuerySet,
    CreditEntryKind,
    CreditLedgerEntry,
    CreditLedgerEntryQuerySet,
)
from billing.models.rating import (
    CALLS_RATED,
    RUN_DIED,
    RUN_SUPERSEDED,
    BillingMonth,
    BillingMonthStatus,
    RatedCall,
    RatedCallQuerySet,
    RatedCallStatus,
    RatingChunk,
    RatingChunkStatus,
    RatingRun,
    RatingRunStatus,
    ReconciliationLine,
    ReconciliationLineQuerySet,
    StagedCreditEntry,
)
from billing.models.usage import (
    API_BATCH_NAME,
    CallType,
    NumberType,
    Rate,
    UsageImport,
    UsageImportQuerySet,
    UsageImportStatus,
    UsageRecord,
    UsageRecordQuerySet,
)

__all__ = [
    "API_BATCH_NAME",
    "CALLS_OF_NOTE",
    "CALLS_RATED",
    "RECHARGE_NOTE",
    "RUN_DIED",
    "RUN_SUPERSEDED",
    "BillingMonth",
    "BillingMonthStatus",
    "CallType",
    "CreditAccount",
    "CreditAccountQuerySet",
    "CreditEntryKind",
    "CreditLedgerEntry",
    "CreditLedgerEntryQuerySet",
    "NumberType",
    "Rate",
    "RatedCall",
    "RatedCallQuerySet",
    "RatedCallStatus",
    "RatingChunk",
    "RatingChunkStatus",
    "RatingRun",
    "RatingRunStatus",
    "ReconciliationLine",
    "ReconciliationLineQuerySet",
    "StagedCreditEntry",
    "UsageImport",
    "UsageImportQuerySet",
    "UsageImportStatus",
    "UsageRecord",
    "UsageRecordQuerySet",
]
