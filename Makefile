# The two commands: `make run` serves the embedded default; `make test` runs the whole suite.
# Both create .venv when it is missing.

PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; \
	then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n auto

.PHONY: run test bench clean

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "esign needs Python 3.11 or newer on PATH (python3.11, python3.12, ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	@scripts/system-packages run
	$(BIN)/esign init
	$(BIN)/esign serve

test: $(VENV)/.test-installed
	@scripts/system-packages test
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.test-installed
	$(BIN)/python bench/sign.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/pki.py
	$(BIN)/python bench/csc.py

clean:
	rm -rf $(VENV) .pytest_cache
