"""The user's own data, by configuration only: a CSV file, a directory, a SQL table,
multiclass and regression targets."""

import numpy as np
import pandas as pd
import sqlalchemy as sa

from mlops_assets.contracts import CHAMPION_ALIAS
from mlops_assets.domain.synthetic import generate_training_data
from mlops_assets.resources.data_source import TrainingDataSource


def _churn_like(n: int = 1500, n_classes: int = 2, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, size=n).astype(float)
    charges = rng.normal(70, 20, size=n)
    plan = rng.choice(["basic", "plus", "pro"], size=n)
    score = -0.05 * tenure + 0.03 * charges + (plan == "basic") * 1.0 + rng.normal(size=n)
    cuts = np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1])
    label = np.array(["stay", "churn", "pause", "upgrade"])[np.digitize(score, cuts)]
    charges[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({"tenure": tenure, "charges": charges, "plan": plan, "outcome": label})


def test_a_csv_file_trains_with_its_own_target_column(project, tmp_path):
    path = tmp_path / "churn.csv"
    _churn_like().to_csv(path, index=False)
    result = project.train(
        data_source=TrainingDataSource(location=str(path), target_column="outcome")
    )
    assert result.success
    summary = result.output_for_node("evaluation_report")
    assert summary.model.task == "binary"
    assert summary.model.categorical_features == ("plan",)
    assert summary.metrics["roc_auc"] > 0.7
    assert project.registry().version_by_alias(CHAMPION_ALIAS).version == "1"


def test_a_directory_of_files_is_one_training_table(project, tmp_path):
    data = generate_training_data(n_rows=1800, seed=1)
    for i in range(3):
        data.iloc[i * 600 : (i + 1) * 600].to_parquet(tmp_path / f"part-{i}.parquet", index=False)
    result = project.train(data_source=TrainingDataSource(location=str(tmp_path)))
    assert result.success
    raw = project.instance.get_latest_materialization_event(
        __import__("dagster").AssetKey("raw_data")
    )
    assert raw.asset_materialization.metadata["dagster/row_count"].value == 1800


def test_a_sqlite_table_trains_through_a_sqlalchemy_url(project, tmp_path):
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    engine = sa.create_engine(url)
    _churn_like(seed=2).to_sql("customers", engine, index=False)
    engine.dispose()
    result = project.train(
        data_source=TrainingDataSource(location=url, table="customers", target_column="outcome")
    )
    assert result.success
    assert result.output_for_node("registered_model_version").promoted


def test_a_multiclass_target_gets_multiclass_metrics(project, tmp_path):
    path = tmp_path / "multi.csv"
    _churn_like(n=2000, n_classes=4).to_csv(path, index=False)
    result = project.train(
        data_source=TrainingDataSource(location=str(path), target_column="outcome")
    )
    assert result.success
    summary = result.output_for_node("evaluation_report")
    assert summary.model.task == "multiclass"
    assert {"accuracy", "balanced_accuracy", "f1_macro", "log_loss"} <= set(summary.metrics)
    assert summary.metrics["balanced_accuracy"] > 0.4


def test_a_regression_target_gets_regression_metrics(project, tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"area": rng.uniform(30, 200, 1500), "city": rng.choice(["a", "b"], 1500)})
    frame["price"] = (
        3000 * frame["area"] + (frame["city"] == "a") * 50_000 + rng.normal(0, 20_000, 1500)
    )
    path = tmp_path / "houses.parquet"
    frame.to_parquet(path)
    result = project.train(
        data_source=TrainingDataSource(location=str(path), target_column="price")
    )
    assert result.success
    summary = result.output_for_node("evaluation_report")
    assert summary.model.task == "regression"
    assert set(summary.metrics) == {"rmse", "mae", "r2"}
    assert summary.metrics["r2"] > 0.8
