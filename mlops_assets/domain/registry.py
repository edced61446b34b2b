"""Registered models as plain data: a model version as the registry holds it, and the model's
name. The promotion rules over them are in domain.promotion."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mlops_assets.domain.data import is_sql_url

_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True)
class RegistryVersion:
    """A registered model version as plain data. MLflow's own object types `version` as an int
    or a str depending on the store; here it is always the str MLflow's URIs use."""

    version: str
    run_id: str = ""
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    created_at_ms: int = 0
    description: str = ""


def checked_model_name(name: str) -> str:
    """Model names go into MLflow filter strings and lock file names: allow only characters
    that need no quoting."""
    if not _MODEL_NAME.fullmatch(name):
        raise ValueError(f"MLOPS_MODEL_NAME={name!r}: use letters, digits, '-', '_' and '.' only.")
    return name


BUILTIN_MODEL_NAME = "credit-default"


def default_model_name(training_data: str, training_table: str = "") -> str:
    """The registered model name when MLOPS_MODEL_NAME is unset: `credit-default` for the
    built-in data, else the stem of the file or directory (the table, for a SQL URL), so another
    dataset never lands on the built-in model and its schema. Reduced to what MLflow names allow
    everywhere (letters, digits, `-`, `_`, `.`)."""
    if not training_data:
        return BUILTIN_MODEL_NAME
    if is_sql_url(training_data):
        source = training_table
    else:
        path = Path(training_data.rstrip("/\\")).expanduser()
        source = path.name if path.is_dir() else path.stem
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", source).strip("-_.")
    return name or "model"
