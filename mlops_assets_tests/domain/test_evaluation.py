import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from mlops_assets.domain.evaluation import (
    MISSING_CELL,
    PRIMARY_LOSS,
    Predictions,
    calibration_png,
    compare_on_slices,
    compute_metrics,
    confusion_matrix_png,
    markdown_table,
    model_card_markdown,
    paired_bootstrap,
    per_row_loss,
    residuals_png,
    significant,
    slice_metrics,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _binary(n: int = 400, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, size=n)
    p1 = np.clip(0.5 + (y_true - 0.5) * 0.4 + rng.normal(scale=0.25, size=n), 0.01, 0.99)
    proba = np.column_stack([1 - p1, p1])
    return Predictions(y_true, (p1 > 0.5).astype(int), proba, (0, 1))


def _multiclass(n: int = 300, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    classes = ("cat", "dog", "eel")
    y_true = rng.choice(classes, size=n)
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), pd.Index(classes).get_indexer(y_true)] += 1.5
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y_pred = np.asarray(classes)[proba.argmax(axis=1)]
    return Predictions(y_true.astype(object), y_pred, proba, classes)


def _regression(n: int = 300, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    y_true = rng.normal(10, 3, size=n)
    return Predictions(y_true, y_true + rng.normal(0.5, 1, size=n), None, None)


def test_binary_metrics_match_sklearn_on_a_small_known_example():
    y_true = np.array([0, 0, 1, 1, 1, 0])
    p1 = np.array([0.1, 0.6, 0.8, 0.4, 0.9, 0.2])
    proba = np.column_stack([1 - p1, p1])
    y_pred = (p1 > 0.5).astype(int)
    metrics = compute_metrics("binary", Predictions(y_true, y_pred, proba, (0, 1)))
    assert metrics == pytest.approx(
        {
            "accuracy": 4 / 6,
            "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
            "f1_macro": skm.f1_score(y_true, y_pred, average="macro"),
            "roc_auc": 8 / 9,
            "log_loss": skm.log_loss(y_true, proba, labels=[0, 1]),
        }
    )


def test_binary_roc_auc_uses_the_last_class_column_as_positive():
    y_true = np.array(["no", "no", "yes", "yes"])
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    metrics = compute_metrics("binary", Predictions(y_true, y_true, proba, ("no", "yes")))
    assert metrics["roc_auc"] == 1.0
    reversed_columns = Predictions(y_true, y_true, proba[:, ::-1], ("yes", "no"))
    assert compute_metrics("binary", reversed_columns)["roc_auc"] == 1.0


def test_multiclass_metrics_with_string_labels_match_sklearn():
    p = _multiclass()
    labels = list(p.classes)
    metrics = compute_metrics("multiclass", p)
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(p.y_true, p.y_pred))
    assert metrics["f1_macro"] == pytest.approx(skm.f1_score(p.y_true, p.y_pred, average="macro"))
    assert metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(p.y_true, p.proba, multi_class="ovr", average="macro", labels=labels)
    )
    assert metrics["log_loss"] == pytest.approx(skm.log_loss(p.y_true, p.proba, labels=labels))
    assert 0.5 < metrics["roc_auc"] < 1


def test_roc_auc_is_nan_when_only_one_class_is_present():
    proba = np.array([[0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    metrics = compute_metrics(
        "binary", Predictions(np.ones(3, int), np.ones(3, int), proba, (0, 1))
    )
    assert math.isnan(metrics["roc_auc"])
    assert metrics["accuracy"] == 1.0
    assert metrics["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.6, 0.3])))


def test_regression_metrics_match_sklearn():
    p = _regression()
    metrics = compute_metrics("regression", p)
    assert metrics == pytest.approx(
        {
            "rmse": np.sqrt(skm.mean_squared_error(p.y_true, p.y_pred)),
            "mae": skm.mean_absolute_error(p.y_true, p.y_pred),
            "r2": skm.r2_score(p.y_true, p.y_pred),
        }
    )


def test_predictions_reject_misaligned_arrays():
    with pytest.raises(ValueError, match="3 columns but there are 2 classes"):
        Predictions(np.zeros(2), np.zeros(2), np.zeros((2, 3)), (0, 1))
    with pytest.raises(ValueError, match="y_pred has 1 rows"):
        Predictions(np.zeros(2), np.zeros(1), None, None)


def test_per_row_log_loss_is_minus_log_of_the_true_class_probability_clipped():
    proba = np.array([[0.25, 0.75], [1.0, 0.0], [0.5, 0.5]])
    p = Predictions(np.array(["b", "b", "unseen"]), np.array(["b", "a", "a"]), proba, ("a", "b"))
    losses = per_row_loss("binary", p, "log_loss")
    np.testing.assert_allclose(losses, [-np.log(0.75), -np.log(1e-15), -np.log(1e-15)])
    np.testing.assert_array_equal(per_row_loss("binary", p, "zero_one"), [0.0, 1.0, 1.0])


def test_per_row_squared_error_and_primary_losses():
    p = Predictions(np.array([1.0, 2.0]), np.array([1.5, 4.0]), None, None)
    np.testing.assert_allclose(per_row_loss("regression", p, "squared_error"), [0.25, 4.0])
    assert PRIMARY_LOSS == {
        "binary": "log_loss",
        "multiclass": "log_loss",
        "regression": "squared_error",
    }
    with pytest.raises(ValueError, match="unknown loss"):
        per_row_loss("regression", p, "hinge")
    with pytest.raises(ValueError, match="regression has none"):
        per_row_loss("regression", p, "log_loss")


def test_slice_metrics_skips_small_slices_and_labels_missing_values():
    p = _binary(n=400)
    region = np.array(["north"] * 200 + ["south"] * 120 + [None] * 60 + ["tiny"] * 20, object)
    frame = pd.DataFrame({"region": region, "plan": ["a"] * 400})
    table = slice_metrics("binary", frame, p, ["region", "plan"], min_rows=50)
    assert list(table.columns[:3]) == ["column", "value", "rows"]
    assert "roc_auc" in table.columns and "log_loss" in table.columns
    got = list(zip(table["column"], table["value"], table["rows"], strict=True))
    assert got == [
        ("region", "north", 200),
        ("region", "south", 120),
        ("region", "<missing>", 60),
        ("plan", "a", 400),
    ]
    north = compute_metrics("binary", p.take(np.arange(200)))
    assert table.iloc[0]["accuracy"] == pytest.approx(north["accuracy"])


def test_slice_metrics_covers_every_column_and_is_empty_when_no_slice_is_large_enough():
    p = _regression(n=120)
    frame = pd.DataFrame({"a": ["x"] * 60 + ["y"] * 60, "b": [1.0] * 100 + [np.nan] * 20})
    table = slice_metrics("regression", frame, p, ["a", "b"], min_rows=50)
    assert list(zip(table["column"], table["value"], strict=True)) == [
        ("a", "x"),
        ("a", "y"),
        ("b", "1.0"),
    ]
    assert list(table.columns) == ["column", "value", "rows", "rmse", "mae", "r2"]
    empty = slice_metrics("regression", frame, p, ["a"], min_rows=500)
    assert empty.empty and list(empty.columns) == ["column", "value", "rows"]
    with pytest.raises(ValueError, match="not in the frame: c"):
        slice_metrics("regression", frame, p, ["c"])


def test_paired_bootstrap_of_identical_losses_is_zero_with_zero_in_the_interval():
    loss = np.random.default_rng(1).exponential(size=500)
    result = paired_bootstrap(loss, loss.copy(), metric="log_loss")
    assert result.improvement == 0
    assert result.ci_low <= 0 <= result.ci_high
    assert (result.metric, result.n, result.confidence) == ("log_loss", 500, 0.95)


def test_paired_bootstrap_detects_a_clearly_better_challenger():
    rng = np.random.default_rng(2)
    challenger = rng.exponential(size=2000)
    champion = challenger + 0.1 + rng.normal(scale=0.3, size=2000)
    result = paired_bootstrap(champion, challenger, metric="log_loss", n_resamples=1000)
    assert result.ci_low > 0
    assert result.ci_low < result.improvement < result.ci_high
    assert result.improvement == pytest.approx(champion.mean() - challenger.mean())
    assert result.champion_loss == pytest.approx(champion.mean())
    assert result.challenger_loss == pytest.approx(challenger.mean())
    assert 0.05 < result.improvement < 0.15


def test_paired_bootstrap_is_reproducible_with_its_seed():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=300), rng.normal(size=300)
    first = paired_bootstrap(a, b, metric="squared_error", seed=7)
    assert paired_bootstrap(a, b, metric="squared_error", seed=7) == first
    assert paired_bootstrap(a, b, metric="squared_error", seed=8) != first


def test_paired_bootstrap_interval_width_is_right_for_a_known_variance():
    # The mean of n differences with sd 1 has standard error 1/sqrt(n): a 95% interval of
    # about +-1.96/sqrt(n). Also exercises the chunked resampling (n above the chunk width).
    rng = np.random.default_rng(4)
    n = 100_000
    difference = rng.normal(size=n)
    result = paired_bootstrap(difference, np.zeros(n), metric="squared_error", n_resamples=400)
    half_width = (result.ci_high - result.ci_low) / 2
    assert half_width == pytest.approx(1.96 / np.sqrt(n), rel=0.15)


def test_paired_bootstrap_rejects_mismatched_or_invalid_input():
    with pytest.raises(ValueError, match="same rows"):
        paired_bootstrap(np.zeros(3), np.zeros(4), metric="log_loss")
    with pytest.raises(ValueError, match="NaN or infinite"):
        paired_bootstrap(np.array([0.0, np.nan]), np.zeros(2), metric="log_loss")
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap(np.zeros(3), np.zeros(3), metric="log_loss", confidence=95)


def test_compare_on_slices_finds_the_slice_where_the_challenger_is_worse():
    rng = np.random.default_rng(5)
    n = 600
    segment = np.array(["a"] * 300 + ["b"] * 250 + ["c"] * 50)
    champion = rng.exponential(size=n)
    challenger = champion - 0.2 + rng.normal(scale=0.1, size=n)
    challenger[segment == "b"] += 0.5
    frame = pd.DataFrame({"segment": segment})
    result = compare_on_slices(
        frame, ["segment"], champion, challenger, metric="log_loss", min_rows=100
    )
    by_value = {value: cmp for column, value, cmp in result if column == "segment"}
    assert set(by_value) == {"a", "b"}
    assert by_value["a"].ci_low > 0
    assert by_value["b"].ci_high < 0
    assert by_value["b"].n == 250


@pytest.mark.slow  # the first matplotlib import of the process
def test_png_writers_produce_png_files_and_create_parent_directories(tmp_path: Path):
    written = [
        confusion_matrix_png(_multiclass(), tmp_path / "a" / "confusion.png"),
        calibration_png(_multiclass(), tmp_path / "a" / "calibration_multiclass.png"),
        calibration_png(_binary(), tmp_path / "b" / "calibration_binary.png"),
        confusion_matrix_png(_binary(), tmp_path / "b" / "confusion_binary.png"),
        residuals_png(_regression(n=20_000), tmp_path / "c" / "residuals.png"),
    ]
    for path in written:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000, path
    leftovers = sorted(p.name for p in tmp_path.rglob("*.tmp.png"))
    assert leftovers == []


def test_calibration_png_refuses_predictions_without_probabilities(tmp_path: Path):
    with pytest.raises(ValueError, match="class probabilities"):
        calibration_png(_regression(), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_markdown_table_formats_escapes_and_marks_missing_values():
    frame = pd.DataFrame(
        {"name": ["a|b", "line\nbreak", None], "value": [0.123456, float("nan"), 2.0]}
    )
    assert markdown_table(frame) == (
        "| name | value |\n"
        "| --- | ---: |\n"
        "| a\\|b | 0.1235 |\n"
        f"| line break | {MISSING_CELL} |\n"
        f"| {MISSING_CELL} | 2 |"
    )
    assert MISSING_CELL == "\N{EN DASH}"
    assert markdown_table(frame, float_format="{:.1f}").endswith(f"| {MISSING_CELL} | 2.0 |")


def test_markdown_table_of_an_empty_frame_is_the_header_only():
    assert markdown_table(pd.DataFrame(columns=["col|umn", "b"])) == (
        "| col\\|umn | b |\n| --- | --- |"
    )
    assert markdown_table(pd.DataFrame()) == ""


def test_model_card_has_every_section_and_the_champion_column():
    p = _binary(n=200)
    frame = pd.DataFrame({"region": ["north"] * 120 + ["south"] * 80})
    metrics = compute_metrics("binary", p)
    slices = slice_metrics("binary", frame, p, ["region"], min_rows=50)
    card = model_card_markdown(
        model_name="credit",
        task="binary",
        estimator="hist_gradient_boosting",
        data_hash="abc123",
        n_train=800,
        n_test=200,
        features=["income", "region"],
        target="default",
        metrics=metrics,
        slices=slices,
        champion_metrics={"accuracy": 0.5},
        intended_use="Score loan applications.",
        limitations=["Trained on one country."],
    )
    headings = [line for line in card.splitlines() if line.startswith("#")]
    assert headings == [
        "# Model card: credit",
        "## Intended use",
        "## Data",
        "## Metrics (test split)",
        "## Slices",
        "## Leakage",
        "## Limitations",
    ]
    assert "| metric | candidate | champion |" in card
    assert f"| accuracy | {metrics['accuracy']:.4g} | 0.5 |" in card
    assert "| roc_auc |" in card and f"| {MISSING_CELL} |" in card
    assert "| region | north | 120 |" in card
    assert "`abc123`" in card and "- Trained on one country." in card
    assert "leakage guard passed" in card


def test_model_card_lists_leaky_features_with_their_solo_scores():
    from mlops_assets.domain.leakage import LeakyFeature

    card = model_card_markdown(
        model_name="titanic",
        task="binary",
        estimator="linear",
        data_hash="h",
        n_train=10,
        n_test=5,
        features=["boat", "y_pred"],
        target="survived",
        metrics={"roc_auc": 0.997},
        slices=pd.DataFrame(columns=["column", "value", "rows"]),
        champion_metrics=None,
        intended_use="Demo.",
        limitations=[],
        leakage=(
            LeakyFeature("boat", 0.9973, "solo_score"),
            LeakyFeature("y_pred", 0.91, "named_like_a_prediction"),
        ),
    )
    section = card.split("## Leakage")[1].split("##")[0]
    assert "| boat | 0.9973 | solo_score |" in section
    assert "| y_pred | 0.91 | named_like_a_prediction |" in section
    assert "allow_leaky_features" in section


def test_model_card_lists_every_column_role_with_its_reason():
    roles = pd.DataFrame(
        [
            {"column": "application_id", "role": "id", "kind": "numeric", "reason": "unique"},
            {"column": "boat", "role": "excluded", "kind": "text", "reason": "MLOPS_EXCLUDE"},
        ]
    )
    card = model_card_markdown(
        model_name="m",
        task="binary",
        estimator="linear",
        data_hash="h",
        n_train=10,
        n_test=5,
        features=["x"],
        target="y",
        metrics={"roc_auc": 0.8},
        slices=pd.DataFrame(columns=["column", "value", "rows"]),
        champion_metrics=None,
        intended_use="Demo.",
        limitations=[],
        column_roles=roles,
    )
    section = card.split("## Column roles")[1].split("##")[0]
    assert "| application_id | id | numeric | unique |" in section
    assert "| boat | excluded | text | MLOPS_EXCLUDE |" in section


def _regression_card(**overrides):  # type: ignore[no-untyped-def]
    """The model card of a small regressor with no champion and no slices."""
    settings = {
        "model_name": "m",
        "task": "regression",
        "estimator": "linear",
        "data_hash": "h",
        "n_train": 10,
        "n_test": 5,
        "features": ["x"],
        "target": "y",
        "metrics": {"rmse": 1.0},
        "slices": pd.DataFrame(columns=["column", "value", "rows"]),
        "champion_metrics": None,
        "intended_use": "Demo.",
        "limitations": [],
    }
    return model_card_markdown(**{**settings, **overrides})


def test_model_card_without_champion_or_slices():
    card = _regression_card()
    assert "| metric | candidate |\n" in card and "champion" not in card
    assert "No categorical slice had enough test rows" in card
    assert "- Training window: not known: the training data has no date column" in card


def test_model_card_gives_the_training_window():
    from mlops_assets.domain.training import TrainingWindow

    card = _regression_card(window=TrainingWindow("2025-10-03", "2025-12-31", "application_date"))
    assert (
        "- Training window: 2025-10-03 to 2025-12-31 (`application_date` of the training rows)"
        in card
    )


def test_importing_the_module_loads_neither_sklearn_nor_matplotlib():
    code = (
        "import sys, mlops_assets.domain.evaluation; "
        "assert 'sklearn' not in sys.modules and 'matplotlib' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.06666666666666667, 0.06667),
        (0.78512, 0.7851),
        (12345.678, 12350.0),
        (-0.000123456, -0.0001235),
        (1.0, 1.0),
        (0.0, 0.0),
    ],
)
def test_a_float_a_person_reads_keeps_four_significant_digits(value, shown):
    assert significant(value) == shown
    cell = markdown_table(pd.DataFrame({"x": [value]})).splitlines()[-1].strip("| ")
    assert float(cell) == shown  # a table shows the same figure


def test_nan_and_infinity_stay_as_they_are():
    assert math.isnan(significant(float("nan"))) and significant(float("inf")) == float("inf")


def test_model_card_says_which_rows_each_fit_saw():
    from mlops_assets.domain.training import TrainingWindow

    refit = _regression_card(
        n_train=60,
        n_validation=20,
        n_test=20,
        refit_rows=100,
        refit_window=TrainingWindow("2026-01-01", "2026-01-10", "day"),
    )
    assert "| evaluated (the metrics below) | 60 | 20 | 20 held out |" in refit
    assert "| registered (refit) | all 100 rows of the window | none | none |" in refit
    assert "refit on every labelled row of its window, 2026-01-01 to 2026-01-10" in refit
    assert "are the evaluated fit's on its held-out test rows" in refit
    alone = _regression_card(n_train=60, n_validation=20, n_test=20)
    assert "| registered (refit)" not in alone
    assert "The registered model is the evaluated fit itself (refit_on_window off)." in alone
