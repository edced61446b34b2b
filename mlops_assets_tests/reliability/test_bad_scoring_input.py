"""Bad daily scoring files: each is either handled as documented (unseen categories scored,
extra columns ignored and reported, files larger than a chunk scored in full, labels optional)
or fails at scoring_data, the first asset that can know, naming the file, column and row and
saying what to do. A failing day stores nothing: no partial file, the registry and every
earlier partition (including this day's previous good version) exactly as they were."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mlops_assets.definitions import defs
from mlops_assets.domain.synthetic import generate_daily_batch
from mlops_assets.resources.data_source import ScoringDataSource
from mlops_assets_tests.failures import step_failure

FIRST_DAY = date(2026, 1, 2)
ROWS = 400
QUICK = {"ops": {"daily_monitoring": {"config": {"drift_report": {"evidently_html": False}}}}}
WHAT_TO_DO = ("fix", "export", "rename", "deliver", "re-run")


def _good(day: date) -> pd.DataFrame:
    return generate_daily_batch(day, n_rows=ROWS, scenario="none", seed=day.toordinal())


def _csv(directory: Path, day: date, frame: pd.DataFrame) -> Path:
    path = directory / f"{day}.csv"
    frame.to_csv(path, index=False)
    return path


# Each maker writes the day's bad delivery over the good one and returns the path it names.
Maker = Callable[[Path, date], Path]


def _empty(directory: Path, day: date) -> Path:
    path = directory / f"{day}.csv"
    path.write_bytes(b"")
    return path


def _header_only(directory: Path, day: date) -> Path:
    return _csv(directory, day, _good(day).head(0))


def _text_in_numeric(directory: Path, day: date) -> Path:
    frame = _good(day)
    frame["income"] = frame["income"].astype(object)
    frame.loc[10:20, "income"] = "n/a (see notes)"
    return _csv(directory, day, frame)


def _all_nan(directory: Path, day: date) -> Path:
    return _csv(directory, day, _good(day).assign(credit_score=np.nan))


def _infinities(directory: Path, day: date) -> Path:
    frame = _good(day)
    frame.loc[[3, 7], "loan_amount"] = np.inf
    return _csv(directory, day, frame)


def _duplicated_columns(directory: Path, day: date) -> Path:
    path = _csv(directory, day, _good(day))
    header, rest = path.read_text().split("\n", 1)
    path.write_text(header.replace("loan_amount", "income") + "\n" + rest)
    return path


def _missing_column(directory: Path, day: date) -> Path:
    return _csv(directory, day, _good(day).drop(columns="credit_score"))


def _numbers_for_categories(directory: Path, day: date) -> Path:
    frame = _good(day)
    frame["region"] = np.arange(len(frame)) % 5
    return _csv(directory, day, frame)


def _truncated(directory: Path, day: date) -> Path:
    path = _csv(directory, day, _good(day))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _non_utf8(directory: Path, day: date) -> Path:
    path = _csv(directory, day, _good(day))
    path.write_bytes(path.read_bytes().replace(b"north", "n\xf6rth".encode("latin-1"), 1))
    return path


def _binary_garbage(directory: Path, day: date) -> Path:
    path = directory / f"{day}.csv"
    path.write_bytes(np.random.default_rng(day.toordinal()).bytes(20_000))
    return path


def _misnamed(directory: Path, day: date) -> Path:
    (directory / f"{day}.csv").rename(directory / f"{day:%Y_%m_%d}.csv")
    return directory


def _no_file(directory: Path, day: date) -> Path:
    (directory / f"{day}.csv").unlink()
    return directory


FAILING: list[tuple[str, Maker, list[str]]] = [
    ("empty", _empty, ["empty (0 bytes)"]),
    ("header-only", _header_only, ["no data rows"]),
    ("text-in-numeric", _text_in_numeric, ["'income'", "'n/a (see notes)' at row 10"]),
    ("all-nan-column", _all_nan, ["'credit_score'", f"all {ROWS} values missing"]),
    ("infinities", _infinities, ["'loan_amount'", "finite", "at row 3", "at row 7"]),
    ("duplicated-columns", _duplicated_columns, ["duplicated column names ['income']"]),
    ("missing-column", _missing_column, ["column 'credit_score' is missing"]),
    # A CSV has no types: the codes are read as text, and not one is a region the model knows.
    ("numbers-for-categories", _numbers_for_categories, ["'region'", "none is one the model"]),
    ("truncated", _truncated, ["truncated", "data row"]),
    ("non-utf8", _non_utf8, ["not valid UTF-8 at line", "data row"]),
    ("binary-garbage", _binary_garbage, ["binary content"]),
    (
        "mis-named",
        _misnamed,
        ["no file for partition", "looks like this day's file", "rename it to"],
    ),
    ("no-file", _no_file, ["no file for partition", "Deliver the day's file"]),
]


class Scoring:
    """The shared champion and a directory of daily files as the scoring source."""

    def __init__(self, project, directory: Path) -> None:
        self.project = project
        self.directory = directory
        self.resources = project.resources(
            scoring_source=ScoringDataSource(location=str(directory))
        )

    def run(self, day: date, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
        return defs.resolve_job_def("daily_monitoring_job").execute_in_process(
            partition_key=day.isoformat(),
            instance=self.project.instance,
            resources=self.resources,
            run_config=_merge(QUICK, run_config or {}),
            raise_on_error=False,
        )

    def outputs(self, day: date) -> dict[str, tuple[str, int]]:
        """Every file this day's partition wrote, with its content hash and mtime."""
        home = self.project.home
        paths = [
            home / "assets" / "scoring_data" / f"{day}.parquet",
            home / "assets" / "batch_predictions" / f"{day}.parquet",
            home / "reports" / "drift" / f"{day}.json",
        ]
        return {
            str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in paths
        }

    def leftovers(self) -> list[Path]:
        """Temp files of unfinished writes anywhere under MLOPS_HOME."""
        return sorted(self.project.home.rglob("*.tmp"))


def _merge(a: dict, b: dict) -> dict:
    merged = dict(a)
    for key, value in b.items():
        merged[key] = _merge(merged[key], value) if isinstance(merged.get(key), dict) else value
    return merged


@pytest.fixture(scope="module")
def scoring(trained, tmp_path_factory) -> Scoring:
    directory = tmp_path_factory.mktemp("daily")
    scoring = Scoring(trained, directory)
    _csv(directory, FIRST_DAY, _good(FIRST_DAY))
    assert scoring.run(FIRST_DAY).success
    return scoring


def _registry_state(project) -> list[tuple[str, tuple[str, ...]]]:
    return [(v.version, v.aliases) for v in project.registry().versions()]


def _check(result: dg.ExecuteInProcessResult, name: str):
    (evaluation,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.asset_check_evaluation_data.check_name == name
    ]
    return evaluation


def _materialized(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)
    ]
    return event.materialization.metadata


@pytest.mark.parametrize(
    ("index", "make", "named"),
    [(i, make, named) for i, (_, make, named) in enumerate(FAILING)],
    ids=[name for name, _, _ in FAILING],
)
def test_bad_scoring_file_fails_at_scoring_data_and_changes_nothing(scoring, index, make, named):
    day = FIRST_DAY + timedelta(days=1 + index)
    # The day was scored once with good data; then a bad delivery replaces the file.
    _csv(scoring.directory, day, _good(day))
    assert scoring.run(day).success
    before_day, before_first = scoring.outputs(day), scoring.outputs(FIRST_DAY)
    registry_before = _registry_state(scoring.project)

    named_path = make(scoring.directory, day)
    result = scoring.run(day)

    assert not result.success
    step, message = step_failure(result)
    assert step == "scoring_data"
    assert str(named_path) in message
    for text in named:
        assert text in message, message
    assert any(word in message.lower() for word in WHAT_TO_DO), message
    check = _check(result, "scoring_data_conforms")
    assert not check.passed
    assert str(named_path) in check.metadata["failure_cases"].value
    # Nothing stored: no materialisation, no partial file, nothing earlier touched.
    assert not result.get_asset_materialization_events()
    assert scoring.outputs(day) == before_day
    assert scoring.outputs(FIRST_DAY) == before_first
    assert scoring.leftovers() == []
    assert _registry_state(scoring.project) == registry_before


HANDLED_FIRST = FIRST_DAY + timedelta(days=1 + len(FAILING))


def test_unseen_categories_are_scored_and_reported(scoring):
    day = HANDLED_FIRST
    frame = _good(day)
    frame.loc[:49, "purpose"] = "crypto_mining"
    _csv(scoring.directory, day, frame)
    result = scoring.run(day)
    assert result.success
    check = _check(result, "scoring_data_conforms")
    assert check.passed
    assert check.metadata["unseen_category_rows"].value == 50
    assert "crypto_mining" in check.metadata["unseen_categories"].value
    assert _materialized(result, "batch_predictions")["dagster/row_count"].value == ROWS


def test_extra_columns_are_ignored_and_reported(scoring):
    day = HANDLED_FIRST + timedelta(days=1)
    frame = _good(day).assign(batch_id="b-17", operator_note="checked")
    _csv(scoring.directory, day, frame)
    result = scoring.run(day)
    assert result.success
    scored = _materialized(result, "batch_predictions")
    assert scored["extra_columns_ignored"].value == "batch_id, operator_note"
    assert _check(result, "scoring_data_conforms").metadata["extra_columns"].value == 2
    predictions = pd.read_parquet(scored["path"].value)
    assert "batch_id" not in predictions.columns


def test_a_very_wide_file_reads_only_the_model_columns(scoring):
    day = HANDLED_FIRST + timedelta(days=2)
    good = _good(day)
    noise = pd.DataFrame(
        np.random.default_rng(4).normal(size=(len(good), 1000 - good.shape[1])),
        columns=[f"sensor_{i}" for i in range(1000 - good.shape[1])],
    )
    good = pd.concat([good, noise], axis=1)
    assert good.shape[1] == 1000
    _csv(scoring.directory, day, good)
    result = scoring.run(day)
    assert result.success
    scored = _materialized(result, "batch_predictions")
    batch_columns = 18  # application_id, 15 features, the date and the target
    assert scored["extra_columns"].value == 1000 - batch_columns
    assert scored["extra_columns_ignored"].value.endswith(f"and {1000 - batch_columns - 20} more")
    assert scored["dagster/row_count"].value == ROWS


def test_a_file_larger_than_the_chunk_is_scored_completely_in_chunks(scoring):
    day = HANDLED_FIRST + timedelta(days=3)
    frame = generate_daily_batch(day, n_rows=1050, scenario="none", seed=1)
    frame.to_parquet(scoring.directory / f"{day}.parquet", index=False)
    result = scoring.run(
        day, {"ops": {"daily_monitoring": {"config": {"batch_predictions": {"chunk_rows": 100}}}}}
    )
    assert result.success
    path = _materialized(result, "batch_predictions")["path"].value
    assert pq.ParquetFile(path).metadata.num_row_groups == 11  # ten full chunks and the rest
    predictions = pd.read_parquet(path)
    assert predictions["row"].tolist() == list(range(1050))
    assert predictions["prediction"].notna().all()


def test_an_unlabelled_day_is_scored_without_performance_figures(scoring):
    day = HANDLED_FIRST + timedelta(days=4)
    _csv(scoring.directory, day, _good(day).drop(columns="default"))
    result = scoring.run(day)
    assert result.success
    report = _materialized(result, "drift_report")
    assert report["performance_dropped"].value is False
    assert not any(key.startswith("day_metric") for key in report)
