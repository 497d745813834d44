"""Log lines that say whose work they belong to (README, "Production: logs").

- Every line written while a request is served carries that request's id (the one the portal
  answers in ``MS-RequestId``), and once known its user (id) and partner (MPN id): the request
  middleware and the API's token auth bind them with ``log_context_bind``; a handler's
  ``RequestContextFilter`` copies them onto each record.
- One ``portal.request`` line per request (method, path, status, duration) and one
  ``portal.task`` line per task run (task, status, duration; a worker's task lines carry the
  task result's id as their request id).
- ``LOG_FORMAT=json`` writes each line as one JSON object (``JsonFormatter``).

This module is imported by the logging configuration, before the apps are ready: no models.
"""

import contextvars
import json
import logging
import time
from contextlib import contextmanager
from datetime import UTC, datetime

CONTEXT_FIELDS = ("request_id", "user", "partner")
# Extra fields a line may carry, in the order a JSON line shows them.
LINE_FIELDS = ("method", "path", "status", "duration_ms", "task")

_context = contextvars.ContextVar("portal_log_context", default=None)

request_logger = logging.getLogger("portal.request")
task_logger = logging.getLogger("portal.task")


def log_context_bind(**fields):
    """Add ``fields`` (request_id, user, partner) to the lines of the current request or task."""
    current = _context.get()
    if current is not None:
        current.update({k: v for k, v in fields.items() if v is not None})


@contextmanager
def log_context(**fields):
    """The scope of one request or task: lines logged inside carry ``fields`` and what is bound."""
    token = _context.set(dict(fields))
    try:
        yield
    finally:
        _context.reset(token)


def current_log_context():
    return dict(_context.get() or {})


class RequestContextFilter(logging.Filter):
    """Copies the current request's id, user and partner onto every record (empty outside one)."""

    def filter(self, record):
        context = _context.get() or {}
        for field in CONTEXT_FIELDS:
            if not hasattr(record, field):
                setattr(record, field, context.get(field, ""))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id, user,
    partner, then the line's own fields (method, path, status, duration_ms, task) and any
    exception."""

    def format(self, record):
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            data[field] = getattr(record, field, "")
        for field in LINE_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                data[field] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        # ASCII only: a U+2028 or U+0085 in a path would split the line for readers using
        # str.splitlines (honcho among them).
        return json.dumps(data, default=str)


def log_request_line(*, method, path, status, started):
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
    request_logger.log(
        level,
        "%s %s %s %.1fms",
        method,
        path,
        status,
        duration_ms,
        extra={"method": method, "path": path, "status": status, "duration_ms": duration_ms},
    )


# --- Tasks (django.tasks signals; connected in PortalConfig.ready) -------------------------------

_task_scopes = {}


def on_task_started(sender, task_result, **kwargs):
    # In a worker there is no request: the task result's id stands for one. A task the immediate
    # backend runs inside a request keeps that request's id.
    if _context.get() is None:
        scope = log_context(request_id=str(task_result.id))
        scope.__enter__()
        _task_scopes[task_result.id] = scope


def on_task_finished(sender, task_result, **kwargs):
    started, finished = task_result.started_at, task_result.finished_at
    duration_ms = round((finished - started).total_seconds() * 1000, 1) if started and finished else None
    status = str(getattr(task_result.status, "value", task_result.status))
    task = task_result.task.module_path
    try:
        task_logger.log(
            logging.ERROR if status == "FAILED" else logging.INFO,
            "task %s %s",
            task,
            status,
            extra={"task": task, "path": task, "status": status, "duration_ms": duration_ms},
        )
    finally:
        scope = _task_scopes.pop(task_result.id, None)
        if scope is not None:
            scope.__exit__(None, None, None)
