"""Learning from the whole window: the gate judges the evaluated fit on its held-out rows,
then the same pipeline refit on every labelled row is what MLflow registers."""

import numpy as np
import pandas as pd

from mlops_assets.contracts import (
    CHAMPION_ALIAS,
    EVALUATED_FIT_TAG,
    MODEL_HASH_TAG,
    REFIT_ROWS_TAG,
)
from mlops_assets.domain.synthetic import generate_training_data
from mlops_assets.resources.data_source import TrainingDataSource

ROWS = 2000
SMALL = TrainingDataSource(synthetic_rows=ROWS)
REFIT = {"ops": {"evaluation_report": {"config": {"refit_on_window": True}}}}


def _card(project, run_id: str) -> str:
    path = project.registry().run_artifact(run_id, "evaluation/model_card.md")
    return path.read_text("utf-8")


def test_the_registered_model_is_the_refit_on_every_row_and_the_card_says_so(project):
    result = project.train(data_source=SMALL, run_config=REFIT)
    assert result.success
    summary = result.output_for_node("evaluation_report")
    ref = summary.model
    assert summary.refit_rows == ROWS
    assert summary.refit_model_uri not in ("", ref.model_uri)

    registry = project.registry()
    champion = registry.version_by_alias(CHAMPION_ALIAS)
    version = registry.client().get_model_version(registry.model_name, champion.version)
    # MLflow's version holds the refit's files (their hash), in the evaluated fit's run.
    assert version.tags[MODEL_HASH_TAG] == registry.model_artifact_sha256(summary.refit_model_uri)
    assert version.tags[MODEL_HASH_TAG] != registry.model_artifact_sha256(ref.model_uri)
    assert version.run_id == ref.run_id and version.tags[REFIT_ROWS_TAG] == str(ROWS)
    # A later candidate's evaluated fit is compared with this version's evaluated fit.
    assert version.tags[EVALUATED_FIT_TAG] == ref.model_uri

    n_test = ROWS - ref.n_train - ref.n_validation
    assert (ref.n_train, ref.n_validation, n_test) == (1200, 400, 400)
    card = _card(project, ref.run_id)
    assert "| evaluated (the metrics below) | 1200 | 400 | 400 held out |" in card
    assert f"| registered (refit) | all {ROWS} rows of the window | none | none |" in card

    # The refit learned from rows the evaluated fit never saw: on the window's rows the two
    # models' probabilities differ; the registered one is the refit.
    rows = generate_training_data(n_rows=ROWS, seed=0).drop(columns="default").head(200)
    refit = registry.load_logged_model(summary.refit_model_uri)
    evaluated = registry.load_logged_model(ref.model_uri)
    loaded = registry.load_model(champion.version)
    features = pd.DataFrame(rows)[ref.features]
    assert np.allclose(loaded.predict_proba(features), refit.predict_proba(features))
    assert not np.allclose(refit.predict_proba(features), evaluated.predict_proba(features))
    # The gate's figures are the evaluated fit's on its held-out rows.
    assert float(version.tags["metric.test_accuracy"]) == float(
        f"{summary.metrics['accuracy']:.6g}"
    )


def test_by_default_the_evaluated_fit_itself_is_registered(project):
    result = project.train(data_source=SMALL)
    assert result.success
    summary = result.output_for_node("evaluation_report")
    assert (summary.refit_model_uri, summary.refit_rows) == ("", 0)
    registry = project.registry()
    champion = registry.version_by_alias(CHAMPION_ALIAS)
    version = registry.client().get_model_version(registry.model_name, champion.version)
    assert version.tags[MODEL_HASH_TAG] == registry.model_artifact_sha256(summary.model.model_uri)
    assert version.tags[REFIT_ROWS_TAG] == "none"
    card = _card(project, summary.model.run_id)
    assert "The registered model is the evaluated fit itself (refit_on_window off)." in card
