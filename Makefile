PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench install

$(BIN)/coverage-tracker: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/coverage-tracker

## Set up (first time) and serve the demo on the embedded SQLite default.
run: install
	$(BIN)/coverage-tracker demo serve

## Set up (first time) and run the whole test suite.
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/run.py --scale small
