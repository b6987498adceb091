# Ondermijningskaart. `make demo` and `make test` are all a fresh machine needs.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: system
system: ## Install PostgreSQL + PostGIS (and python3-venv, gdal-bin) when missing (root) or say how
	@scripts/system-deps.sh

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

# Leaflet, Leaflet.VectorGrid, Swagger UI and MapLibre GL, from their npm packages (pinned, integrity-checked), never
# copied into the repo: see docs/web-assets.md.
app/static/vendor/.installed: scripts/vendor-web.sh
	scripts/vendor-web.sh
	@touch $@

.PHONY: install
install: system $(BIN)/.installed app/static/vendor/.installed ## Create .venv, install the project, fetch map assets

.PHONY: demo
demo: install ## Start the embedded PostGIS, load the demo data and serve the map
	$(BIN)/okaart demo

.PHONY: serve
serve: install ## Serve the API on the existing database
	$(BIN)/okaart serve

.PHONY: lint
lint: install ## ruff, mypy --strict and the import contract (the floors, docs/architecture.md)
	$(BIN)/ruff check core layers ingest app cli migrations tests benchmarks
	$(BIN)/ruff format --check core layers ingest app cli migrations tests benchmarks
	$(BIN)/mypy core layers ingest app cli
	$(BIN)/lint-imports

.PHONY: test
test: lint ## Lint, then the whole test suite against a throwaway PostGIS
	$(BIN)/pytest

.PHONY: format
format: install ## Format the code
	$(BIN)/ruff format core layers ingest app cli migrations tests benchmarks
	$(BIN)/ruff check --fix core layers ingest app cli migrations tests benchmarks

.PHONY: bench
bench: install ## Run the speed comparisons in benchmarks/
	$(BIN)/python -m benchmarks

.PHONY: db-stop
db-stop: ## Stop the embedded database
	$(BIN)/okaart db stop

.PHONY: clean
clean: ## Stop the database and remove .venv and .okaart
	-$(BIN)/okaart db stop
	rm -rf $(VENV) .okaart .mypy_cache .ruff_cache .pytest_cache
