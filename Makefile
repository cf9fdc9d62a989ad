# Audio Inference API — every target uses .venv, created by `make setup`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1

.PHONY: setup synth test test-fast model bench parity clean

$(STAMP): requirements.txt docker/requirements-inference.txt pyproject.toml package.json package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

## setup: create .venv and install the Python and npm tools
setup: $(STAMP)

## synth: write cdktf.out/stacks/<stack>/cdk.tf.json for every stack
synth: $(STAMP)
	npx cdktf synth --output cdktf.out

## test: the whole suite (unit, snapshot, terraform validate, emulator, runtime)
test: $(STAMP)
	$(PY) -m pytest

## test-fast: everything but the slow tiers
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

clean:
	rm -rf cdktf.out .pytest_cache build
