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

.PHONY: help venv verify test test-fast lint book book-assets clean-book clean-venv

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
	"$(BIN)/theorykit" verify --fail-on error --jobs $(JOBS) --json "$(VERIFY_JSON)" $(VERIFY_ARGS)

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

# Math renders without the network: MathJax comes from its npm package (book/package.json,
# pinned by book/package-lock.json) and is served by the book itself from _static/mathjax.
MATHJAX := book/_static/mathjax/tex-chtml.js
MJ_SRC := book/node_modules/mathjax/es5

$(MATHJAX): book/package.json book/package-lock.json
	@set -euo pipefail; command -v npm >/dev/null || { echo "make book: npm is needed to \
	install MathJax (book/package.json)" >&2; exit 1; }; \
	npm ci --prefix book --no-audit --no-fund --loglevel=error; \
	rm -rf book/_static/mathjax; \
	mkdir -p book/_static/mathjax/input/tex book/_static/mathjax/output/chtml/fonts; \
	cp $(MJ_SRC)/tex-chtml.js book/_static/mathjax/; \
	cp -r $(MJ_SRC)/input/tex/extensions book/_static/mathjax/input/tex/; \
	cp -r $(MJ_SRC)/output/chtml/fonts/woff-v2 book/_static/mathjax/output/chtml/fonts/; \
	cp -r $(MJ_SRC)/ui $(MJ_SRC)/a11y book/_static/mathjax/; \
	cp book/node_modules/mathjax/LICENSE book/_static/mathjax/; \
	touch $(MATHJAX)

book-assets: $(MATHJAX)

book: venv $(MATHJAX)
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
