"""The schema contract of a registered model name: which contract a table is checked against,
and the immutable schema versions a model is trained under, stored as JSON files.

Dagster-free: validated_data gathers its inputs, calls `SchemaContracts`, attaches metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_assets.domain.column_settings import ColumnSettings, changed_roles, redefining_settings
from mlops_assets.domain.data import DataSourceError, check_data_path, write_text_atomic
from mlops_assets.domain.schemas import (
    DatasetSchema,
    DataValidationError,
    ValidationResult,
    conform_to_contract,
    infer_schema,
    learn_expectations,
    validate,
)

if TYPE_CHECKING:
    import pandas as pd

# pandera checks that mean the table is not the one the contract describes.
_TABLE_MISMATCH_CHECKS = ("column_in_dataframe", "coerce_dtype", "dtype")


@dataclass(frozen=True)
class Contract:
    schema: DatasetSchema
    origin: str
    """Where the contract comes from, for the log."""
    stored_file: Path | None = None
    """The model name's stored schema file the contract was read from (None: inferred now)."""
    given_file: Path | None = None
    """The user's schema_path: used as is, expectations included."""


@dataclass(frozen=True)
class SchemaVersion:
    schema: DatasetSchema
    file: Path

    @property
    def label(self) -> str:
        """`v<N>-<fingerprint>` (a given schema: its file's stem), as the MLflow run is tagged."""
        return self.file.stem


class SchemaContracts:
    """The schema versions of one registered model name: `<directory>/v<N>-<fingerprint>.json`."""

    def __init__(self, directory: Path, model_name: str) -> None:
        self.directory = directory
        self.model_name = model_name

    def stored_versions(self) -> list[Path]:
        """The stored version files, oldest first."""
        return sorted(self.directory.glob("v*-*.json"), key=lambda p: int(p.name[1:].split("-")[0]))

    def contract_for(
        self,
        frame: pd.DataFrame,
        settings: ColumnSettings,
        source: str,
        schema_path: str = "",
        reinfer: bool = False,
    ) -> Contract:
        """The user's schema, else the latest stored version's contract, else one inferred now.

        A stored contract is re-inferred when the id or exclusion settings name roles it does
        not have: changing the roles is how a user fixes a leaking or id column.

        Raises:
            DataSourceError: schema_path is outside the data roots or does not exist.
            DataValidationError: the settings name another target or timestamp than the stored
                contract, or the table cannot be inferred (a missing or one-class target).
        """
        if schema_path:
            path = check_data_path(schema_path, "validated_data schema_path")
            if not path.exists():
                raise DataSourceError(
                    f"{path}: schema file not found (validated_data schema_path)."
                )
            schema = DatasetSchema.from_json(path.read_text(encoding="utf-8"))
            return Contract(schema, f"given in {path}", given_file=path)
        stored = self.stored_versions()
        why = "inferred from this data (first training under this model name)"
        if stored and reinfer:
            why = "re-inferred from this data (reinfer_schema: true)"
        elif stored:
            latest = DatasetSchema.from_json(stored[-1].read_text(encoding="utf-8"))
            redefined = redefining_settings(latest, settings)
            if redefined:
                # Never train another target or timestamp under the stored contract, and never
                # replace that contract without being asked to.
                raise DataValidationError(
                    f"{source}: model name {self.model_name!r} already has a schema "
                    f"({stored[-1]}), and {'; '.join(redefined)}. If this is a different table "
                    "or task, start a new schema: set reinfer_schema: true in the "
                    "validated_data run config, or train it under a new MLOPS_MODEL_NAME."
                )
            roles = changed_roles(latest, settings)
            if not roles:
                return Contract(latest, f"stored in {stored[-1]}", stored_file=stored[-1])
            why = f"re-inferred from this data: {'; '.join(roles)} differ from {stored[-1]}"
        schema = infer_schema(
            frame,
            target=settings.target,
            timestamp_column=settings.timestamp_column,
            source=source,
            id_columns=settings.id_columns,
            exclude_columns=settings.excluded_columns,
        )
        return Contract(schema, why)

    def validate(self, frame: pd.DataFrame, contract: Contract, source: str) -> ValidationResult:
        """`frame` checked against the contract, every breaking row quarantined (the caller
        judges the tolerated share, so its check says which rule failed).

        Raises:
            DataValidationError: the table is unusable; against a stored contract whose columns
                or dtypes it does not have, the message says how to start a new schema.
        """
        try:
            # A retraining window read from stored days is typed back to the first training's
            # delivered types, so the signature and the model's categories never drift.
            frame = conform_to_contract(frame, contract.schema, source)
            return validate(frame, contract.schema, source=source, tolerated_quarantine_share=1.0)
        except DataValidationError as error:
            checks = error.failure_cases["check"].astype(str)
            if (
                contract.stored_file is None
                or not checks.str.startswith(_TABLE_MISMATCH_CHECKS).any()
            ):
                raise
            raise DataValidationError(
                f"{error} Note: model name {self.model_name!r} already has a schema "
                f"({contract.stored_file}), inferred from the data it was first trained on. If "
                "this is a different table, start a new schema: set reinfer_schema: true in the "
                "validated_data run config, or train it under a new MLOPS_MODEL_NAME.",
                error.failure_cases,
            ) from error

    def version_for(self, contract: Contract, result: ValidationResult) -> SchemaVersion:
        """The schema the model is trained under: the contract with expectations learned from
        the valid rows, stored as an immutable `v<N>-<fingerprint>.json` (the latest file is
        reused when equal), so a model version always names its exact schema. A given schema
        is used as is."""
        if contract.given_file is not None:
            return SchemaVersion(contract.schema, contract.given_file)
        schema = learn_expectations(contract.schema, result.valid)
        stored = self.stored_versions()
        if stored:
            latest = DatasetSchema.from_json(stored[-1].read_text(encoding="utf-8"))
            if latest.fingerprint() == schema.fingerprint():
                return SchemaVersion(latest, stored[-1])
        path = self.directory / f"v{len(stored) + 1}-{schema.fingerprint()}.json"
        write_text_atomic(schema.to_json(), path)
        return SchemaVersion(schema, path)
