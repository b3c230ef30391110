# One command to run the daemon, one to run the tests; each makes .venv and installs what it
# needs: `make run` newswatch alone (pip install -e .), `make test` the test tools too.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.toml

.PHONY: run once test lint bench clean screenshots

$(BIN)/newswatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(BIN)/newswatch

# The test tools (pytest, hypothesis, aiosmtpd, ruff), on top of what running needs.
$(VENV)/.test-tools: $(BIN)/newswatch
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/newswatch
	$(BIN)/newswatch --config $(CONFIG) run

once: $(BIN)/newswatch
	$(BIN)/newswatch --config $(CONFIG) run --once

# Matrix Synapse for the chat alert tests, in its own virtualenv: its pins may clash
# with Scrapy's Twisted.
SYNAPSE_VENV := .venv-synapse

$(SYNAPSE_VENV)/bin/synapse_homeserver:
	$(PYTHON) -m venv $(SYNAPSE_VENV)
	$(SYNAPSE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SYNAPSE_VENV)/bin/python -m pip install --quiet 'matrix-synapse>=1.100,<2'
	touch $@

# Debian's Chromium for the web app's browser tests (Playwright drives it through
# executable_path: no browser can be downloaded here). Needs root; without it those
# tests are skipped.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	-apt-get install -y -qq chromium >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	  echo "Chromium not installed: the browser tests will be skipped"

test: $(VENV)/.test-tools $(SYNAPSE_VENV)/bin/synapse_homeserver $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The README's screenshots of the web app, taken by its browser test.
screenshots: $(VENV)/.test-tools $(CHROMIUM)
	NEWSWATCH_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -q tests/test_web_browser.py

lint: $(VENV)/.test-tools
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(SYNAPSE_VENV) *.egg-info .pytest_cache
