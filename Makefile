# One entry point. Each target sets itself up: a pinned uv (in .tools/ when none is on PATH),
# the locked virtual environment (.venv/), and the database (embedded PostgreSQL under .data/
# unless CREDIT_WAREHOUSE_URL names a server).
SHELL := /bin/bash
PYTHON ?= python3.11
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export DO_NOT_TRACK := 1

.PHONY: demo test browser-test long-test lint bench up down status stop clean

demo: .venv/.synced ## Simulate the county, run the nightly chain, export (see README)
	.venv/bin/county demo

test: .venv/.synced ## Run the test suite against a real PostgreSQL
	.venv/bin/pytest $(PYTEST_ARGS)

# Installs Debian's chromium and a CJK font when missing (Playwright drives /usr/bin/chromium).
browser-test: .venv/.synced ## The service's UI, a night triggered there, the docs: headless Chromium
	bash tests/browser/install_chromium.sh
	.venv/bin/pytest -m browser tests/browser $(PYTEST_ARGS)

long-test: .venv/.synced ## Tests of many nights (a week caught up against the week run night by night)
	.venv/bin/pytest -m long $(PYTEST_ARGS)

lint: .venv/.synced ## ruff (Python) and sqlfluff (dbt SQL)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/sqlfluff lint dbt/models dbt/macros

# SCALE=jiangyin: only the whole chain at the county's real size (bench/bench_scale.py), ~1 h.
SCALE ?= demo
bench: .venv/.synced ## Benchmarks; results go to docs/benchmarks.md (SCALE=jiangyin: real size)
ifeq ($(SCALE),demo)
	.venv/bin/python bench/bench_simulator.py
	.venv/bin/python bench/bench_ingest.py
	.venv/bin/python bench/bench_nights.py
	.venv/bin/python bench/bench_transform.py
	.venv/bin/python bench/bench_credit_check.py
endif
	.venv/bin/python bench/bench_scale.py --scale $(SCALE)

up: .venv/.synced ## The platform as a service: county systems, warehouse, Airflow (UI on :8080)
	.venv/bin/county up
	.venv/bin/credit service up

down: .venv/.synced ## Stop everything `make up` started
	.venv/bin/credit service down

status: .venv/.synced ## What `make up` started and whether it runs
	.venv/bin/credit service status

stop: .venv/.synced ## Stop the embedded PostgreSQL
	.venv/bin/credit warehouse stop

clean: ## Remove the virtual environment and all local state (.data)
	-.venv/bin/credit service down
	-.venv/bin/credit warehouse stop
	rm -rf .venv .tools .data dbt/target dbt/logs

# Bytecode compiled at install: a machine that sets PYTHONDONTWRITEBYTECODE would otherwise
# compile Airflow's and dbt's modules from source in every process (seconds each start).
.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --compile-bytecode
	touch $@

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"
