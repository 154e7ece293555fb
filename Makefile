# The two commands a new user needs: `make demo` and `make test`.
# Both create .venv and install everything on a fresh machine.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
PYTHON  ?= python3
PACKAGES := core schooldata features riskmodel synth training serving ews

.PHONY: install demo test lint format clean bench-matrix bench-api bench-explain bench-dask bench-real bench-ingest bench-store bench-pages bench-effects bench-upload bench-before-after bench-smoke browser postgres

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip uv
	$(VENV)/bin/uv pip install -q --compile-bytecode --python $(PY) -e '.[dev]' \
	  || $(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) -m compileall -q $(PACKAGES) > /dev/null
	$(VENV)/bin/ews demo

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(PACKAGES)

# Browser tests use Debian's Chromium and a Thai font; install them where we can.
browser:
	@if command -v chromium >/dev/null 2>&1 && fc-list :lang=th 2>/dev/null | grep -q .; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-thai-tlwg; \
	else echo "Chromium or a Thai font is missing and cannot be installed here:" \
	  "browser tests will skip (and fail under CI=true)"; fi

# PostgreSQL tests start a throwaway server from Debian's binaries; install them where we can.
postgres:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
	    || echo "installing PostgreSQL failed: PostgreSQL tests will fail under CI=true"; \
	else echo "PostgreSQL is missing and cannot be installed here:" \
	  "PostgreSQL tests will skip (and fail under CI=true)"; fi

# Bytecode of the installed libraries is compiled at install and ours here: a machine
# with PYTHONDONTWRITEBYTECODE set would otherwise compile every import in every process
# (each server, CLI and worker the tests start), which costs seconds per process.
# The suite runs on every core, each test file whole in one process (--dist loadfile),
# so a file's module fixtures are built once (session fixtures, once per process).
# Files holding a slow test are handed out first (tests/conftest.py orders them; xdist
# keeps that order): a long file handed out last runs alone while the others idle.
# Two processes each training with two OpenMP threads on two cores: waiting threads
# sleep (OMP_WAIT_POLICY) rather than spin on the core the other process needs.
test: lint browser postgres
	$(PY) -m compileall -q $(PACKAGES) benchmarks devtools tests > /dev/null
	OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/pytest -q -n auto --dist loadfile --no-loadscope-reorder

bench-matrix: install
	$(PY) -m benchmarks.training_matrix

bench-api: install
	$(PY) -m benchmarks.api

bench-explain: install
	$(PY) -m benchmarks.explain

bench-dask: install
	$(PY) -m benchmarks.dask_run

bench-real: install
	$(PY) -m benchmarks.real_data

bench-ingest: install
	$(PY) -m benchmarks.ingest_speed

bench-store: install postgres
	$(PY) -m benchmarks.store

bench-pages: install postgres
	$(PY) -m benchmarks.pages

bench-effects: install
	$(PY) -m benchmarks.effects

bench-upload: install
	$(PY) -m benchmarks.upload_rerun

# Every benchmark once at a small size, one after another (about 20 minutes): that each
# still runs to its last line, not its figures. Nothing in `make test` runs them, and a
# change elsewhere can stop one (three had stopped, unseen, for up to six days).
SMOKE := build/bench-smoke
bench-smoke: install postgres
	$(PY) -m benchmarks.training_matrix --students 3000 --work-dir $(SMOKE)/matrix
	$(PY) -m benchmarks.api --students 1500 --requests 300 --work-dir $(SMOKE)/api
	$(PY) -m benchmarks.store --students 50000
	$(PY) -m benchmarks.ingest_speed --students 3000 --work-dir $(SMOKE)/ingest
	$(PY) -m benchmarks.upload_rerun --students 1500 --work-dir $(SMOKE)/upload
	$(PY) -m benchmarks.dask_run --students 20000 --train-students 3000 --work-dir $(SMOKE)/dask
	$(PY) -m benchmarks.explain --students 20000 --train-students 3000 --work-dir $(SMOKE)/dask
	$(PY) -m benchmarks.pages --students 20000 --weeks 2 --requests 3
	$(PY) -m benchmarks.pages --students 20000 --weeks 2 --requests 3 --rates 5
	$(PY) -m benchmarks.effects --students 3000 --schools 6 --areas 1 --area-students 6000 --area-schools 12 --work-dir $(SMOKE)/effects
	$(PY) -m benchmarks.real_data --work-dir $(SMOKE)/real
	$(PY) -m benchmarks.before_after --before 534591a --students 20000 --rounds 1 --mode one --work-dir $(SMOKE)/before-after

# Issue 38's comparison: the weekly run against 534591a (before local codes), as it ran and
# with its process tunings off, and this code with the allocator setting those tunings made.
bench-before-after: install
	$(PY) -m benchmarks.before_after --before 534591a \
	  --patch benchmarks/patches/534591a-untuned.patch --patch-name untuned \
	  --env "MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824 ARROW_DEFAULT_MEMORY_POOL=system"

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) data build .mypy_cache .ruff_cache .pytest_cache

