# theorykit: set-up, the main job, tests, lint and the book.
#
#   make verify   create .venv if needed, then run every claim (quick mode) -> results/verify.json
#   make test     create .venv if needed, then run the test suite (2 workers)
#   make book     build the Jupyter Book with warnings as errors
#   make lint     ruff check .
#
# The virtual environment is created once (stamp file $(VENV)/.theorykit-installed); an
# existing one that already has this checkout and all its requirements is reused as is.
# torch is installed FIRST with an exact CPU pin (an unpinned torch resolves to a
# multi-GB CUDA build); a GPU user who already has their own torch in the venv keeps it.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
TORCH_PIN ?= torch==2.13.0
EXTRAS ?= dev,book,ml
JOBS ?= 2
PYTEST_ARGS ?=
VERIFY_ARGS ?=
VERIFY_JSON ?= results/verify.json

BIN := $(VENV)/bin
STAMP := $(VENV)/.theorykit-installed

.PHONY: help venv verify test test-fast lint book clean-book clean-venv

help:
	@echo "make verify | test | test-fast | lint | book | venv | clean-book | clean-venv"
	@echo "variables: VENV=$(VENV) PYTHON=$(PYTHON) JOBS=$(JOBS) EXTRAS=$(EXTRAS)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@set -euo pipefail; \
	if [ -x "$(BIN)/python" ] && "$(BIN)/python" .ci/env_ok.py "$(EXTRAS)"; then \
	  echo "make venv: reusing $(VENV) (theorykit and the [$(EXTRAS)] requirements are installed)"; \
	else \
	  if [ ! -x "$(BIN)/python" ]; then \
	    command -v "$(PYTHON)" >/dev/null || { echo "make venv: $(PYTHON) not found (Python 3.11 is required; set PYTHON=...)" >&2; exit 1; }; \
	    echo "make venv: creating $(VENV) with $$($(PYTHON) --version)"; \
	    "$(PYTHON)" -m venv "$(VENV)"; \
	  fi; \
	  if ! "$(BIN)/python" -c "import importlib.metadata as m; m.version('torch')" >/dev/null 2>&1; then \
	    echo "make venv: installing $(TORCH_PIN) (CPU) first"; \
	    "$(BIN)/python" -m pip install --quiet "$(TORCH_PIN)"; \
	  fi; \
	  echo "make venv: installing theorykit (editable) with [$(EXTRAS)]"; \
	  "$(BIN)/python" -m pip install --quiet -e ".[$(EXTRAS)]"; \
	  "$(BIN)/python" .ci/env_ok.py "$(EXTRAS)"; \
	fi
	@touch "$(STAMP)"

verify: venv
	"$(BIN)/theorykit" verify --fail-on error --json "$(VERIFY_JSON)" $(VERIFY_ARGS)

test: venv
	@set -euo pipefail; \
	if "$(BIN)/python" -c "import xdist" >/dev/null 2>&1; then par="-n $(JOBS)"; else par=""; fi; \
	echo + pytest -q $$par $(PYTEST_ARGS); \
	"$(BIN)/python" -m pytest -q $$par $(PYTEST_ARGS)

test-fast: PYTEST_ARGS += -m "not slow"
test-fast: test

lint: venv
	"$(BIN)/ruff" check .

# The execution cache keys on a page's code only, and Sphinx re-reads only changed pages;
# pages also depend on theorykit itself (the catalog table, the claims), so when any
# library, derivation or example file is newer than the cache, the cache is dropped and
# every page is rebuilt (--all).
JCACHE := book/_build/.jupyter_cache/global.db

book: venv
	@set -euo pipefail; all=""; \
	if [ -f "$(JCACHE)" ] && [ -n "$$(find theorykit derivations examples -name '*.py' \
	    -newer "$(JCACHE)" -print -quit 2>/dev/null)" ]; then \
	  echo "make book: theorykit changed since the pages last ran; re-executing every page"; \
	  rm -rf book/_build/.jupyter_cache; all="--all"; \
	fi; \
	echo "+ jupyter-book build -W -n --keep-going $$all book/"; \
	"$(BIN)/jupyter-book" build -W -n --keep-going $$all book/

clean-book:
	rm -rf book/_build

clean-venv:
	rm -rf "$(VENV)"
