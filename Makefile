# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck bench clean redis-server chromium promtool

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
test: $(BIN)/python redis-server chromium promtool
	$(BIN)/pip install -q '.[dev]'
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy daemon classifiers connectors
	$(BIN)/pytest

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

lint: $(BIN)/python
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(BIN)/python
	$(BIN)/pip install -q '.[dev]'
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache
