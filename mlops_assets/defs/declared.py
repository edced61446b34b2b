"""The models declared in YAML: each `mlops_assets/defs/<name>/defs.yaml`, built through
Dagster's component tree (which resolves and validates the YAML and gives each component its
own load context), merged by definitions.py into the code location beside the default model.

Outside mlops_assets/components/ so that a code location declaring no model never imports the
component's classes (about 12 ms of every process's load, `python -X importtime`)."""

from pathlib import Path

import dagster as dg

DEFS = Path(__file__).resolve().parent


def declared_model_files(defs: Path = DEFS) -> list[Path]:
    """The slices are Python packages; a declared model is a folder holding a defs.yaml."""
    return sorted(defs.glob("*/defs.yaml"))


def declared_models(defs: Path = DEFS) -> dg.Definitions:
    files = declared_model_files(defs)
    if not files:
        # No component tree at all: reading the project's configuration costs each process
        # that loads the code location, and most deployments declare no YAML model.
        return dg.Definitions()
    tree = dg.ComponentTree.for_project(defs)
    return dg.Definitions.merge(*(tree.build_defs_at_path(f.parent) for f in files))
