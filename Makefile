# One command to run the daemon, one to run the tests; each makes .venv and installs what it
# needs: `make run` newswatch alone (pip install -e .), `make test` the test tools too.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= config.toml

.PHONY: run once test lint bench clean

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

test: $(VENV)/.test-tools $(SYNAPSE_VENV)/bin/synapse_homeserver
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.test-tools
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(SYNAPSE_VENV) *.egg-info .pytest_cache
