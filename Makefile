# The two commands: `make run` serves the embedded default; `make test` runs lint, types and the whole suite.
# Both create .venv when it is missing and install exactly what the lock files in requirements/ pin.

PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; \
	then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n auto
HOST ?= 127.0.0.1
PORT ?= 8000
# Where clients, and the certificates the PKI issues, reach `make run`: it follows HOST and PORT unless
# ESIGN_PUBLIC_URL is set (e.g. to the address of a reverse proxy).
ESIGN_PUBLIC_URL ?= http://$(if $(filter 0.0.0.0 ::,$(HOST)),127.0.0.1,$(HOST)):$(PORT)
# The tool that regenerates the lock files (`make lock`); installing never needs it.
UV_VERSION := 0.13.9
LINTED := esign keys documents webhooks api web migrations tests bench docs scripts conftest.py
TYPED := esign keys documents webhooks api web

.PHONY: run test lint lock messages bench clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "esign needs Python 3.11 or newer on PATH (python3.11, python3.12, ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# --require-hashes: every distribution is the one the lock names, byte for byte; --no-deps: nothing beyond it.
# The project itself is installed editable with the locked setuptools, so no build step fetches anything.
# A lock that changed starts from an empty venv (`venv --clear`), so nothing it dropped stays installed.
$(VENV)/.run-installed: requirements/run.lock pyproject.toml | $(BIN)/python
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/run.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.test-installed
	@touch $@

$(VENV)/.test-installed: requirements/test.lock pyproject.toml | $(BIN)/python
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/test.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	@scripts/system-packages run
	ESIGN_PUBLIC_URL='$(ESIGN_PUBLIC_URL)' $(BIN)/esign init
	ESIGN_PUBLIC_URL='$(ESIGN_PUBLIC_URL)' $(BIN)/esign serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy $(TYPED)

test: lint
	@scripts/system-packages test
	$(BIN)/pytest $(PYTEST_ARGS)

# Regenerates requirements/*.lock from pyproject.toml: the newest versions within its ranges, for every
# supported Python and platform, with the hashes of every file PyPI serves for them.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	for lock in run test; do \
	  extra=$$( [ $$lock = test ] && echo "--extra test" ); \
	  $(BIN)/uv pip compile pyproject.toml requirements/build.in $$extra --universal --python-version 3.11 \
	    --generate-hashes --no-header --quiet $(if $(UPGRADE),--upgrade) -o requirements/$$lock.lock || exit 1; \
	done
	$(BIN)/python -m pip uninstall --quiet --yes uv

# The pages' message catalogs (web/locale): extracts web/'s strings into messages.pot, merges them into each
# language's messages.po (translate what is new there), and compiles the .mo files that are served. The .mo files
# are committed, so serving needs no build step; tests/web/test_catalogs.py fails when any of them is stale.
messages: $(VENV)/.test-installed
	$(BIN)/pybabel extract -F web/babel.cfg -k N_ --no-location --omit-header --sort-output -o web/locale/messages.pot .
	$(BIN)/pybabel update -i web/locale/messages.pot -d web/locale -D messages --ignore-obsolete --no-wrap
	$(BIN)/pybabel compile -d web/locale -D messages --statistics

bench: $(VENV)/.test-installed
	$(BIN)/python bench/sign.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/pki.py
	$(BIN)/python bench/sign_http.py
	$(BIN)/python bench/csc.py
	$(BIN)/python bench/blobs.py
	$(BIN)/python bench/large.py
	$(BIN)/python bench/verify_workers.py
	@scripts/system-packages test
	$(BIN)/python bench/web.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
