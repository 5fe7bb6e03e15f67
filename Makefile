# Flowctory: `make dev` runs the whole product locally, `make test` runs every check.
# Both create and fill their virtualenvs first, so they work on a fresh clone.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
SAM := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=eu-west-3 $(SAM_VENV)/bin/sam
PYTEST_ARGS ?=

.PHONY: dev test lint format typecheck template-check pytest clean

$(BIN)/.installed: requirements-dev.txt layers/flowctory/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

dev: $(BIN)/.installed
	$(BIN)/python -m sandbox

test: lint typecheck template-check pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(BIN)/.installed
	$(BIN)/mypy functions layers/flowctory/flowctory sandbox

template-check: $(BIN)/.installed $(SAM_VENV)/.installed
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --template template.yaml
	$(SAM) validate --lint --template template.yaml

pytest: $(BIN)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam build .pytest_cache .mypy_cache .ruff_cache
