# Audio Inference API — every target uses .venv, created by `make setup`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1

.PHONY: setup synth model test test-fast parity bench emulator offline-terraform clean

$(STAMP): requirements.txt docker/requirements-inference.txt pyproject.toml package.json package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

## setup: create .venv, install the Python and npm tools, fetch the pinned model
setup: $(STAMP) model

## synth: write cdktf.out/stacks/<stack>/cdk.tf.json for every stack
synth: $(STAMP)
	npx cdktf synth --output cdktf.out

## model: fetch the pinned Basic Pitch ONNX file into models/ (pip download --no-deps, sha256-checked)
model: $(STAMP)
	$(PY) -m inference fetch-model

## test: the whole suite (unit, snapshot, terraform validate, emulator, runtime)
test: $(STAMP) model
	$(PY) -m pytest

## parity: our notes vs basic-pitch 0.4.0's predict() on generated audio (reference in its own venv)
parity: $(STAMP) model
	$(PY) scripts/parity.py

## bench: ours vs the reference vs the model alone, 30 s and 10 min files, printed as ratios
bench: $(STAMP) model
	$(PY) scripts/bench.py

## test-fast: everything but the slow tiers
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

## emulator: a local AWS emulator (moto) on 127.0.0.1:$(EMULATOR_PORT), for deploys without an AWS account
EMULATOR_PORT ?= 5000
emulator: $(STAMP)
	MOTO_IAM_LOAD_MANAGED_POLICIES=true $(PY) -m moto.server -H 127.0.0.1 -p $(EMULATOR_PORT)

## offline-terraform: write build/terraformrc so terraform (and cdktf's own init) use $$TF_PROVIDER_MIRROR
offline-terraform: $(STAMP)
	$(PY) scripts/terraform_mirror.py write-config build/terraformrc

clean:
	rm -rf cdktf.out .pytest_cache build
