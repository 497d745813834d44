# One command to run the portal with demo data, one to run every test.
#   make run   - virtualenv, install, migrate, demo data if empty, serve on 127.0.0.1:8000
#   make test  - install test dependencies and run the whole suite
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
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install migrate demo check-python clean

check-python:
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.12 or newer is required (tried: $(PY_CANDIDATES))" >&2; exit 1; fi

$(STAMP): pyproject.toml | check-python
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(VPY) manage.py migrate --noinput

demo: migrate
	$(VPY) manage.py seed_demo --if-empty

run: demo
	$(VPY) manage.py demo_logins
	$(VPY) manage.py runserver $(HOST):$(PORT)

test: install
	$(VPY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var/*.sqlite3 staticfiles
