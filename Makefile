# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck bench storm scaling pipeline-cost clean redis-server chromium promtool alertmanager audit

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { \
	  echo "python3 -m venv failed; installing Debian's python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

# Run the daemon on its embedded default (SQLite in ./triaged-data, 127.0.0.1:9795).
run: $(BIN)/python
	$(BIN)/pip install -q .
	$(BIN)/triaged serve $(ARGS)

# Install everything the tests need, then lint, type-check and test the *installed* project.
test: $(BIN)/python redis-server chromium promtool alertmanager
	$(BIN)/pip install -q '.[dev]'
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy daemon classifiers connectors
	$(BIN)/pytest
	@$(MAKE) --no-print-directory audit

# The tests start their own redis-server on a free port; this only makes sure one is installed.
redis-server:
	@command -v redis-server >/dev/null || { \
	  echo "installing Debian's redis-server"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

# The HTML report test opens the report in a real headless browser.
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# `promtool check rules` / `promtool test rules` validate config/examples/triaged-alerts.rules.yml.
promtool:
	@command -v promtool >/dev/null || { \
	  echo "installing Debian's prometheus (for promtool)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus; }

# Known vulnerabilities in the installed dependencies (pip-audit against PyPI's advisory data).
# Fails on any finding. Where the advisory service cannot be reached, or the package
# index here is a mirror that knows none of the packages, it says SKIPPED (not a pass)
# and does not fail, so an offline `make test` still runs.
audit: $(BIN)/python
	@$(BIN)/pip-audit --version >/dev/null 2>&1 || $(BIN)/pip install -q 'pip-audit>=2.7'
	@out=$$($(BIN)/pip-audit --progress-spinner off --skip-editable --timeout 20 2>&1); rc=$$?; \
	if echo "$$out" | grep -q '^Found [0-9]* known vulnerabilit'; then echo "$$out"; exit 1; fi; \
	skipped=$$(echo "$$out" | grep -c 'could not be audited'); \
	if [ $$rc -ne 0 ] || [ $$skipped -gt 0 ]; then \
	  echo "pip-audit: SKIPPED: advisory data unreachable here ($$skipped packages not audited; exit $$rc). Run 'make audit' where pypi.org is reachable."; \
	else echo "$$out" | head -1; fi

# The fault suite (tests/faults/) starts a real Alertmanager that notifies triaged.
alertmanager:
	@command -v prometheus-alertmanager >/dev/null || { \
	  echo "installing Debian's prometheus-alertmanager"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager; }

lint: $(BIN)/python
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(BIN)/python
	$(BIN)/pip install -q '.[dev]'
	$(BIN)/python benchmarks/ingest.py

# 100,000 alerts in 60 s from 5,000 sources against a real daemon (SQLite and Redis).
storm: $(BIN)/python
	$(BIN)/pip install -q '.[dev]'
	$(BIN)/python benchmarks/storm.py

# Cost per alert versus alerts already stored, and versus Redis replicas.
scaling: $(BIN)/python
	$(BIN)/pip install -q '.[dev]'
	$(BIN)/python benchmarks/scaling.py

# What an alert costs the pipeline, part by part (in process, SQLite): new alerts and repeats.
pipeline-cost: $(BIN)/python
	$(BIN)/pip install -q '.[dev]'
	$(BIN)/python benchmarks/pipeline_cost.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache
