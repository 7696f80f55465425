# The two commands a new machine needs (see README):
#   make run    set everything up, build the index if needed, serve the chat on :8000
#   make test   set everything up and run the linters, type checks and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run test lint bench chromium wrk axe clients

setup: $(VENV)/.installed

# torch first, pinned: it is the local CPU build; letting the resolver pick torch pulls a
# multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip check
	touch $@

run: setup
	$(BIN)/mscqa serve

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

# axe-core (npm) for the accessibility scans the browser tests inject into each page; pinned by
# tests/a11y/package-lock.json.
axe: tests/a11y/node_modules/axe-core/axe.min.js

tests/a11y/node_modules/axe-core/axe.min.js: tests/a11y/package.json tests/a11y/package-lock.json
	npm ci --prefix tests/a11y --no-audit --no-fund --loglevel=error
	touch $@

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src

test: setup chromium axe clients lint
	$(BIN)/pytest

# matplotlib for the latency plot; wrk (Debian) for the load benchmarks
bench: setup wrk
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.run_all

wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi; }

# The JavaScript OpenAI clients tests/test_js_clients.py drives (LangChain's ChatOpenAI and the
# openai SDK, what LibreChat runs on), pinned by tests/clients/package-lock.json.
clients: tests/clients/node_modules/.installed

tests/clients/node_modules/.installed: tests/clients/package-lock.json
	npm ci --prefix tests/clients --no-audit --no-fund --loglevel=error
	touch $@
