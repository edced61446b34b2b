"""palmerpenguins, a real table that a package ships, from training to a backfilled range of
monitoring days: three species (a multiclass target held as text), text categories with gaps,
two birds with no measurement at all, a `year` column that the scored days leave, the days
read from a database table and their labels delivered later as files of their own."""

import itertools
from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from mlops_assets.defs.monitoring import scoring_partitions
from mlops_assets.defs.monitoring.jobs import monitoring_assets
from mlops_assets.resources.data_source import (
    LabelsDataSource,
    ScoringDataSource,
    TrainingDataSource,
)
from mlops_assets.resources.io_managers import asset_path
from mlops_assets.settings import Settings
from mlops_assets_tests.failures import step_failure
from mlops_assets_tests.monitoring_runs import run_day_range

palmerpenguins = pytest.importorskip("palmerpenguins")

FIRST = date(2026, 1, 2)
DAYS = [(FIRST + timedelta(days=n)).isoformat() for n in range(3)]
ASSETS = [dg.AssetKey(name) for name in monitoring_assets(Settings.from_env({}))]


def _penguins() -> pd.DataFrame:
    """The table as the survey recorded it, year after year, with a sighting id that rises
    with time (the package orders it by species first)."""
    frame = palmerpenguins.load_penguins().sort_values("year", kind="stable")
    frame.insert(0, "sighting_id", np.arange(1, len(frame) + 1))
    return frame.reset_index(drop=True)


@pytest.fixture
def survey(project, tmp_path):
    """Trained on 2007-2008; 2009's birds, shuffled, scored over three days from a SQLite
    table, and their species delivered a day later as one CSV per scored day."""
    frame = _penguins()
    training = tmp_path / "penguins-2007-2008.csv"
    frame[frame["year"] < 2009].to_csv(training, index=False)
    source = TrainingDataSource(
        location=str(training), target_column="species", id_columns="sighting_id"
    )
    trained = project.train(data_source=source)
    assert trained.success, step_failure(trained)

    later = frame[frame["year"] == 2009].sample(frac=1.0, random_state=0)
    bounds = np.linspace(0, len(later), len(DAYS) + 1).astype(int)
    days = [later.iloc[start:end] for start, end in itertools.pairwise(bounds)]
    url = f"sqlite:///{tmp_path / 'survey.db'}"
    engine = sa.create_engine(url)
    scored = pd.concat(
        day.drop(columns=["species"]).assign(scored_on=name)
        for name, day in zip(DAYS, days, strict=True)
    )
    scored.to_sql("sightings", engine, index=False)
    engine.dispose()
    labels = tmp_path / "species"
    labels.mkdir()
    for name, day in zip(DAYS, days, strict=True):
        day[["sighting_id", "species"]].to_csv(labels / f"{name}.csv", index=False)
    resources = project.resources(
        data_source=source,
        scoring_source=ScoringDataSource(location=url, table="sightings", date_column="scored_on"),
        labels_source=LabelsDataSource(location=str(labels)),
    )
    return trained, resources, days


def test_penguins_train_as_a_multiclass_model_on_their_real_columns(survey):
    trained, _, _ = survey
    model = trained.output_for_node("trained_model")
    assert model.task == "multiclass"
    assert set(model.categorical_features) == {"island", "sex"}
    assert "sighting_id" not in model.numeric_features
    summary = trained.output_for_node("evaluation_report")
    # The species are told apart by their bills and flippers: a model that learnt anything
    # is far above the 1/3 of guessing.
    assert summary.metrics["balanced_accuracy"] > 0.9


def test_a_backfilled_range_of_penguin_days_scores_judges_and_joins_late_labels(project, survey):
    _, resources, days = survey

    result = run_day_range(project, resources, DAYS[0], DAYS[-1])

    assert result.success, step_failure(result)
    # One run, every day its own partition of every monitoring asset.
    for key in ASSETS:
        status = project.instance.get_status_by_partition(
            key, DAYS, scoring_partitions(Settings.from_env().scoring_start)
        )
        assert {d: s.value for d, s in status.items()} == dict.fromkeys(DAYS, "MATERIALIZED")
    for name, day in zip(DAYS, days, strict=True):
        predictions = pd.read_parquet(asset_path(dg.AssetKey("batch_predictions"), name))
        # Every bird scored, traced to its sighting and the model version.
        assert sorted(predictions["sighting_id"]) == sorted(day["sighting_id"])
        assert set(predictions["prediction"]) <= {"Adelie", "Chinstrap", "Gentoo"}
        assert set(predictions["model_version"]) == {"1"}

    materialised = {
        (e.asset_key.to_user_string(), e.partition): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    for name, day in zip(DAYS, days, strict=True):
        features = _table(materialised[("drift_report", name)]["features"].value)
        # 2009 lies outside the years the model was trained on: the column is drifted on
        # every day, and the birds themselves are not (the days sample 2009 at random).
        drifted = {row["feature"] for row in features if row["drifted"] == "True"}
        assert drifted == {"year"}, features
        assert materialised[("labels", name)]["matched"].value == len(day)
        realized = materialised[("realized_performance", name)]
        assert realized["labelled_rows"].value == len(day)
        assert realized["unlabelled_predictions"].value == 0
        # The judged metric's interval in the metadata is the one its reason quotes.
        low, high = realized["accuracy_ci_low"].value, realized["accuracy_ci_high"].value
        assert f"[{low:.3f}, {high:.3f}]" in realized["performance_reason"].value
        assert realized["log_loss_ci_low"].value >= 0


def _table(markdown: str) -> list[dict[str, str]]:
    header, _, *rows = markdown.strip().splitlines()
    names = [cell.strip() for cell in header.strip("|").split("|")]
    return [
        dict(zip(names, (cell.strip() for cell in row.strip("|").split("|")), strict=True))
        for row in rows
    ]
