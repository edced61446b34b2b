# The commands a new user types: `make demo`, `make ui`, `make test`. Everything they need
# (a virtual environment from uv.lock, a project-local Dagster instance and MLflow store) is
# created on first use; the only prerequisites are python3 (3.11+) and make.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin

export MLOPS_HOME ?= $(CURDIR)/.mlops
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
MLFLOW_PORT ?= 5000
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
# dg warns when the environment it runs in is not the project's: under make it is.
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
# A run's own subprocesses must not wander off to the network for anything.
export DAGSTER_DISABLE_TELEMETRY := 1
export MLFLOW_DISABLE_TELEMETRY := true
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR := false

.PHONY: setup demo ui mlflow-ui serve backfill stack test test-unit lint bench clean

setup: $(VENV)/.synced $(DAGSTER_HOME)/dagster.yaml
	@# The project itself is an editable install, which uv does not compile: every run's process
	@# would compile our own modules again. compileall skips what is up to date; a module edited
	@# since is compiled in memory until the next setup (a stale .pyc is never used).
	@$(BIN)/python -m compileall -q mlops_assets

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Compiled bytecode: with PYTHONDONTWRITEBYTECODE=1 (set here, and in many Dockerfiles) nothing
# is ever cached, and every run's process would compile mlflow, sklearn, pandas and dagster from
# source again, about 10 s of each run (bench/RESULTS.md).
$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --all-extras --compile-bytecode --python $(PYTHON)
	touch $@

# The laptop instance: the top-level dagster.yaml, which a bare `dagster dev` at the repo root
# reads too, with its storage paths made absolute in DAGSTER_HOME. With the default DAGSTER_HOME
# both point at .dagster_home/, so make and bare `dagster` share one instance (the demo's runs
# show in `dagster dev`); Dagster's other files (telemetry queues) stay in DAGSTER_HOME too.
$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	sed 's|base_dir: \.dagster_home|base_dir: $(DAGSTER_HOME)|' dagster.yaml > $@.tmp
	mv $@.tmp $@

# The demo tells its story from a clean slate: it clears the project's state in the MLOPS_HOME
# and DAGSTER_HOME it uses, and only what the project made there (mlops_assets/tools/project_state.py);
# a user's other files in those directories stay. Its drift sensor is on, as in `make ui`.
demo: setup
	@$(BIN)/python -m mlops_assets.tools.project_state reset
	MLOPS_DRIFT_SENSOR=on MLOPS_SCORING_SCHEDULE=on $(BIN)/python -m mlops_assets.tools.demo

# `dg dev` on the dg project ([tool.dg] in pyproject.toml: mlops_assets.definitions), without
# a start-up notice that does not apply here (mlops_assets/tools/ui.py says which and why).
# UI_PORT picks another port.
UI_PORT ?= 3000
ui: setup
	@echo "Dagster UI on http://127.0.0.1:$(UI_PORT) (instance in $(DAGSTER_HOME)); Ctrl-C to stop."
	@MLOPS_DRIFT_SENSOR=on MLOPS_SCORING_SCHEDULE=on \
		$(BIN)/python -m mlops_assets.tools.ui -h 127.0.0.1 -p $(UI_PORT)

# Without MLflow 3's job runner (huey consumers for GenAI jobs this project never submits) and
# with one request worker: 2 processes and about 0.5 GB instead of 15 and 3.1 GB, measured with
# ps on this store (docs/deployment.md).
# It prints the address to open first: the experiment's runs in MLflow's "Model training" mode,
# which MLflow 3.17 does not open on by itself (mlops_assets/tools/mlflow_ui.py).
mlflow-ui: setup
	@$(BIN)/python -m mlops_assets.tools.mlflow_ui --url http://127.0.0.1:$(MLFLOW_PORT) \
		--store $(MLOPS_HOME)/mlflow.db
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false $(BIN)/mlflow ui \
		--backend-store-uri sqlite:///$(MLOPS_HOME)/mlflow.db \
		--default-artifact-root $(MLOPS_HOME)/mlartifacts --host 127.0.0.1 --port $(MLFLOW_PORT) --workers 1

# The online scoring service on the champion of the project's store (MLOPS_SERVE_HOST, default
# 127.0.0.1; MLOPS_SERVE_PORT, default 8000); it follows `champion` and logs every request to
# $(MLOPS_HOME)/requests, a scoring source (README: Online scoring).
serve: setup
	$(BIN)/python -m mlops_assets.serving

# The monitoring assets for the days FROM..TO (YYYY-MM-DD), one run for the range, launched
# through the webserver of `make ui` as its "Materialize" on a partition range is; its daemon
# runs it (mlops_assets/tools/backfills.py). MLOPS_DAGSTER_UI_URL points it at another webserver.
backfill: setup
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make backfill FROM=2026-01-02 TO=2026-01-15"; exit 2; }
	$(BIN)/python -m mlops_assets.tools.backfills --from $(FROM) --to $(TO)

# The production topology on this machine: Postgres, MLflow server, gRPC code server, daemon and
# webserver, each on a free local port in a temp directory; Ctrl-C stops them all.
stack: setup
	$(BIN)/python scripts/stack.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Strict on the Dagster-free domain/ and contracts.py, mypy's defaults elsewhere: [tool.mypy] in pyproject.toml.
# bench/ too (mypy's defaults): `make bench` is the product's performance claims, and a type error
# there would surface only in a run of many minutes. About 1 s more when mypy's cache is warm.
.PHONY: typecheck
typecheck: setup
	$(BIN)/mypy mlops_assets bench

test: lint typecheck
	$(BIN)/dg check defs
	$(BIN)/pytest -n 2 --dist loadfile

# The Dagster-free domain tests, under a minute: no MLflow store, no Dagster instance. The slow ones
# (statistical simulations, evidently) run in `make test`, with everything else.
test-unit: setup
	$(BIN)/pytest mlops_assets_tests/domain -m "not slow" -q

bench: setup
	$(BIN)/python bench/run_all.py

# The project's state in MLOPS_HOME and DAGSTER_HOME (and make's dagster.yaml copy), nothing
# else there; the standard library only, so it needs no .venv.
clean:
	@$(PYTHON) -m mlops_assets.tools.project_state clean
