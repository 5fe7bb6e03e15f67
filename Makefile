# Flowctory: `make dev` runs the whole product locally, `make test` runs every check.
# Both create and fill their virtualenvs first, so they work on a fresh clone.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
SAM := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=eu-west-3 $(SAM_VENV)/bin/sam
PYTEST_ARGS ?=
CHROMIUM ?= /usr/bin/chromium
BENCH_ARGS ?=
# The Lambda runtime's Python version (python3.12 -> 3.12), read from template.yaml's Globals.
LAMBDA_PYTHON := $(shell sed -n 's/^ *Runtime: python\([0-9][0-9.]*\) *$$/\1/p' template.yaml | head -n 1)
# Prints the folder of a working pythonX.Y (on PATH, else pyenv's newest X.Y.z) or fails saying why.
RUNTIME_PYTHON_DIR := sh tools/runtime-python-dir $(LAMBDA_PYTHON)

.PHONY: dev test lint format typecheck template-check build-check pytest build bench policy clean

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

test: lint typecheck template-check build-check pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(BIN)/.installed
	$(BIN)/mypy functions layers/flowctory/flowctory sandbox tools bench

template-check: $(BIN)/.installed $(SAM_VENV)/.installed
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --template template.yaml
	$(SAM) validate --lint --template template.yaml

# The deploy package, proved: sam build for this machine's architecture (under build/build-check,
# rebuilt only when an input changed), then every built handler imported by the runtime's Python.
build-check: $(BIN)/.installed $(SAM_VENV)/.installed
	@runtime_bin=$$($(RUNTIME_PYTHON_DIR)) && \
	$(BIN)/python -m tools.check_built_package --python "$$runtime_bin/python$(LAMBDA_PYTHON)" --sam $(SAM_VENV)/bin/sam

pytest: $(BIN)/.installed $(CHROMIUM)
	$(BIN)/pytest $(PYTEST_ARGS)

# Debian's Chromium, which the browser tests (tests/browser) drive through Playwright's Python package;
# `playwright install` downloads a browser build of its own and is never used. Installed only when missing.
$(CHROMIUM):
	DEBIAN_FRONTEND=noninteractive apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# What `sam deploy` uploads (.aws-sam/build), without Docker: the runtime's Python must be on PATH.
# Then .pyc files for it: Lambda's code folders are read-only, so without them every cold start
# compiles the layer again; unchecked-hash because the deploy zip resets every file's mtime.
build: $(SAM_VENV)/.installed
	@runtime_bin=$$($(RUNTIME_PYTHON_DIR)) && \
	echo "sam build with $$runtime_bin/python$(LAMBDA_PYTHON)" && \
	PATH="$$runtime_bin:$$PATH" $(SAM) build --template template.yaml && \
	"$$runtime_bin/python$(LAMBDA_PYTHON)" -m compileall -q -j 0 --invalidation-mode unchecked-hash .aws-sam/build

# Cold-start import budget (ratio to the floor <= 1.3): the source, then the built package.
# BENCH_ARGS=--clock=cpu measures CPU time instead, steadier when the machine is busy.
bench: build-check
	$(BIN)/python -m bench.cold_start --explain $(BENCH_ARGS)
	@runtime_bin=$$($(RUNTIME_PYTHON_DIR)) && \
	$(BIN)/python -m bench.cold_start --explain $(BENCH_ARGS) \
		--package build/build-check/out --python "$$runtime_bin/python$(LAMBDA_PYTHON)"

# Each privacy promise (docs/privacy-promises.md) with the tests named after it and whether they pass.
policy: $(BIN)/.installed
	$(BIN)/python -m tools.policy_report

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam build .pytest_cache .mypy_cache .ruff_cache
