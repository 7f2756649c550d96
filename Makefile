# PAR Scoreboard. `make demo` then `make test` on a fresh machine.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# uv installs the pinned dependencies in seconds where pip takes minutes
UV     := uv==0.9.5
# `make wheelhouse` fills it where there is network; `make demo OFFLINE=1` (or install,
# test, dev) then installs from it alone, the package index never asked
WHEELHOUSE ?= wheelhouse
ifeq ($(OFFLINE),1)
PIP_FROM := --no-index --find-links $(WHEELHOUSE)
UV_FROM  := --offline --no-index --find-links $(WHEELHOUSE)
endif

# Bytecode is compiled at install, the dependencies' and ours: a run then starts without
# compiling Dagster, Great Expectations and pandas again, even where the environment
# forbids writing it at import (PYTHONDONTWRITEBYTECODE, a read-only install): without
# it a new week's run spent seconds compiling (docs/benchmarks.md, "A new week's fixed costs").
COMPILE = @$(BIN)/python -m compileall -q pipelines transforms quality dashboards config demo bench

export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: demo test install dev validate bench clean wheelhouse

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found); set PYTHON=/path/to/python3.11"; exit 1; }
	@[ "$(OFFLINE)" != 1 ] || [ -f $(WHEELHOUSE)/requirements.txt ] || { echo "OFFLINE=1 installs from $(WHEELHOUSE)/, which is not there: run \`make wheelhouse\` on a machine with the package index and copy $(WHEELHOUSE)/ here"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(PIP_FROM) $(UV)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python $(UV_FROM) -e '.[test]'
	$(COMPILE)
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(COMPILE)
	$(BIN)/scoreboard demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

validate: $(STAMP)
	$(BIN)/dagster definitions validate -w workspace.yaml

# not part of the tests: generates 10 million dossiers (see docs/benchmarks.md), then
# 1, 2 and 4 provinces at once in one lake on a throwaway PostgreSQL (docs/scaling.md)
bench: $(STAMP)
	$(COMPILE)
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.provinces $(PROVINCES_ARGS)

# The instance `scoreboard run/backfill/demo` record in (pipelines/instance.py): DAGSTER_HOME
# when set, else SCOREBOARD_DAGSTER_HOME, else dagster_home/ (one writer, telemetry off);
# a new folder gets this checkout's dagster.yaml, as the CLI gives it
dev: $(STAMP)
	@[ -d "$(INSTANCE)" ] || { mkdir -p "$(INSTANCE)" && cp dagster_home/dagster.yaml "$(INSTANCE)/"; }
	@# runs launched from the UI plan a range of periods in one event, as `scoreboard` does (pipelines/event_log.py)
	DAGSTER_HOME="$(INSTANCE)" DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1 $(BIN)/dagster dev -w workspace.yaml
INSTANCE = $(abspath $(or $(DAGSTER_HOME),$(SCOREBOARD_DAGSTER_HOME),dagster_home))

# Every pinned dependency and what it pulls in, the test extras, uv, the build backend
# and the project itself, as wheels in one folder: copy it beside the checkout on a
# machine without the package index (same OS, CPU and Python 3.11) and use OFFLINE=1.
# requirements.txt in it lists the exact versions; a package published without a wheel
# for this machine is built into one here.
wheelhouse: $(STAMP)
	@mkdir -p $(WHEELHOUSE) && rm -f $(WHEELHOUSE)/*.whl
	$(BIN)/uv pip compile --quiet --python $(BIN)/python --extra test pyproject.toml -o $(WHEELHOUSE)/requirements.txt
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir $(WHEELHOUSE) -r $(WHEELHOUSE)/requirements.txt $(UV) 'setuptools>=68'
	@# from an sdist in a temporary folder: an in-tree build would write into build/, the site's folder
	$(BIN)/uv build --quiet --out-dir $(WHEELHOUSE)/.project . && mv $(WHEELHOUSE)/.project/*.whl $(WHEELHOUSE)/ && rm -rf $(WHEELHOUSE)/.project
	@echo "$$(ls $(WHEELHOUSE)/*.whl | wc -l) wheels, $$(du -sh $(WHEELHOUSE) | cut -f1), in $(WHEELHOUSE)/"

clean:
	rm -rf data build .pytest_cache
