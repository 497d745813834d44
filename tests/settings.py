"""The test suite's settings (pyproject's DJANGO_SETTINGS_MODULE): the project's
``config.settings``, plus what only the tests need. Subprocesses the tests start (manage.py
commands) inherit DJANGO_SETTINGS_MODULE and so these settings too."""

import os

# A suite run against PostgreSQL (DATABASE_URL set, so DEBUG defaults off) needs no real key.
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")

from config.settings import *  # noqa: E402, F403

# Static files are served without a manifest: no collectstatic before a test run.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
# No STATIC_ROOT to scan (the suite never collects): whitenoise would warn that it is missing.
STATIC_ROOT = None
# One process: the API throttles count in memory (conftest clears the cache around each test).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# manage.py commands the tests start (subprocesses inheriting these settings) read an empty
# in-memory SQLite database, never the demo's var/portal.sqlite3 (the suite's own test
# database is in memory either way).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["NAME"] = ":memory:"  # noqa: F405
