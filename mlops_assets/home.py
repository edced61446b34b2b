"""Where the project's state lives, for code that must not import dagster (the service)."""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> str:
    """MLOPS_HOME, or `.mlops` in the working directory (what `make demo` and `make ui` use)."""
    return os.environ.get("MLOPS_HOME") or str(Path.cwd() / ".mlops")
