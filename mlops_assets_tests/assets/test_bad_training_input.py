"""Bad training input fails at the first asset that can know, names the file and column, and
leaves the registry exactly as it was."""

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.domain.synthetic import generate_training_data
from mlops_assets.resources.data_source import TrainingDataSource

# Every message says what to do next, in one of these words.
_WHAT_TO_DO = ("fix", "export", "re-export", "rename", "deliver", "set mlops_", "check the")


def _failure(result: dg.ExecuteInProcessResult) -> tuple[str, str]:
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    return failure.step_key, failure.step_failure_data.error.to_string()


def _description(result: dg.ExecuteInProcessResult) -> str:
    """The failure's own message, without the stack trace."""
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    return failure.step_failure_data.error.message


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


def _header_only(tmp: Path) -> Path:
    return _write_csv(_good().head(0), tmp / "train.csv")


def _one_class(tmp: Path) -> Path:
    return _write_csv(_good().assign(default=0), tmp / "train.csv")


def _duplicated_columns(tmp: Path) -> Path:
    path = _write_csv(_good(), tmp / "train.csv")
    lines = path.read_text().split("\n", 1)
    path.write_text(lines[0].replace("loan_amount", "income") + "\n" + lines[1])
    return path


def _binary_garbage(tmp: Path) -> Path:
    path = tmp / "train.csv"
    path.write_bytes(np.random.default_rng(0).bytes(64_000))
    return path


def _binary_parquet(tmp: Path) -> Path:
    path = tmp / "train.parquet"
    path.write_bytes(b"PAR1" + np.random.default_rng(1).bytes(64_000))
    return path


def _wide_without_the_model_columns(tmp: Path) -> Path:
    rng = np.random.default_rng(2)
    wide = pd.DataFrame(rng.normal(size=(300, 1000)), columns=[f"x{i}" for i in range(1000)])
    return _write_csv(wide, tmp / "train.csv")


@pytest.mark.parametrize(
    ("make_file", "failing_asset", "named"),
    [
        (_empty, "raw_data", "empty"),
        (_header_only, "raw_data", "no data rows"),
        (_missing_target, "validated_data", "default"),
        (_one_class, "validated_data", "only the class"),
        (_wrong_dtype, "validated_data", "income"),
        (_all_nan, "validated_data", "credit_score"),
        (_infinities, "validated_data", "loan_amount"),
        (_duplicated_columns, "raw_data", "duplicated column names ['income']"),
        (_truncated, "raw_data", "malformed CSV"),
        (_non_utf8, "raw_data", "UTF-8"),
        (_binary_garbage, "raw_data", "binary content"),
        (_binary_parquet, "raw_data", "not a readable Parquet file"),
        (_wide_without_the_model_columns, "validated_data", "column 'age' is missing"),
    ],
    ids=[
        "empty",
        "header-only",
        "missing-target",
        "one-class-target",
        "wrong-dtype",
        "all-nan",
        "infinities",
        "duplicated-columns",
        "truncated",
        "non-utf8",
        "binary-garbage-csv",
        "binary-garbage-parquet",
        "wide-1000-columns-without-the-model-columns",
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
    description = _description(result)
    assert step == failing_asset
    assert str(path) in message
    assert named in message
    assert any(word in description.lower() for word in _WHAT_TO_DO), description
    assert [(v.version, tuple(v.aliases)) for v in registry.versions()] == before
    assert not [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() in ("trained_model", "registered_model_version")
    ]
    # The failing asset's blocking check carries the failure cases, naming the file.
    (check,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and not e.asset_check_evaluation_data.passed
    ]
    assert check.asset_key.to_user_string() == failing_asset
    assert str(path) in check.metadata["failure_cases"].value


def test_unreadable_rows_are_named_by_line(tmp_path):
    from mlops_assets.domain.data import DataSourceError, read_table_file

    for make_file, row in ((_non_utf8, None), (_truncated, None)):
        path = make_file(tmp_path)
        with pytest.raises(DataSourceError) as error:
            read_table_file(path)
        assert error.value.row is not None and error.value.row >= 0
        assert f"data row {error.value.row}" in str(error.value)
        del row


def test_extra_and_1000_extra_columns_are_dropped_and_reported(project, tmp_path):
    assert project.train(
        data_source=TrainingDataSource(synthetic_rows=1500, synthetic_seed=5)
    ).success
    good = _good()
    noise = pd.DataFrame(
        np.random.default_rng(3).normal(size=(len(good), 985)),
        columns=[f"extra_{i}" for i in range(985)],
    )
    path = _write_csv(pd.concat([good, noise], axis=1), tmp_path / "wide.csv")
    result = project.train(data_source=TrainingDataSource(location=str(path)))
    assert result.success
    validated = project.instance.get_latest_materialization_event(
        dg.AssetKey("validated_data")
    ).asset_materialization
    assert validated.metadata["extra_columns_dropped"].value == 985
    # The model is trained on the schema's features only, as before.
    summary = result.output_for_node("evaluation_report")
    assert not any(f.startswith("extra_") for f in summary.model.features)
    assert len(summary.model.features) == 15


def test_failed_validation_check_blocks_training_and_shows_failure_cases(project, tmp_path):
    assert project.train(data_source=TrainingDataSource(synthetic_rows=1500)).success
    result = project.train(data_source=TrainingDataSource(location=str(_wrong_dtype(tmp_path))))
    assert not result.success
    check = next(
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data.check_name == "schema_conforms"
    )
    assert (check.check_name, check.passed) == ("schema_conforms", False)
    table = check.metadata["failure_cases"].value
    assert "income" in table and "n/a (see notes)" in table
