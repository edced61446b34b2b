"""Where the project keeps its artefacts (MLOPS_HOME): snapshots, schemas, quarantine, reports."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg


def default_home() -> str:
    """MLOPS_HOME, or `.mlops` in the working directory (what `make demo` and `make ui` use)."""
    return os.environ.get("MLOPS_HOME") or str(Path.cwd() / ".mlops")


class ProjectStorage(dg.ConfigurableResource):
    """The project's artefact directory. Every file the pipeline writes lives below `home`."""

    home: str = ""  # empty: MLOPS_HOME, else ./.mlops

    @property
    def root(self) -> Path:
        return Path(self.home or default_home()).expanduser().resolve()

    def path(self, *parts: str) -> Path:
        """An absolute path below the home; its parent directory exists."""
        path = self.root.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
