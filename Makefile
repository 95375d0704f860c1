# b12plan task runner. `make run` and `make test` are the README's two set-up commands.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck unit cases clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

## run: the web app on http://127.0.0.1:8000 with the embedded SQLite store (no server to install)
run: $(STAMP)
	$(BIN)/b12plan serve

## demo: write the example case and print its written plan
demo: $(STAMP)
	$(BIN)/b12plan example > example-case.json
	$(BIN)/b12plan plan example-case.json

## test: lint, type check and the whole test suite
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache example-case.json
