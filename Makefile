# conveyor: `make run` serves the demo (worker + dashboard); `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := examples/demo.py
HOST ?= 127.0.0.1
PORT ?= 8750
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=

.PHONY: run test lint postgres chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The demo: seed work, run a worker in the background and the dashboard in the
# foreground; Ctrl-C stops both (the worker finishes its running jobs first).
run: $(BIN)/python
	$(BIN)/pip install -q -e ".[all]"
	$(BIN)/python $(DEMO)
	@echo "conveyor demo: dashboard at http://$(HOST):$(PORT)  (Ctrl-C stops it and the worker)"
	@setsid $(BIN)/conveyor worker $(DEMO) --concurrency 4 --grace 10 & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT; \
	$(BIN)/conveyor dashboard $(DEMO) --host $(HOST) --port $(PORT)

# Two phases. Most tests wait (on workers, leases, subprocesses) more than they compute,
# so they run on XDIST pytest-xdist workers: six on two cores (two took 4m35s and four
# 3m30s once; four 366 s and six 282 s on one loaded machine). The multi-process tests
# (marked slow, hence serial: their kill -9 churn misses deadlines among six busy test
# processes) then run on SERIAL_XDIST workers, one per core: they keep a core busy 17% of
# the time (335 s in one process, 140-190 s in two). PYTEST_ARGS="-k cli" runs a part (a
# phase left with no test is fine); XDIST=0 SERIAL_XDIST=0 runs each in one process.
XDIST ?= 6
SERIAL_XDIST ?= 2
# A test that fails is run once more and, if it passes then, reported as rerun ("R" in
# the progress line, listed in the summary): a timing race on a machine at load 16 must
# not throw away a run, but it stays visible and is a bug to fix. RERUNS= turns it off.
RERUNS ?= --reruns 1 -rfER
# Bytecode caches on (some machines set PYTHONDONTWRITEBYTECODE): without them every xdist
# worker rewrites and compiles all the test modules, and every conveyor subprocess a test
# starts compiles the package again (a quarter of the CPU time of tests/cli).
unexport PYTHONDONTWRITEBYTECODE
test: $(BIN)/python
	$(BIN)/pip install -q -e ".[dev]"
	@$(MAKE) --no-print-directory postgres chromium lint
	@$(BIN)/pytest -q -p no:cacheprovider $(RERUNS) -n $(XDIST) --dist loadgroup -m "not serial" \
	  $(PYTEST_ARGS); parallel=$$?; \
	$(BIN)/pytest -q -p no:cacheprovider $(RERUNS) -n $(SERIAL_XDIST) -m serial $(PYTEST_ARGS); serial=$$?; \
	for code in $$parallel $$serial; do [ $$code = 0 ] || [ $$code = 5 ] || exit $$code; done; \
	[ "$$parallel$$serial" != 55 ] || { echo "no test selected"; exit 5; }

lint: $(BIN)/python
	$(BIN)/ruff check conveyor tests
	$(BIN)/mypy conveyor
	$(BIN)/lint-imports

# PostgreSQL at 127.0.0.1 for the postgres tests: start the local cluster if it is down.
postgres:
	@pg_isready -q -h 127.0.0.1 || { \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | tail -n 1) main start || true; \
	  for i in $$(seq 100); do pg_isready -q -h 127.0.0.1 && break; sleep 0.2; done; \
	  pg_isready -h 127.0.0.1 || echo "PostgreSQL is not reachable: its tests skip (fail when CI is set)"; }

# Chromium for the browser tests: installed only when missing, and only as root.
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "$(CHROMIUM) is missing and we are not root: browser tests skip (fail when CI is set)"; fi; \
	fi
