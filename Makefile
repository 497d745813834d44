# One command to run the portal with demo data, one to run every test, one for production.
#   make run   - virtualenv, runtime packages, migrate, demo data if empty, serve on 127.0.0.1:8000
#   make test  - runtime and test packages, then the whole suite
#   make prod  - against $DATABASE_URL: collectstatic, migrate, then web (gunicorn) and worker
#                (db_worker) from the Procfile, under honcho
#   make lock  - recompile requirements/*.txt from pyproject.toml (pinned, with hashes)
#   make messages - refresh locale/*/LC_MESSAGES/django.po from the sources (then translate:
#                   tools/po_fill.py); `make run`, `make test` and `make prod` compile them
#
# Python >= 3.12 is required (Django 6.1). The first candidate that really runs and is
# new enough wins: pyenv shims for versions that are not active fail, so each one is tried.

PYENV_ROOT_DIR := $(shell pyenv root 2>/dev/null)
PY_CANDIDATES := python3.13 python3.12 python3 \
	$(wildcard $(PYENV_ROOT_DIR)/versions/3.13*/bin/python3) \
	$(wildcard $(PYENV_ROOT_DIR)/versions/3.12*/bin/python3) \
	$(wildcard $(PYENV_ROOT_DIR)/versions/3.14*/bin/python3)
PYTHON := $(firstword $(foreach c,$(PY_CANDIDATES),$(shell $(c) -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && echo $(c))))

VENV := .venv
VPY := $(VENV)/bin/python
# Every package, direct and indirect, pinned with its hashes: runtime.txt for running the
# portal, test.txt for the same plus the test tools. `make lock` writes both.
RUNTIME_LOCK := requirements/runtime.txt
TEST_LOCK := requirements/test.txt
RUNTIME_STAMP := $(VENV)/.installed-runtime
TEST_STAMP := $(VENV)/.installed-test
HOST ?= 127.0.0.1
PORT ?= 8000
# The demo is not a debugging session: DEBUG off, so visitors see the portal's own error
# pages; plain cookies because it serves http://127.0.0.1. `make run DEMO_DEBUG=1` for Django's.
DEMO_DEBUG ?= 0
DEMO_ENV := DEBUG=$(DEMO_DEBUG) SECURE_COOKIES=0 PLAIN_STATIC_STORAGE=1
UV_VERSION := 0.13.8
LOCK_FLAGS := --universal --python-version 3.12 --generate-hashes --no-header --quiet

.PHONY: run test prod install install-test lock migrate demo check-python clean messages compilemessages

check-python:
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.12 or newer is required (tried: $(PY_CANDIDATES))" >&2; exit 1; fi

$(VPY): | check-python
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): $(RUNTIME_LOCK) | $(VPY)
	$(VPY) -m pip install --quiet --require-hashes -r $(RUNTIME_LOCK)
	@touch $@

$(TEST_STAMP): $(TEST_LOCK) | $(VPY)
	$(VPY) -m pip install --quiet --require-hashes -r $(TEST_LOCK)
	@touch $@

install: $(RUNTIME_STAMP)

install-test: $(TEST_STAMP)

# The embedded demo's folders and its own secret key (settings read var/secret_key when
# DEBUG is off without DATABASE_URL); staticfiles/ is the empty STATIC_ROOT whitenoise scans.
var/secret_key: | $(VPY)
	mkdir -p var staticfiles
	(umask 077 && $(VPY) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@)

# The catalogues' compiled .mo files are built here, not tracked (.gitignore): every entry
# point that serves pages or runs tests compiles them first (GNU gettext's msgfmt).
MESSAGES_IGNORE := -i '.venv/*' -i 'tests/*' -i 'bench/*' -i 'var/*' -i 'staticfiles/*' -i '.tools/*'

compilemessages: install
	@command -v msgfmt >/dev/null || { echo "compilemessages needs GNU gettext's msgfmt: apt-get install gettext" >&2; exit 1; }
	$(VPY) manage.py compilemessages --ignore='.venv' --ignore='.tools' --verbosity 0

messages: install
	$(VPY) manage.py makemessages -l it --no-obsolete --no-wrap --add-location file $(MESSAGES_IGNORE)

migrate: install var/secret_key compilemessages
	$(DEMO_ENV) $(VPY) manage.py migrate --noinput

demo: migrate
	$(DEMO_ENV) $(VPY) manage.py seed_demo --if-empty

run: demo
	$(DEMO_ENV) $(VPY) manage.py demo_logins
	$(DEMO_ENV) $(VPY) manage.py runserver $(HOST):$(PORT)

test: install-test compilemessages
	$(VPY) -m pytest $(PYTEST_ARGS)

# Production on this machine: the settings come from the environment (README "Production").
prod: install compilemessages
	@if [ -z "$(DATABASE_URL)" ]; then echo "make prod needs DATABASE_URL (and SECRET_KEY); see README, Production" >&2; exit 1; fi
	$(VPY) manage.py collectstatic --noinput --verbosity 0
	$(VPY) manage.py migrate --noinput
	$(VPY) manage.py createcachetable
	PATH="$(abspath $(VENV))/bin:$$PATH" TASKS_BACKEND=database HOST=$(HOST) \
		$(VENV)/bin/honcho start --procfile Procfile --port $(PORT)

lock: | check-python
	@test -x .tools/bin/uv || { $(PYTHON) -m venv .tools && .tools/bin/pip install --quiet uv==$(UV_VERSION); }
	cd requirements && ../.tools/bin/uv pip compile ../pyproject.toml $(LOCK_FLAGS) -o runtime.txt
	cd requirements && ../.tools/bin/uv pip compile ../pyproject.toml --extra test -c runtime.txt $(LOCK_FLAGS) -o test.txt

clean:
	rm -rf $(VENV) .tools var/*.sqlite3 var/secret_key staticfiles
