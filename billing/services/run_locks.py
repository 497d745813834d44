"""Locks that say a long job (a rating run, a usage import) is alive, and die with its process.

A status column alone cannot say "running": a process killed with SIGKILL never writes
"failed". So the process doing the work holds a lock for as long as it works, and whoever
reads a "running" job asks whether that lock is still held (SPEC §8, faults):

- PostgreSQL: a session-level advisory lock on the worker's own connection. The server
  releases it the moment the connection ends: process killed, machine gone, connection lost.
- SQLite (one machine by nature): an exclusive ``flock`` on a file beside the database,
  released by the kernel when the process ends.

Both are taken and tested the same way; only the mechanism differs, side by side here.
"""

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path

from django.db import connection

# The two-key form of PostgreSQL's advisory locks: (kind, object id).
RATING_RUN = 0x52415445  # "RATE"
USAGE_IMPORT = 0x494D5054  # "IMPT"
_FILE_PREFIX = {RATING_RUN: "rating-run", USAGE_IMPORT: "usage-import"}

_held_files = {}  # (kind, id) → open file holding the flock, in this process


def _lock_path(kind, object_id):
    name = str(connection.settings_dict["NAME"])
    if "memory" in name:  # an in-memory database (tests) lives in this process only
        name = f"{name}:{os.getpid()}"
    digest = hashlib.sha1(name.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"portal-{digest}-{_FILE_PREFIX[kind]}-{object_id}.lock"


def acquire(kind, object_id):
    """Take the lock of a job this process is about to work on. Returns False when another
    live process holds it."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [kind, object_id])
            return bool(cursor.fetchone()[0])
    if (kind, object_id) in _held_files:
        return True
    handle = open(_lock_path(kind, object_id), "a+")  # noqa: SIM115 - held until release()
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return False
    _held_files[(kind, object_id)] = handle
    return True


def release(kind, object_id):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [kind, object_id])
        return
    handle = _held_files.pop((kind, object_id), None)
    if handle is not None:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
        Path(handle.name).unlink(missing_ok=True)


def is_held(kind, object_id):
    """Whether a live process (this one included) holds the lock of the job."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # A lock this very session holds would be granted again: ask pg_locks instead.
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 2)",
                [kind, object_id],
            )
            return bool(cursor.fetchone()[0])
    if (kind, object_id) in _held_files:
        return True
    path = _lock_path(kind, object_id)
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def forget_process_locks():
    """In a forked child: the parent's file locks are the parent's, not this process's."""
    _held_files.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=forget_process_locks)
