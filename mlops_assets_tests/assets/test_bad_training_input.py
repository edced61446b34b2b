"""Bad training input fails at the first asset that can know, names the file and column, and
leaves the registry exactly as it was."""

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.synthetic import generate_training_data
from mlops_assets.resources.data_source import TrainingDataSource


def _failure(result: dg.ExecuteInProcessResult) -> tuple[str, str]:
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    return failure.step_key, failure.step_failure_data.error.to_string()


def _good() -> pd.DataFrame:
    return generate_training_data(n_rows=1500, seed=5)


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def _empty(tmp: Path) -> Path:
    (tmp / "train.csv").write_bytes(b"")
    return tmp / "train.csv"


def _missing_target(tmp: Path) -> Path:
    return _write_csv(_good().drop(columns="default"), tmp / "train.csv")


def _wrong_dtype(tmp: Path) -> Path:
    frame = _good()
    frame["income"] = frame["income"].astype(object)
    frame.loc[10:20, "income"] = "n/a (see notes)"
    return _write_csv(frame, tmp / "train.csv")


def _all_nan(tmp: Path) -> Path:
    frame = _good()
    frame["credit_score"] = np.nan
    return _write_csv(frame, tmp / "train.csv")


def _infinities(tmp: Path) -> Path:
    frame = _good()
    frame.loc[frame.index[:300], "loan_amount"] = np.inf
    return _write_csv(frame, tmp / "train.csv")


def _truncated(tmp: Path) -> Path:
    path = _write_csv(_good(), tmp / "train.csv")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] + b'"unterminated')
    return path


def _non_utf8(tmp: Path) -> Path:
    path = _write_csv(_good(), tmp / "train.csv")
    path.write_bytes(path.read_bytes().replace(b"rent", "r\xe9nt".encode("latin-1"), 1))
    return path


@pytest.mark.parametrize(
    ("make_file", "failing_asset", "named"),
    [
        (_empty, "raw_data", "empty"),
        (_missing_target, "validated_data", "default"),
        (_wrong_dtype, "validated_data", "income"),
        (_all_nan, "validated_data", "credit_score"),
        (_infinities, "validated_data", "loan_amount"),
        (_truncated, "raw_data", "malformed CSV"),
        (_non_utf8, "raw_data", "UTF-8"),
    ],
    ids=[
        "empty",
        "missing-target",
        "wrong-dtype",
        "all-nan",
        "infinities",
        "truncated",
        "non-utf8",
    ],
)
def test_bad_training_file_fails_early_and_leaves_the_registry_untouched(
    project, tmp_path, make_file, failing_asset, named
):
    # A good model first: the bad file must not disturb it.
    assert project.train(
        data_source=TrainingDataSource(synthetic_rows=1500, synthetic_seed=5)
    ).success
    registry = project.registry()
    before = [(v.version, tuple(v.aliases)) for v in registry.versions()]

    path = make_file(tmp_path)
    result = project.train(data_source=TrainingDataSource(location=str(path)))
    assert not result.success
    step, message = _failure(result)
    assert step == failing_asset
    assert str(path) in message
    assert named in message
    assert [(v.version, tuple(v.aliases)) for v in registry.versions()] == before
    assert not [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() in ("trained_model", "registered_model_version")
    ]


def test_failed_validation_check_blocks_training_and_shows_failure_cases(project, tmp_path):
    assert project.train(data_source=TrainingDataSource(synthetic_rows=1500)).success
    result = project.train(data_source=TrainingDataSource(location=str(_wrong_dtype(tmp_path))))
    assert not result.success
    check = next(
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    )
    assert (check.check_name, check.passed) == ("schema_conforms", False)
    table = check.metadata["failure_cases"].value
    assert "income" in table and "n/a (see notes)" in table
