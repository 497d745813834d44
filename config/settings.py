"""Settings, read from the environment.

DATABASE_URL   default: SQLite under var/ (the embedded demo database)
SECRET_KEY     required when DEBUG is off
DEBUG          "1"/"true" to enable (default on for the embedded setup, off in production)
ALLOWED_HOSTS  comma-separated
TASKS_BACKEND  "immediate" (default) or "database" (django-tasks-db, run `manage.py db_worker`)

The production settings (HTTPS, HSTS, sessions, log format, lock-out and API throttle rates)
are read further down, each with its variable; README's "Production" lists them all.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# The embedded demo's own key (``make run`` runs with DEBUG off and no DATABASE_URL): the
# Makefile makes it once (target var/secret_key) beside the SQLite database, so sessions
# survive a restart.
EMBEDDED_SECRET_KEY_FILE = BASE_DIR / "var" / "secret_key"

DEBUG = env_bool("DEBUG", default="DATABASE_URL" not in os.environ)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "insecure-development-key-do-not-use-in-production"
    elif "DATABASE_URL" not in os.environ and EMBEDDED_SECRET_KEY_FILE.exists():
        SECRET_KEY = EMBEDDED_SECRET_KEY_FILE.read_text().strip()
    else:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (`make run` makes var/secret_key for the demo).")

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_filters",
    "crispy_forms",
    "crispy_bootstrap5",
    "bootstrap",
    "django_tasks_db",
    # Serves /v1/docs from the wheel's static files (without it, django-ninja loads Swagger UI
    # from a CDN, which the users' networks cannot reach and the CSP refuses).
    "ninja",
    "axes",
    "portal",
    "catalog",
    "subscriptions",
    "overage",
    "billing",
    # Above every domain app: it reads their selectors; none imports it.
    "dashboard",
    # Above every domain app: the demo data and its commands (seed_demo, demo_logins).
    "demo",
]

MIDDLEWARE = [
    # First, so every log line of a request (other middleware's too) carries its request id.
    "portal.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.CurrentPartnerMiddleware",
    "portal.middleware.UserPreferenceMiddleware",
    "portal.middleware.RejectControlCharactersMiddleware",
    # Last: turns a locked-out login into the lock-out page (portal.security.lockout_response).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "portal.context_processors.partner",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'var' / 'portal.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite: no persistent connections; wait for the write lock instead of failing at once.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    # The portal reads server-side cursors (QuerySet.iterator()) to the end: plan them for the
    # whole result, not PostgreSQL's default of the first 10 %, which picks nested loops that
    # made the month's reconciliation file take minutes instead of seconds.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c cursor_tuple_fraction=1.0")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # Refuses a locked-out user or address before the password is even checked (django-axes).
    "portal.security.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("it", _("Italian"))]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            # The embedded run serves static files without a manifest (the tests too: tests/settings.py).
            if DEBUG or env_bool("PLAIN_STATIC_STORAGE")
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# The embedded demo (make run) serves static files straight from the apps: no collectstatic
# (the Makefile makes the empty STATIC_ROOT, which whitenoise warns about when missing).
WHITENOISE_USE_FINDERS = DEBUG or env_bool("PLAIN_STATIC_STORAGE")

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

TASKS = {
    "default": {
        "BACKEND": (
            "django_tasks_db.DatabaseBackend"
            if os.environ.get("TASKS_BACKEND", "immediate") == "database"
            else "django.tasks.backends.immediate.ImmediateBackend"
        )
    }
}

MESSAGE_TAGS = {40: "danger"}

# Partner Center rules that are policy rather than law: kept in one place.
PORTAL_CANCELLATION_WINDOW_HOURS = 168
PORTAL_CART_LIFETIME_DAYS = 7

# Rating (billing/services/rating.py): a month is rated in chunks of about this many calls;
# on PostgreSQL the coordinating process rates RATING_CONCURRENCY chunks side by side, and
# with the database task backend it lets up to RATING_HELPER_TASKS db_worker tasks take
# chunks too.
RATING_CHUNK_CALLS = int(os.environ.get("RATING_CHUNK_CALLS", "100000"))
RATING_CONCURRENCY = int(os.environ.get("RATING_CONCURRENCY", "2"))
RATING_HELPER_TASKS = int(os.environ.get("RATING_HELPER_TASKS", "8"))

# LOG_FORMAT "json": one JSON object a line (time, level, logger, message, request id, user,
# partner; the request and task lines add path, status and duration). Anything else: text.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "portal.logs.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "portal.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_context"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own per-request warnings repeat what portal.request already says.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
    },
}

# A request body Django reads into memory: the usage API's largest batch (10 000 records, about
# 3 MB of JSON) must fit; a larger body is a 413 (config.api). Files upload apart from it.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- HTTPS, cookies, sessions ----------------------------------------------------------------
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    # The switcher's language cookie too (no script reads it).
    LANGUAGE_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    LANGUAGE_COOKIE_HTTPONLY = True
# "Header-Name: value" your TLS proxy sets on https requests; empty: trust no header.
_proxy_ssl_header = os.environ.get("SECURE_PROXY_SSL_HEADER", "" if DEBUG else "X-Forwarded-Proto: https")
if _proxy_ssl_header.strip():
    _header, _, _value = _proxy_ssl_header.partition(":")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _header.strip().upper().replace("-", "_"), _value.strip())
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# A load balancer's health check speaks plain HTTP to the instance.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(8 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
# Behind N proxies that append to X-Forwarded-For, the client is the Nth address from the right;
# 0 (default) uses the connection's address. Lock-out and API throttling both key on it.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

# --- Content-Security-Policy (Django's own middleware) --------------------------------------------
# No inline script or style anywhere: scripts and styles come from /static/ (whitenoise);
# htmx's and Django admin's tags carry the request's nonce. Bootstrap draws some icons with
# data: SVG images in its CSS.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

# --- Caches (API throttling counts) ---------------------------------------------------------------
# CACHE_BACKEND "database" (shared by every web process: `manage.py createcachetable`, which
# `make prod` runs) or "locmem" (one process: the embedded demo; the tests: tests/settings.py).
_cache_backend = os.environ.get("CACHE_BACKEND", "locmem" if DEBUG or "DATABASE_URL" not in os.environ else "database")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "portal_cache"}
        if _cache_backend == "database"
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Login lock-out (django-axes) -----------------------------------------------------------------
# LOGIN_FAILURE_LIMIT wrong passwords for one username, or from one address, lock that username
# or address out for LOGIN_LOCKOUT_MINUTES (each further try restarts the wait). Staff unlock
# by deleting the "access attempt" rows in Django admin (Axes › Access attempts).
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Not reset by a success: a success from the same address would wipe the count of another username.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "portal.security.lockout_response"
AXES_CLIENT_IP_CALLABLE = "portal.security.client_ip"
AXES_USERNAME_FORM_FIELD = "username"
AXES_VERBOSE = False

# --- API throttling (portal.throttles) --------------------------------------------------------------
# "N/period" (s, min, hour, day). Over a rate the API answers 429 with Retry-After.
API_THROTTLE_RATES = {
    # every call made with one token
    "token": os.environ.get("API_THROTTLE_TOKEN", "600/min"),
    # every call from one address, before its token is even read
    "address": os.environ.get("API_THROTTLE_ADDRESS", "1200/min"),
    # calls from one address whose token is missing, unknown or revoked
    "auth_failure": os.environ.get("API_THROTTLE_AUTH_FAILURE", "10/min"),
}
