# Countertop: `make demo` runs the product, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/countertop serve --host 127.0.0.1 --port 8000

test: install
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-chromium.sh
	bash scripts/ensure-wrk.sh
	bash scripts/ensure-node.sh
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	COUNTERTOP_TEST_POSTGRES=1 $(BIN)/pytest -q

# Skips the browser and PostgreSQL set-up; for a quick loop while coding.
test-fast: install
	$(BIN)/pytest -q -m "not e2e and not postgres"

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# Each benchmark writes its section of docs/benchmarks.md; see that file for sizes and options.
bench: install
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-wrk.sh
	$(BIN)/python bench/emulator_bench.py
	$(BIN)/python bench/backend_bench.py
	$(BIN)/python bench/reconcile_bench.py
	$(BIN)/python -m bench.chaos

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
