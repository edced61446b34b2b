"""A regressor's estimated_performance end to end (real MLflow, real Dagster instance): the
penguins' body mass learnt from 2007-2008, then days of 2009's birds leaning more and more to
the heavy Gentoo (covariate shift), each estimated without its labels and compared with the
MAE its labels give."""

from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.contracts import (
    LOSS_MODEL_PARAM,
)
from mlops_assets.defs.monitoring.regression_estimate import NO_LOSS_MODEL
from mlops_assets.domain.verdicts import EstimatedVerdict
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource
from mlops_assets.resources.io_managers import asset_path
from mlops_assets_tests.failures import step_failure
from mlops_assets_tests.monitoring_runs import run_day_range

palmerpenguins = pytest.importorskip("palmerpenguins")

FIRST = date(2026, 1, 2)
DAYS = [(FIRST + timedelta(days=n)).isoformat() for n in range(12)]
DAY_ROWS = 40


@pytest.mark.slow
def test_a_regressors_estimated_mae_covers_the_realized_mae_on_shifted_days(project, tmp_path):
    frame = palmerpenguins.load_penguins().dropna(subset=["body_mass_g"])
    frame = frame.drop(columns=["year"]).assign(year=frame["year"]).reset_index(drop=True)
    training = tmp_path / "penguins-2007-2008.csv"
    frame[frame["year"] < 2009].drop(columns=["year"]).to_csv(training, index=False)
    source = TrainingDataSource(location=str(training), target_column="body_mass_g")
    trained = project.train(data_source=source)
    assert trained.success, step_failure(trained)
    run_id = trained.output_for_node("trained_model").run_id
    registry = project.resources(data_source=source)["mlflow_registry"]
    assert registry.client().get_run(run_id).data.params[LOSS_MODEL_PARAM] == "dle"

    later = frame[frame["year"] == 2009].drop(columns=["year"]).reset_index(drop=True)
    gentoo = (later["species"] == "Gentoo").to_numpy()
    rng = np.random.default_rng(0)
    days = tmp_path / "days"
    days.mkdir()
    for n, name in enumerate(DAYS):
        lean = 1 + 3 * n / (len(DAYS) - 1)  # Gentoo weighted 1x on the first day, 4x on the last
        weight = np.where(gentoo, lean, 1.0)
        rows = rng.choice(len(later), size=DAY_ROWS, replace=False, p=weight / weight.sum())
        later.iloc[rows].to_csv(days / f"{name}.csv", index=False)

    result = run_day_range(
        project,
        project.resources(data_source=source, scoring_source=ScoringDataSource(location=str(days))),
        DAYS[0],
        DAYS[-1],
    )

    assert result.success, step_failure(result)
    estimates = {
        e.partition: e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("estimated_performance")
    }
    covered, errors = 0, []
    for name in DAYS:
        predictions = pd.read_parquet(asset_path(dg.AssetKey("batch_predictions"), name))
        realized = float((predictions["body_mass_g"] - predictions["prediction"]).abs().mean())
        verdict = EstimatedVerdict.from_metadata(date.fromisoformat(name), estimates[name])
        assert verdict.metric == "mae"
        assert 0 < verdict.low < verdict.value < verdict.high
        low, high = (estimates[name][f"estimated_rmse_{s}"].value for s in ("low", "high"))
        assert low < estimates[name]["estimated_rmse"].value < high
        # The interval holds the day's shift away from the loss model's reference rows.
        assert "weigh as" in estimates[name]["estimate"].value
        assert estimates[name]["shift_effective_rows"].value > 0
        covered += verdict.low <= realized <= verdict.high
        errors.append(abs(verdict.value - realized) / realized)
    print(f"covered {covered}/{len(DAYS)}, mean relative error {np.mean(errors):.1%}")
    assert covered >= 0.9 * len(DAYS), f"{covered} of {len(DAYS)} days covered"


@pytest.mark.slow
def test_a_regressor_without_a_loss_model_says_so_rather_than_estimate(project, tmp_path):
    """Too few validation rows to learn a loss model (as a regressor trained before direct
    loss estimation has none): the day is scored, and its estimate says why there is none."""
    frame = palmerpenguins.load_penguins().dropna(subset=["body_mass_g"]).drop(columns="year")
    training = tmp_path / "few.csv"
    frame.iloc[:300].to_csv(training, index=False)
    days = tmp_path / "days"
    days.mkdir()
    frame.iloc[300:].to_csv(days / f"{DAYS[0]}.csv", index=False)
    source = TrainingDataSource(location=str(training), target_column="body_mass_g")
    few = {"ops": {"trained_model": {"config": {"validation_size": 0.02}}}}  # 6 rows
    trained = project.train(run_config=few, data_source=source)
    assert trained.success, step_failure(trained)
    run_id = trained.output_for_node("trained_model").run_id
    registry = project.resources(data_source=source)["mlflow_registry"]
    assert LOSS_MODEL_PARAM not in registry.client().get_run(run_id).data.params

    result = run_day_range(
        project,
        project.resources(data_source=source, scoring_source=ScoringDataSource(location=str(days))),
        DAYS[0],
        DAYS[0],
    )

    assert result.success, step_failure(result)
    metadata = next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("estimated_performance")
    )
    verdict = EstimatedVerdict.from_metadata(FIRST, metadata)
    assert verdict.reason == NO_LOSS_MODEL
    assert verdict.trusted is False and verdict.dropped is False
