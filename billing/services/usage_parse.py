"""The usage file's rules (SPEC §8): its columns, the limits of each field, every message a
person reads about a refused row or file, the streamed CSV reader and the row checks. Shared
by the import (``usage_import``), its COPY lane (``usage_import_copy``) and the preview."""

import codecs
import csv
import datetime as dt
import io
import re
from operator import itemgetter

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import CallType, NumberType, UsageRecord
from portal.errors import PortalError
from portal.text import stored_text_in_language

BATCH_SIZE = 10000
MAX_STORED_ERRORS = 1000
MAX_API_RECORDS = 10_000
CHUNK_SIZE = 64 * 1024

# Canonical column order of a record; the CSV may order its columns freely.
COLUMNS = (
    "record_id",
    "tenant_id",
    "user",
    "start_time",
    "duration_seconds",
    "call_type",
    "destination_country",
    "number_type",
)
# The API's camelCase names, in the same order.
API_FIELDS = (
    "recordId",
    "tenantId",
    "user",
    "startTime",
    "durationSeconds",
    "callType",
    "destinationCountry",
    "numberType",
)

MAX_DURATION = 24 * 3600  # no call lasts more than a day: a longer one is a carrier's error
# No month of a call before 2000 or after tomorrow can ever be rated: refused at the door.
EARLIEST_CALL = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FUTURE_TOLERANCE = dt.timedelta(days=1)
RECORD_ID_MAX = UsageRecord._meta.get_field("record_id").max_length
USER_MAX = UsageRecord._meta.get_field("user").max_length
CALL_TYPES = frozenset(CallType.values)
NUMBER_TYPES = frozenset(NumberType.values)

# User-facing reasons (tests import them).
MISSING_COLUMNS = _("Missing required column(s): %(columns)s. Nothing was imported.")
EMPTY_FILE = _("The file is empty: it needs a header line naming the columns. Nothing was imported.")
BAD_ENCODING = _(
    "The file is not UTF-8 text (undecodable bytes near line %(line)s). Save it as CSV UTF-8 and "
    "upload it again. Nothing was imported."
)
UNREADABLE_CSV = _("This line could not be read as CSV: %(error)s.")
BLANK_FIELD = _("%(field)s is blank.")
TOO_LONG = _("%(field)s is longer than %(max)s characters.")
BAD_DATE = _("start_time “%(value)s” is not an ISO 8601 date and time (e.g. 2025-01-31T14:05:00Z).")
BAD_DURATION = _("duration_seconds “%(value)s” is not a whole number of seconds.")
NEGATIVE_DURATION = _("duration_seconds %(value)s is negative.")
DURATION_TOO_LARGE = _("duration_seconds %(value)s is more than 24 hours (86400 seconds).")
CALL_TOO_OLD = _("start_time %(value)s is before 2000-01-01.")
CALL_IN_FUTURE = _("start_time %(value)s is more than one day in the future.")
CONTROL_CHARACTER = _("%(field)s contains a NUL or another control character.")
UNKNOWN_CALL_TYPE = _("Unknown call_type “%(value)s” (expected one of: %(choices)s).")
UNKNOWN_NUMBER_TYPE = _("Unknown number_type “%(value)s” (expected one of: %(choices)s).")
BAD_COUNTRY = _("destination_country “%(value)s” is not a two-letter country code.")
UNKNOWN_TENANT = _("Unknown tenant “%(value)s”.")
DUPLICATE_OF_LINE = _("Duplicate of line %(line)s (record_id “%(record_id)s”).")
DUPLICATE_OF_ITEM = _("Duplicate of item %(line)s (recordId “%(record_id)s”).")
NOT_AN_OBJECT = _("The item is not a JSON object.")
INTERNAL_FAILURE = _("The import stopped on an internal error; the rows counted above were imported.")
PROCESS_DIED = _("The import stopped before the end (its process ended); the rows counted above were imported.")

# Every text an import stores as a line's reason (usage_error_text shows it translated).
USAGE_ERROR_MESSAGES = (
    MISSING_COLUMNS, EMPTY_FILE, BAD_ENCODING, UNREADABLE_CSV, BLANK_FIELD, TOO_LONG, BAD_DATE, BAD_DURATION,
    NEGATIVE_DURATION, DURATION_TOO_LARGE, CALL_TOO_OLD, CALL_IN_FUTURE, CONTROL_CHARACTER, UNKNOWN_CALL_TYPE,
    UNKNOWN_NUMBER_TYPE, BAD_COUNTRY, UNKNOWN_TENANT, DUPLICATE_OF_LINE, DUPLICATE_OF_ITEM, NOT_AN_OBJECT,
    INTERNAL_FAILURE, PROCESS_DIED,
)


def usage_error_text(reason):
    """A stored (English) reason in the reader's language; one made from no message as stored."""
    return stored_text_in_language(reason, USAGE_ERROR_MESSAGES)


class UsageImportError(PortalError):
    """An import cannot run (already run, or a file-level failure that imports nothing)."""

    def __init__(self, description, **kwargs):
        super().__init__(description=description, **kwargs)


class UsageFileError(UsageImportError):
    """The whole file is refused: a missing column, an empty file or a wrong encoding."""

    def __init__(self, reason, line=1):
        self.reason = str(reason)
        self.line = line
        super().__init__(self.reason)


# --- Reading ------------------------------------------------------------------------------


class _ChunkStream(io.RawIOBase):
    """A read-only binary stream over an iterable of byte chunks (an upload's ``chunks()``,
    an open file read in blocks), so the text layer decodes as it reads, block by block."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def file_chunks(fileobj, size=CHUNK_SIZE):
    """Blocks of an open binary file, for ``fileobj_chunks`` (never the whole file at once)."""
    return iter(lambda: fileobj.read(size), b"")


def csv_rows(fileobj_chunks):
    """Yield ``(line, values)`` for each data row, ``values`` in ``COLUMNS`` order. The header
    (line 1) is matched by name, case-insensitively; a UTF-8 BOM is accepted. Raises
    ``UsageFileError`` for an empty file, missing columns or bytes that are not UTF-8 (an
    ``UnicodeDecodeError`` while decoding becomes one, naming the line reached)."""
    text = io.TextIOWrapper(
        io.BufferedReader(_ChunkStream(fileobj_chunks), CHUNK_SIZE), encoding="utf-8-sig", newline=""
    )
    reader = csv.reader(text)
    try:
        try:
            header = next(reader)
        except StopIteration:
            raise UsageFileError(EMPTY_FILE) from None
        names = [name.strip().lower() for name in header]
        missing = [column for column in COLUMNS if column not in names]
        if missing:
            raise UsageFileError(MISSING_COLUMNS % {"columns": ", ".join(missing)})
        positions = [names.index(column) for column in COLUMNS]
        pick = itemgetter(*positions)
        width = max(positions) + 1
        last_line = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line, last_line = last_line + 1, reader.line_num
                yield line, UNREADABLE_CSV % {"error": exc}
                continue
            # A record's line is where it starts (a quoted field may span lines).
            line, last_line = last_line + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank lines are not rows
            if len(row) < width:
                row = row + [""] * (width - len(row))
            yield line, pick(row)
    except UnicodeDecodeError:
        raise UsageFileError(BAD_ENCODING % {"line": reader.line_num + 1}, line=reader.line_num + 1) from None


# --- Validation ---------------------------------------------------------------------------


def _parse_start(value):
    started = dt.datetime.fromisoformat(value)
    if started.tzinfo is dt.UTC:  # "…Z", the common case
        return started
    if started.tzinfo is None:
        return started.replace(tzinfo=dt.UTC)
    return started.astimezone(dt.UTC)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Whitespace or a control character in a free-text field sends a row the long way round.
_UNUSUAL = re.compile(r"[\s\x00-\x1f\x7f]")


def latest_call_start():
    """The latest start a call may have: one day from now."""
    return timezone.now() + FUTURE_TOLERANCE


def check_row(values, latest=None):
    """``(record, None)`` for a good row, ``(None, reason)`` otherwise. ``record`` is
    ``(record_id, tenant, user, started_at, duration, call_type, country, number_type)`` with
    the tenant still as written: it is resolved per batch. ``latest``: ``latest_call_start()``,
    computed once per batch by the caller.

    A million rows a file: a good row takes the short path (one test per field, as it came,
    no message built); any doubt (whitespace to strip included) goes to ``_reasons``, which
    names every problem of the row."""
    record_id, tenant, user, start, duration, call_type, country, number_type = values
    if (
        record_id and tenant and user
        and call_type in CALL_TYPES and number_type in NUMBER_TYPES
        and len(record_id) <= RECORD_ID_MAX and len(user) <= USER_MAX
        and duration.isascii() and duration.isdigit()
        and len(country) == 2 and country.isascii() and country.isalpha()
        and _UNUSUAL.search(record_id + tenant + user) is None
    ):
        seconds = int(duration)
        try:
            started = _parse_start(start)
        except (ValueError, OverflowError):
            started = None
        if seconds <= MAX_DURATION and started is not None and EARLIEST_CALL <= started <= (latest or latest_call_start()):
            return (record_id, tenant, user, started, seconds, call_type, country.upper(), number_type), None
    return _check_slowly([v.strip() for v in values], latest or latest_call_start())


def _check_slowly(values, latest):
    """A row the short path of ``check_row`` did not take, stripped: its record, or every problem
    of the row in one line."""
    values = [v.strip() for v in values]
    controls = [name for name, value in zip(COLUMNS, values) if _CONTROL.search(value)]
    if controls:
        # Refused whole: a NUL can be stored by no database, and no field has a use for one.
        return None, "; ".join(str(CONTROL_CHARACTER % {"field": name}) for name in controls)
    record_id, tenant, user, start, duration, call_type, country, number_type = values
    blank = [name for name, value in zip(COLUMNS, (record_id, tenant, user, start, duration, call_type, country, number_type)) if not value]
    if blank:
        return None, "; ".join(str(BLANK_FIELD % {"field": name}) for name in blank)
    problems = []
    if len(record_id) > RECORD_ID_MAX:
        problems.append(TOO_LONG % {"field": "record_id", "max": RECORD_ID_MAX})
    if len(user) > USER_MAX:
        problems.append(TOO_LONG % {"field": "user", "max": USER_MAX})
    try:
        started = _parse_start(start)
    except (ValueError, OverflowError):  # overflow: a time zone pushing year 1 or 9999 out of range
        started = None
        problems.append(BAD_DATE % {"value": start[:40]})
    else:
        if started < EARLIEST_CALL:
            problems.append(CALL_TOO_OLD % {"value": start[:40]})
        elif started > latest:
            problems.append(CALL_IN_FUTURE % {"value": start[:40]})
    seconds = None
    if duration.isascii() and duration.isdigit():
        seconds = int(duration)
        if seconds > MAX_DURATION:
            problems.append(DURATION_TOO_LARGE % {"value": duration[:20]})
    elif duration.startswith("-") and duration[1:].isascii() and duration[1:].isdigit():
        problems.append(NEGATIVE_DURATION % {"value": duration[:20]})
    else:
        problems.append(BAD_DURATION % {"value": duration[:20]})
    if call_type not in CALL_TYPES:
        problems.append(UNKNOWN_CALL_TYPE % {"value": call_type[:40], "choices": ", ".join(CallType.values)})
    if number_type not in NUMBER_TYPES:
        problems.append(UNKNOWN_NUMBER_TYPE % {"value": number_type[:40], "choices": ", ".join(NumberType.values)})
    if len(country) != 2 or not country.isascii() or not country.isalpha():
        problems.append(BAD_COUNTRY % {"value": country[:40]})
    if problems:
        return None, "; ".join(str(p) for p in problems)
    return (record_id, tenant, user, started, seconds, call_type, country.upper(), number_type), None


def usage_check_encoding(*, fileobj_chunks):
    """Count the lines of a file while checking that all of it is UTF-8 (streamed); raises
    ``UsageFileError`` with the line of the first undecodable bytes."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    for chunk in fileobj_chunks:
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError:
            raise UsageFileError(BAD_ENCODING % {"line": lines + 1}, line=lines + 1) from None
        lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise UsageFileError(BAD_ENCODING % {"line": lines + 1}, line=lines + 1) from None
    return lines
