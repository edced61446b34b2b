"""The user's column settings (MLOPS_TARGET_COLUMN, MLOPS_TIMESTAMP_COLUMN, MLOPS_ID_COLUMNS,
MLOPS_EXCLUDE_COLUMNS) judged against a stored schema contract."""

from __future__ import annotations

from dataclasses import dataclass

from mlops_assets.domain.schemas import DatasetSchema


@dataclass(frozen=True)
class ColumnSettings:
    target: str
    timestamp_column: str | None = None
    id_columns: tuple[str, ...] = ()
    excluded_columns: tuple[str, ...] = ()


def redefining_settings(stored: DatasetSchema, settings: ColumnSettings) -> list[str]:
    """The target and timestamp settings that differ from the stored contract's: another
    target or timestamp is another model."""
    changed = []
    if settings.target != stored.target:
        changed.append(
            f"its target is {stored.target!r}, not MLOPS_TARGET_COLUMN={settings.target!r}"
        )
    if settings.timestamp_column != stored.timestamp_column:
        changed.append(
            f"its timestamp is {stored.timestamp_column!r}, not MLOPS_TIMESTAMP_COLUMN="
            f"{settings.timestamp_column!r}"
        )
    return changed


def changed_roles(stored: DatasetSchema, settings: ColumnSettings) -> list[str]:
    """The id and exclusion settings that the stored contract does not hold: changing them is
    how a user fixes a leaking or id column, so they re-infer the contract by themselves."""
    ids, excluded = settings.id_columns, settings.excluded_columns
    changed = []
    if not set(ids) <= set(stored.id_columns):
        changed.append(f"MLOPS_ID_COLUMNS={','.join(ids)!r}")
    if set(excluded) != set(stored.excluded_columns):
        changed.append(f"MLOPS_EXCLUDE_COLUMNS={','.join(excluded)!r}")
    return changed
