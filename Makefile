# blobrl: `make run` and `make test` each do the whole set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= configs/aggressive.yaml
STAMP := $(VENV)/.installed
export RAY_USAGE_STATS_ENABLED := 0
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache

.PHONY: setup run test test-slow bench bench-quick gpu-check soak lint clean

setup: $(STAMP)

# torch first and pinned, so pip takes the local/CPU-appropriate build and never
# resolves a different torch (and its CUDA wheels) as a dependency of the package.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e '.[dev]'
	touch $(STAMP)

run: setup
	$(PY) -m blobrl.launch $(CONFIG)

test: setup
	$(PY) -m pytest

test-slow: setup
	$(PY) -m pytest -m slow

bench: setup
	$(PY) -m blobrl.bench --json bench.json

bench-quick: setup
	$(PY) -m blobrl.bench --quick --json bench.json

# The GPU path, under 8 minutes on a 16-core machine with one NVIDIA GPU: the `gpu` tests, then
# GPU inference, learner and self-play numbers, in GPU_CHECK_JSON (docs/design.md lists the keys).
# Without CUDA every GPU part is skipped with its reason and the check still passes.
# PY=python3 runs it with an interpreter that already has torch with CUDA and blobrl's imports
# (a GPU image's), without the venv: `make gpu-check PY=python3`.
GPU_CHECK_JSON ?= gpu_check.json
GPU_CHECK_ARGS ?=  # more options, e.g. GPU_CHECK_ARGS="--selfplay-seconds 60 --actors 8"
gpu-check: $(if $(filter $(VENV)/bin/python,$(PY)),setup)
	$(PY) -m blobrl.bench.gpu_check --json $(GPU_CHECK_JSON) $(GPU_CHECK_ARGS)

# 20 minutes of the smoke config with a self-play actor killed every minute; checks that nothing
# is lost and memory stays flat (not part of `make test`).
soak: setup
	$(PY) -m blobrl.soak --json soak.json

lint: setup
	$(VENV)/bin/ruff check blobrl tests
	$(VENV)/bin/ruff format --check blobrl tests
	$(VENV)/bin/mypy blobrl

clean:
	rm -rf $(VENV) .numba_cache .pytest_cache build *.egg-info
