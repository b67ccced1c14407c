# MeshMark developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

.PHONY: install
install: $(VENV)/.installed ## Create .venv and install MeshMark with its dev tools

.PHONY: serve
serve: install ## Start the index (embedded: SQLite, eager tasks, demo corpus on first run) at http://127.0.0.1:8000
	$(BIN)/meshmark serve --demo-if-empty

.PHONY: worker
worker: install ## Run a Celery worker (needs CELERY_BROKER_URL)
	$(BIN)/meshmark worker

.PHONY: services
services: ## Start PostgreSQL and Redis on 127.0.0.1 if they are down
	bash scripts/ensure-services.sh

.PHONY: system-packages
system-packages: ## Install the Debian packages tests and benches run (nginx, haproxy, wrk, hey, ...)
	bash scripts/ensure-system-packages.sh

.PHONY: lint
lint: install ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy smp scoring runner meshmark ingest

.PHONY: audit
audit: install ## Known vulnerabilities in the installed packages (pip-audit)
	bash scripts/audit.sh

.PHONY: test
test: install services system-packages lint audit ## Install, start services, lint, and run the whole suite on PostgreSQL
	DATABASE_URL=$(TEST_DATABASE_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

.PHONY: bench
bench: install services system-packages ## Run the benchmarks in bench/ and update docs/benchmarks.md
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m bench

.PHONY: format
format: install ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
