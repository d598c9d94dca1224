# support-triage — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
VENV   := .venv
MEMBERS := schemas libs/kit services/triage services/router tools/devkit
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

.PHONY: help install run test test-faults lint typecheck bench schemas clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv>=0.5"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock schemas/pyproject.toml services/triage/pyproject.toml services/router/pyproject.toml libs/kit/pyproject.toml tools/devkit/pyproject.toml
	$(UV) sync --frozen --all-packages --python $(PYTHON)
	@touch $@

# The official AsyncAPI parser for the contracts test (skipped, with the reason, without npm).
ASYNCAPI_TOOL := tools/asyncapi
$(ASYNCAPI_TOOL)/node_modules/.installed: $(ASYNCAPI_TOOL)/package.json $(ASYNCAPI_TOOL)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  if npm ci --prefix $(ASYNCAPI_TOOL) --no-audit --no-fund --loglevel=error; then touch $@; \
	  else echo "npm ci failed (offline?): the AsyncAPI parser test will be skipped"; fi; \
	else echo "npm not found: the AsyncAPI parser test will be skipped"; fi

install: $(VENV)/.synced $(ASYNCAPI_TOOL)/node_modules/.installed ## install everything into .venv (uv, locked) and the AsyncAPI parser (npm)

run: install ## run the whole system: embedded broker, SQLite, demo catalogue, both services
	exec $(VENV)/bin/python -m scripts.run_local

test: install ## run every test (Postgres tests need TEST_DATABASE_URL)
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile

test-faults: install ## fault-injection scenarios (FAULT_CASES per scenario, default 300; a few minutes)
	RUN_FAULTS=1 $(VENV)/bin/python -m pytest tests/faults -p no:cacheprovider -v

lint: install ## ruff, mypy, declared dependencies (deptry) and import layers (import-linter)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(addsuffix /src,$(MEMBERS))
	@for member in $(MEMBERS); do \
	  echo "deptry $$member"; (cd $$member && $(abspath $(VENV))/bin/deptry src --no-ansi) || exit 1; \
	done
	$(VENV)/bin/lint-imports --no-cache

bench: install ## print throughput and quality figures (uses ../shared/data when present)
	$(VENV)/bin/python -m bench

schemas: install ## regenerate JSON Schema and AsyncAPI files under schemas/
	$(VENV)/bin/contracts-generate

clean: ## remove the local state (SQLite files, models) and the virtualenv
	rm -rf .state $(VENV) $(TOOLS) $(ASYNCAPI_TOOL)/node_modules
