# Piaogen: `make run` serves everything, `make test` runs the whole suite.
# Both create .venv/ and install what is missing, Python and system packages alike.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

# Debian packages WeasyPrint and Chinese PDFs need: Pango, HarfBuzz's subsetter (without it
# font subsetting falls back to fontTools at seconds an invoice), a TrueType CJK font and the
# Latin font printed beside it (docs/performance.md).
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-droid-fallback fonts-dejavu-core
# `make test` also needs Debian's chromium for the browser journeys (tests/browser); Playwright
# drives it, and never downloads a browser of its own. The reliability suite (tests/reliability)
# starts and crashes redis-server processes of its own to prove broker outages.
TEST_SYSTEM_PACKAGES := chromium redis-server gettext
# GNU gettext: `make messages` and the catalogue test (tests/test_translations.py) extract
# strings with it; the compiled catalogue (locale/*/LC_MESSAGES/django.mo) is committed, so
# `make run` does not need it.
I18N_SYSTEM_PACKAGES := gettext
# What makemessages leaves out: not the product's strings.
MESSAGES_IGNORE := --ignore=.venv --ignore=tests --ignore=bench --ignore=var --ignore=node_modules
# axe-core from npm for their accessibility checks, installed from tests/browser/package-lock.json.
AXE_STAMP := tests/browser/node_modules/.installed

.PHONY: run test deps test-deps sysdeps lock lint format migrate seed bench bench-smoke clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Installs are of the locks: every package of the resolved tree at an exact version. The .txt
# files name what the project uses and are edited by hand; `make lock` resolves them again.
$(VENV)/.requirements: requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	touch $@

# The test runner, browser driver, fuzzers, linters and type checker: only `make test`, `make lint`
# and the benches.
$(VENV)/.requirements-test: requirements-test.lock $(VENV)/.requirements
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-test.lock
	touch $@

# After an edit of requirements.txt or requirements-test.txt: resolves them into the .lock files
# again (uv, for every platform and Python >= 3.11), keeping each pin that still fits; with
# UPGRADE=1, every package at the newest version the .txt files allow. The test lock is resolved
# under the runtime lock, so the two never pin a package differently.
LOCK_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
lock: test-deps
	$(LOCK_COMPILE) requirements.txt -o requirements.lock
	$(LOCK_COMPILE) requirements-test.txt -o requirements-test.lock

sysdeps:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES) $(EXTRA_SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing system packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  elif command -v dpkg-query >/dev/null 2>&1; then \
	    echo "Missing system packages:$$missing (install them with apt-get as root)"; \
	  fi; \
	fi

deps: sysdeps $(VENV)/.requirements

test-deps: deps $(VENV)/.requirements-test

migrate: deps
	$(BIN)/python manage.py migrate --noinput

run: export DEBUG ?= 1
# settings.py reads a .env file only when PIAOGEN_ENV_FILE names it: `make run` names ./.env if there is one.
run: export PIAOGEN_ENV_FILE ?= $(if $(wildcard .env),$(CURDIR)/.env)
run: deps
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --if-empty
	$(BIN)/python manage.py runall --port $(PORT)

$(AXE_STAMP): tests/browser/package.json tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error && touch $@; \
	else \
	  echo "npm not found: the browser journeys (tests/browser) will fail until node and npm are installed"; \
	fi

# The whole suite in three passes: the tests that run inside pytest's process spread over one
# worker per core (pytest-xdist; each worker has a test database of its own); one at a time,
# those that start real Celery workers or servers against the shared broker; then the browser
# journeys, a file at a time on each of BROWSER_WORKERS workers (each worker has a live
# server, a Redis database and a browser of its own: tests/browser/conftest.py).
# With PYTEST_ARGS, one plain pytest run with those arguments instead.
TEST_WORKERS ?= auto
BROWSER_WORKERS ?= 2
test: EXTRA_SYSTEM_PACKAGES := $(TEST_SYSTEM_PACKAGES)
test: test-deps $(AXE_STAMP)
ifeq ($(strip $(PYTEST_ARGS)),)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not worker and not browser"
	$(BIN)/python -m pytest -m "worker"
	$(BIN)/python -m pytest -n $(BROWSER_WORKERS) --dist loadfile -m "browser and not worker"
else
	$(BIN)/python -m pytest $(PYTEST_ARGS)
endif

# Re-extracts every marked string into locale/en/LC_MESSAGES/django.po (translations kept, new
# strings empty, strings no longer used dropped), lists those still without English and
# compiles the catalogue. Commit the .po and the .mo together (docs/i18n.md).
messages: EXTRA_SYSTEM_PACKAGES := $(I18N_SYSTEM_PACKAGES)
messages: deps
	$(BIN)/python manage.py makemessages -l en --no-obsolete --no-location $(MESSAGES_IGNORE)
	@msgattrib --untranslated --no-wrap locale/en/LC_MESSAGES/django.po | grep -c '^msgid ' | \
	  awk '{ n = $$1 - 1; if (n > 0) print n " string(s) without English: msgattrib --untranslated locale/en/LC_MESSAGES/django.po"; }' || true
	@msgattrib --only-fuzzy --no-wrap locale/en/LC_MESSAGES/django.po | grep -c '^msgid ' | \
	  awk '{ n = $$1 - 1; if (n > 0) print n " fuzzy string(s) to check: msgattrib --only-fuzzy locale/en/LC_MESSAGES/django.po"; }' || true
	$(BIN)/python manage.py compilemessages -l en $(MESSAGES_IGNORE)

# ruff on the whole tree; mypy (django-stubs, djangorestframework-stubs) on the services and
# selectors, the files [tool.mypy] in pyproject.toml lists.
lint: test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: test-deps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every figure of docs/performance.md (PostgreSQL and Redis on 127.0.0.1, wrk; about an hour the
# first time, most of it generating 1M trips and invoices once). bench-smoke: every bench at tiny
# sizes on a database of its own, dropped afterwards; no timing is asserted (CI runs it).
# wrk drives the verification bench from a second process.
BENCH_SYSTEM_PACKAGES := wrk fonts-noto-cjk
bench: EXTRA_SYSTEM_PACKAGES := $(BENCH_SYSTEM_PACKAGES)
bench: test-deps
	$(BIN)/python bench/run.py

bench-smoke: EXTRA_SYSTEM_PACKAGES := $(BENCH_SYSTEM_PACKAGES)
bench-smoke: test-deps
	$(BIN)/python bench/run.py --smoke

clean:
	rm -rf var .pytest_cache
