# Every routine task has one short name. The project venv is .venv; SAM CLI and cfn-lint live in
# .venv-tools because their pins clash with ours, and checkov in .venv-checkov because its boto3
# pin clashes with SAM CLI's.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.12 python3.11 python3.13 python3; do \
            if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
DAY ?= events/sample_day.jsonl
# The sample config is a Valentine's 2027 season: demo and lint judge its windows as of its day.
AT ?= 2027-02-10T05:00:00Z
OUT ?= out

.PHONY: demo test test-dates lint format typecheck bench build sam-validate sam-local clean help

help:
	@echo "make demo      simulate the sample storefront day and show who got what and why"
	@echo "make test      run the test suite (moto, no network, no Docker)"
	@echo "make test-dates  the suite again on a leap day and a DST change (libfaketime)"
	@echo "make lint      ruff + mypy + import-linter layering + nudge validate --strict + cfn-lint/checkov"
	@echo "make bench     measure decide(), ingest, DynamoDB calls, import time -> bench/results.json"
	@echo "               (SECTIONS='load cost cold': only those, the others' results kept)"
	@echo "make build     cfn-lint, sam validate --lint and sam build (tools venv)"
	@echo "make sam-local sam local invoke every function with its sample events"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "nudge needs Python 3.11 or newer (python3.11/3.12/3.13 on PATH)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.stamp-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	@touch $@

$(VENV)/.stamp-dev: pyproject.toml $(VENV)/.stamp-run
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps 'lifetimes==0.11.3'
	@touch $@

demo: $(VENV)/.stamp-run
	@mkdir -p $(OUT)
	$(BIN)/nudge validate --at $(AT) config
	$(BIN)/nudge simulate --config config --events $(DAY) --out $(OUT)/demo.json --report

test: $(VENV)/.stamp-dev
	$(BIN)/python -m pytest -n 2 tests

# the suite again on a leap day and a DST change, the machine's clock moved (libfaketime)
test-dates: $(VENV)/.stamp-dev
	bash .ci/dates.sh

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/nudge validate --strict --at $(AT) config
	bash .ci/sam.sh checkov

format: $(VENV)/.stamp-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(VENV)/.stamp-dev
	$(BIN)/mypy

bench: $(VENV)/.stamp-dev
	$(BIN)/python -m bench $(SECTIONS)

build: $(VENV)/.stamp-run
	$(BIN)/nudge validate --compile config
	bash .ci/sam.sh build

sam-validate:
	bash .ci/sam.sh validate

sam-local:
	bash .ci/sam.sh local

clean:
	rm -rf $(VENV) .venv-tools .venv-checkov .aws-sam $(OUT)
