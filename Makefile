# Gale's developer entry points. `make run` and `make test` bootstrap everything they need
# on a machine that has only Python 3.11 and make: uv from PyPI, the locked environment,
# and the Debian/npm tools the tests drive for real.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
# uv: the one on PATH, else one installed from PyPI into .tools/ (no root, no system pip
# changes: `pip --target` works even where the system Python is "externally managed").
# Chosen once, here; every recipe uses $(UV), and it is exported so that tests and tools
# started by a recipe run that same uv (`uv run` also sets UV for its children).
UV_TOOLS := $(CURDIR)/.tools
UV := $(or $(shell command -v uv 2>/dev/null),$(UV_TOOLS)/bin/uv)
export UV
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the test suite and benchmarks run for real (command -> package).
DEBIAN_TOOLS := promtool:prometheus wrk:wrk chromium:chromium node:nodejs npm:npm \
	buildah:buildah debootstrap:debootstrap
TYPECHECK_DIR := observability/grafana/typecheck

.PHONY: help
help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: uv
uv:
	@if ! [ -x "$(UV)" ]; then \
		echo "installing uv from PyPI into $(UV_TOOLS)"; \
		$(PYTHON) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m ensurepip --user >/dev/null 2>&1 || \
			{ echo "neither uv nor pip is available: install one (e.g. apt-get install python3-pip)" >&2; exit 1; }; \
		$(PYTHON) -m pip install --quiet --disable-pip-version-check --target $(UV_TOOLS) uv; \
	fi

.PHONY: sync
sync: uv ## Install the locked Python environment.
	@$(UV) sync --locked --quiet

.PHONY: tools
tools: ## Install the Debian and npm tools the tests use (promtool, wrk, chromium, tsc, buildah).
	@missing=""; for pair in $(DEBIAN_TOOLS); do \
		command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@if [ -f $(TYPECHECK_DIR)/package-lock.json ] && [ ! -d $(TYPECHECK_DIR)/node_modules ]; then \
		echo "installing npm packages for the dashboard type-check"; \
		npm ci --prefix $(TYPECHECK_DIR) --no-audit --no-fund --loglevel=error; \
	fi

.PHONY: run
run: sync ## Start the service on http://127.0.0.1:8888 (embedded MongoDB-wire server if GALE_MONGODB_URI is unset).
	$(UV) run --locked python -m gale_service

.PHONY: lint
lint: sync ## ruff (lint + format check), mypy --strict and the import-linter contracts.
	$(UV) run --locked ruff check .
	$(UV) run --locked ruff format --check .
	$(UV) run --locked mypy
	$(UV) run --locked lint-imports

.PHONY: test
test: lint tools ## Lint, then the whole suite with a coverage floor.
# Two workers, whole modules each (their servers and fixtures stay together): most tests wait
# on real servers, so CI's two cores run the suite in about 6 minutes instead of 10.
	$(UV) run --locked pytest -n 2 --dist loadfile --cov --cov-report=term

.PHONY: images
images: sync ## Build localhost/gale-{service,operator}:dev (docker/podman if running, else buildah).
	$(UV) run --locked python -m images

.PHONY: bench
bench: sync tools ## Benchmarks (wrk against the running service); never part of `make test`.
	$(UV) run --locked --group bench python -m bench
	$(UV) run --locked --group bench python -m bench.memory
	$(UV) run --locked --group bench python -m bench.tracing
	$(UV) run --locked --group bench python -m bench.writes
	$(UV) run --locked --group bench python -m bench.operator

.PHONY: playground
playground: sync ## The operator and the sample CR on an EMULATED API server (no cluster needed).
	$(UV) run --locked python -m tests.operator.playground $(if $(KEEP),--keep)

.PHONY: golden
golden: sync ## Refresh the Helm chart's golden snapshots and README values table after an intended change.
	GALE_UPDATE_GOLDEN=1 $(UV) run --locked pytest -q tests/helm/test_golden.py tests/helm/test_values.py -k "golden or readme"

.PHONY: adopt
adopt: uv ## Make this template your project: NAME=acme-orders GROUP=orders.acme.io KIND=OrderService [DRY_RUN=1]
	@$(UV) run --locked --quiet python -m tools.adopt adopt --name "$(NAME)" --group "$(GROUP)" --kind "$(KIND)" $(if $(DRY_RUN),--dry-run)
	$(if $(DRY_RUN),,@$(UV) sync --locked --quiet)
	$(if $(DRY_RUN),,@$(MAKE) --no-print-directory golden)

.PHONY: template-update
template-update: uv ## Replay a newer template, renamed: FROM=<path or git URL> [REF=main]
	@$(UV) run --locked --quiet python -m tools.adopt update --from "$(FROM)" --ref "$(or $(REF),HEAD)"

.PHONY: fmt
fmt: sync ## Apply ruff's fixes and formatting.
	$(UV) run --locked ruff check --fix .
	$(UV) run --locked ruff format .
