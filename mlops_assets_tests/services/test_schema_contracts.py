"""The schema contract of a model name, without Dagster: which contract a table is checked
against, the new-schema hint, and the immutable versions stored per model name."""

from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from mlops_assets.domain.column_settings import ColumnSettings
from mlops_assets.domain.data import DataSourceError
from mlops_assets.domain.schemas import DataValidationError
from mlops_assets.services.schema_contracts import SchemaContracts

SOURCE = "/data/clinic.csv"
SETTINGS = ColumnSettings(target="target")


def _cancer() -> pd.DataFrame:
    return load_breast_cancer(as_frame=True).frame


def _trained_once(tmp_path: Path) -> tuple[SchemaContracts, Path]:
    """A model name whose first training stored v1."""
    contracts = SchemaContracts(tmp_path / "schemas" / "clinic", "clinic")
    frame = _cancer()
    contract = contracts.contract_for(frame, SETTINGS, SOURCE)
    version = contracts.version_for(contract, contracts.validate(frame, contract, SOURCE))
    return contracts, version.file


def test_the_first_training_infers_a_contract_and_stores_it_as_v1(tmp_path):
    contracts = SchemaContracts(tmp_path / "schemas" / "clinic", "clinic")
    frame = _cancer()
    contract = contracts.contract_for(frame, SETTINGS, SOURCE)
    assert contract.origin == "inferred from this data (first training under this model name)"
    assert contract.stored_file is None and contracts.stored_versions() == []

    version = contracts.version_for(contract, contracts.validate(frame, contract, SOURCE))
    assert version.label == f"v1-{version.schema.fingerprint()}"
    assert contracts.stored_versions() == [version.file]
    assert version.file.parent == tmp_path / "schemas" / "clinic"


def test_the_same_data_again_reuses_the_stored_contract_and_its_file(tmp_path):
    contracts, v1 = _trained_once(tmp_path)
    frame = _cancer()
    contract = contracts.contract_for(frame, SETTINGS, SOURCE)
    assert (contract.stored_file, contract.origin) == (v1, f"stored in {v1}")
    version = contracts.version_for(contract, contracts.validate(frame, contract, SOURCE))
    assert version.file == v1 and contracts.stored_versions() == [v1]


def test_new_expectations_store_the_next_version_and_versions_sort_by_number(tmp_path):
    contracts, v1 = _trained_once(tmp_path)
    shifted = _cancer().assign(**{"mean area": lambda f: f["mean area"] * 3})
    for n in range(2, 12):  # v10 and v11 sort after v9, not after v1
        shifted["mean area"] = shifted["mean area"] * 1.5
        contract = contracts.contract_for(shifted, SETTINGS, SOURCE)
        version = contracts.version_for(contract, contracts.validate(shifted, contract, SOURCE))
        assert version.label.startswith(f"v{n}-")
    assert contracts.stored_versions()[0] == v1
    assert contracts.stored_versions()[-1].name.startswith("v11-")


def test_another_target_or_timestamp_is_refused_with_the_new_schema_hint(tmp_path):
    contracts, v1 = _trained_once(tmp_path)
    other = ColumnSettings(target="mean radius")
    with pytest.raises(DataValidationError) as raised:
        contracts.contract_for(_cancer(), other, SOURCE)
    message = str(raised.value)
    assert message.startswith(f"{SOURCE}: model name 'clinic' already has a schema ({v1})")
    assert "its target is 'target', not MLOPS_TARGET_COLUMN='mean radius'" in message
    assert "reinfer_schema: true" in message

    reinferred = contracts.contract_for(_cancer(), other, SOURCE, reinfer=True)
    assert reinferred.origin == "re-inferred from this data (reinfer_schema: true)"
    assert reinferred.schema.target == "mean radius"


def test_changed_exclusions_re_infer_the_contract(tmp_path):
    contracts, v1 = _trained_once(tmp_path)
    excluding = ColumnSettings(target="target", excluded_columns=("worst area",))
    contract = contracts.contract_for(_cancer(), excluding, SOURCE)
    assert contract.origin == (
        f"re-inferred from this data: MLOPS_EXCLUDE_COLUMNS='worst area' differ from {v1}"
    )
    assert contract.schema.excluded_columns == ["worst area"]


def test_a_different_table_against_a_stored_contract_names_the_stored_file(tmp_path):
    contracts, v1 = _trained_once(tmp_path)
    other = _cancer().drop(columns=["mean radius"])
    contract = contracts.contract_for(other, SETTINGS, SOURCE)
    with pytest.raises(DataValidationError) as raised:
        contracts.validate(other, contract, SOURCE)
    assert f"Note: model name 'clinic' already has a schema ({v1})" in str(raised.value)
    assert "mean radius" in raised.value.failure_cases["column"].astype(str).tolist()


def test_a_given_schema_is_used_as_is_and_a_missing_one_is_named(tmp_path):
    _, v1 = _trained_once(tmp_path)
    contracts = SchemaContracts(tmp_path / "schemas" / "other", "other")
    contract = contracts.contract_for(_cancer(), SETTINGS, SOURCE, schema_path=str(v1))
    assert contract.given_file == v1 and contract.origin == f"given in {v1}"
    version = contracts.version_for(contract, contracts.validate(_cancer(), contract, SOURCE))
    assert version.file == v1 and contracts.stored_versions() == []

    missing = tmp_path / "nowhere.json"
    with pytest.raises(DataSourceError) as raised:
        contracts.contract_for(_cancer(), SETTINGS, SOURCE, schema_path=str(missing))
    assert str(raised.value) == f"{missing}: schema file not found (validated_data schema_path)."
