"""`make mlflow-ui`: the address to open, printed before the server starts.

MLflow 3.17's UI has one global switch, "GenAI" or "Model training" (the sidebar's top left),
kept in the browser's localStorage (`mlflow.workflowType`, GenAI by default) and overridden by
the `workflowType` URL parameter for that page only. Opened at its root, or from its experiment
list (whose links drop the parameter), the project's experiment shows as a GenAI dashboard
(traces, token usage). So the printed address is the experiment's own page with
`workflowType=machine_learning` (its runs, the models in the sidebar), and the note says where
the switch is for the pages a person reaches by hand.

The experiment's id is read from the SQLite store read-only (nothing is created or migrated
if the demo has not run yet: the address is then the experiment list, with the parameter).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path


def stored_experiment_id(database: Path, name: str) -> str | None:
    """The id of the live experiment `name` in an MLflow SQLite store, or None."""
    if not database.is_file():
        return None
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            row = connection.execute(
                "SELECT experiment_id FROM experiments WHERE name = ? AND lifecycle_stage = ?",
                (name, "active"),
            ).fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else str(row[0])


def landing_lines(ui_url: str, database: Path) -> list[str]:
    """What `make mlflow-ui` prints: the address to open, and where MLflow's switch is."""
    from mlops_assets.resources.mlflow_registry import ML_WORKFLOW_QUERY, MlflowRegistry

    registry = MlflowRegistry(ui_url=ui_url)
    experiment_id = stored_experiment_id(database, registry.experiment_name)
    if experiment_id is None:
        opening = f"{ui_url.rstrip('/')}/#/experiments?{ML_WORKFLOW_QUERY}"
        what = f"no experiment {registry.experiment_name} in {database} yet: run `make demo`"
    else:
        opening = registry.experiment_url(experiment_id)
        what = f"the runs of experiment {registry.experiment_name}, models in the sidebar"
    return [
        f"MLflow UI: open {opening}",
        f"  ({what}).",
        "  Reached another way, MLflow 3 may show GenAI pages (traces, token usage): pick",
        '  "Model training" at the top left of its sidebar once; the browser remembers it.',
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlops_assets.tools.mlflow_ui")
    parser.add_argument("--url", required=True, help="the address the UI listens on")
    parser.add_argument("--store", required=True, type=Path, help="the SQLite store's file")
    args = parser.parse_args(argv)
    print("\n".join(landing_lines(args.url, args.store)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
