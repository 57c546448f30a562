# firstin: `make run` starts everything, `make test` runs every test. Both install what is missing first.
# uv is bootstrapped into .tools/ when the machine has none (python3 -m venv + pip), so a bare machine with
# Python 3.11+ is enough.

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
# `make run` has an environment of its own with what the services need and nothing else (no test, lint, deploy or
# benchmark tools); `make test` syncs the whole workspace into $(VENV). Each is synced again when a manifest changes.
RUN_VENV := .venv-run
MANIFESTS := uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml) bench/pyproject.toml

.PHONY: run test lint sync clean dist

$(VENV)/.synced: $(MANIFESTS) | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

$(RUN_VENV)/.synced: $(MANIFESTS) | $(UV)
	UV_PROJECT_ENVIRONMENT=$(RUN_VENV) $(UV) sync --frozen --no-dev --package firstin-stack --python $(PYTHON)
	touch $@

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

sync: $(VENV)/.synced

run: $(RUN_VENV)/.synced
	$(RUN_VENV)/bin/python -m firstin_stack.run

test: $(VENV)/.synced
	$(UV) lock --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest $(PYTEST_ARGS)

# Each package synced alone into an empty environment, then its entry modules imported: a dependency that a
# package uses without declaring it (the workspace venv has everything, so tests cannot see it) fails here.
PACKAGES := firstin-contracts=firstin_contracts firstin-serving=firstin_serving firstin-api=firstin_api.main \
	firstin-processor=firstin_processor.main firstin-notifier=firstin_notifier.main \
	firstin-stack=firstin_stack.pytest_plugin,firstin_stack.run \
	firstin-bench=bench.cli,bench.notifier_scale,bench.bare_sio_server
.PHONY: packages-alone
packages-alone: | $(UV)
	@set -e; for spec in $(PACKAGES); do \
		package=$${spec%%=*}; modules=$${spec#*=}; env=$$(mktemp -d); \
		UV_PROJECT_ENVIRONMENT=$$env $(UV) sync --quiet --frozen --no-dev --no-editable --package $$package --python $(PYTHON); \
		for module in $$(echo $$modules | tr , ' '); do $$env/bin/python -c "import $$module"; done; \
		echo "$$package alone: imports $$modules"; rm -rf $$env; \
	done

# `make dist`: every workspace package as a wheel, into dist/ (or DIST=…), for installing firstin-stack and the
# services it starts into another project (README, "Testing your integration with firstin").
DIST ?= dist
dist: | $(UV)
	$(UV) build --all-packages --wheel --clear --out-dir $(DIST)

lint: $(VENV)/.synced
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(RUN_VENV) dist .tools .pytest_cache

# `make bench`: the load benchmark in bench/ (see docs/benchmarks.md). One scenario with SCENARIO=door, processor,
# stampede, pipeline, steady, storm or connects; more options with BENCH_ARGS (`$(PY) -m bench --help`).
.PHONY: bench
SCENARIO ?= all
bench: $(VENV)/.synced
	$(PY) -m bench $(SCENARIO) $(BENCH_ARGS)
