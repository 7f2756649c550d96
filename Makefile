# PAR Scoreboard. `make demo` then `make test` on a fresh machine.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# uv installs the pinned dependencies in seconds where pip takes minutes
UV     := uv==0.9.5

export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := 1

.PHONY: demo test install dev validate bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(UV)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/scoreboard demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

validate: $(STAMP)
	$(BIN)/dagster definitions validate -w workspace.yaml

# not part of the tests: generates 10 million dossiers (see docs/benchmarks.md)
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# DAGSTER_HOME=dagster_home: run history, and the duckdb_writer pool limited to 1
dev: $(STAMP)
	DAGSTER_HOME=$(CURDIR)/dagster_home $(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf data build .pytest_cache
