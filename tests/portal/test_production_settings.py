"""Production settings (issue 11, item 7 and the envelope), each in a fresh process with the
environment it is documented with:

- README's production environment makes ``manage.py check --deploy`` print no warning;
- the HTTPS, HSTS, proxy header and session settings come from that environment;
- ``make run``'s demo environment shows the portal's own 404 page, not Django's debug page;
- the Procfile runs gunicorn and the task worker.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_production_env():
    """The ``env`` block of README's Production section, as a dict; a ``<…>`` placeholder
    (the secret key) becomes a fresh random value, as the README tells the operator to make."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Production") :]
    block = re.search(r"```env\n(.*?)```", section, re.S).group(1)
    env = {}
    for line in block.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = secrets.token_urlsafe(50) if value.startswith("<") else value.strip()
    return env


def run_django(env, code):
    """Run ``code`` after django.setup() in a new process whose environment is the machine's
    without this test run's Django variables, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_", "DATABASE_URL", "DEBUG", "SECRET_KEY", "SECURE_", "LOG_"))}
    script = "import django; django.setup()\n" + code
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


CHECK_DEPLOY = """
from django.core.management import call_command
call_command("check", deploy=True, fail_level="WARNING")
"""


def test_readme_production_environment_passes_check_deploy_without_a_warning():
    env = readme_production_env()
    assert {"SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_AGE"} <= set(env)
    result = run_django(env, CHECK_DEPLOY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


@pytest.mark.parametrize(("left_out", "warning"), [("SECURE_SSL_REDIRECT", "security.W008"), ("SECURE_HSTS_SECONDS", "security.W004")])
def test_check_deploy_warns_without_the_https_settings(left_out, warning):
    env = readme_production_env()
    del env[left_out]
    result = run_django(env, CHECK_DEPLOY)
    assert result.returncode != 0 and warning in result.stdout + result.stderr


def test_https_and_session_settings_come_from_the_environment():
    env = readme_production_env()
    result = run_django(
        {**env, "SECURE_PROXY_SSL_HEADER": "X-Scheme: https", "SESSION_COOKIE_AGE": "3600"},
        "import json; from django.conf import settings as s\n"
        "print(json.dumps([s.DEBUG, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER,"
        " s.SESSION_COOKIE_AGE, s.SESSION_COOKIE_SECURE, s.CACHES['default']['BACKEND']]))",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        False,
        True,
        31536000,
        ["HTTP_X_SCHEME", "https"],
        3600,
        True,
        "django.core.cache.backends.db.DatabaseCache",
    ]


def test_every_cookie_is_secure_and_the_session_and_language_ones_http_only_in_production():
    result = run_django(
        readme_production_env(),
        "import json; from django.conf import settings as s\n"
        "print(json.dumps({k: getattr(s, k) for k in ['SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE',"
        " 'LANGUAGE_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'LANGUAGE_COOKIE_HTTPONLY', 'SESSION_COOKIE_SAMESITE',"
        " 'CSRF_COOKIE_SAMESITE']}))",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "LANGUAGE_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "LANGUAGE_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "CSRF_COOKIE_SAMESITE": "Lax",
    }


def _make_run_env():
    """``make run``'s demo environment, as the Makefile spells it (DEMO_ENV)."""
    makefile = (ROOT / "Makefile").read_text()
    debug = re.search(r"^DEMO_DEBUG \?= (\S+)$", makefile, re.M).group(1)
    spelled = re.search(r"^DEMO_ENV := (.+)$", makefile, re.M).group(1).replace("$(DEMO_DEBUG)", debug)
    assert re.search(r"^run: .*\n(\t\$\(DEMO_ENV\) .*\n)+", makefile, re.M), "make run must use DEMO_ENV"
    return dict(pair.split("=", 1) for pair in spelled.split())


def test_make_run_demo_shows_the_portals_404_page_not_djangos_debug_page():
    env = _make_run_env()
    assert env["DEBUG"] == "0"
    result = run_django(
        # A throwaway key: the demo's own would be written under var/.
        {**env, "SECRET_KEY": secrets.token_urlsafe(50)},
        "from django.test import Client\n"
        "print(Client().get('/static/js/portal.js', HTTP_HOST='127.0.0.1').status_code)\n"
        "r = Client().get('/no-such-page/', HTTP_HOST='127.0.0.1')\n"
        "print(r.status_code); print(r.content.decode())",
    )
    assert result.returncode == 0, result.stderr
    static, status, html = result.stdout.split("\n", 2)
    # With DEBUG off the demo still serves its static files (whitenoise, without collectstatic).
    assert static == "200"
    assert status == "404"
    assert "There is nothing at this address" in html and "portal-navbar" in html
    assert "Using the URLconf" not in html and "DEBUG = True" not in html


def test_procfile_runs_gunicorn_and_the_task_worker():
    processes = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert processes["web"].split()[0] == "gunicorn" and "config.wsgi" in processes["web"]
    assert "manage.py db_worker" in processes["worker"]
