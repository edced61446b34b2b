"""The Markdown model card registered with each model version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlops_assets.domain.evaluation.markdown import markdown_table

if TYPE_CHECKING:
    import pandas as pd

    from mlops_assets.domain.leakage import LeakyFeature
    from mlops_assets.domain.training import TrainingWindow

NO_WINDOW = "not known: the training data has no date column (set MLOPS_TIMESTAMP_COLUMN)"


def model_card_markdown(
    *,
    model_name: str,
    task: str,
    estimator: str,
    data_hash: str,
    n_train: int,
    n_test: int,
    features: Sequence[str],
    target: str,
    metrics: Mapping[str, float],
    slices: pd.DataFrame,
    champion_metrics: Mapping[str, float] | None,
    intended_use: str,
    limitations: Sequence[str],
    leakage: Sequence[LeakyFeature] = (),
    column_roles: pd.DataFrame | None = None,
    window: TrainingWindow | None = None,
    n_validation: int = 0,
    refit_rows: int | None = None,
    refit_window: TrainingWindow | None = None,
) -> str:
    """A Markdown model card: what the model is for, what it was trained on, how it scores,
    which features the leakage guard flagged (`leakage`), and the role of every column of the
    training table with the reason (`column_roles`: column, role, kind, reason) and the days
    of the training rows (`window`). Which rows each fit saw: the evaluated fit's
    train/validation/test split (`n_train`, `n_validation`, `n_test`), and, when the registered
    model is that recipe refit on the whole window, its `refit_rows` and `refit_window`."""
    import pandas as pd

    metric_rows: list[dict[str, Any]] = [
        {"metric": name, "candidate": value} for name, value in metrics.items()
    ]
    if champion_metrics is not None:
        for row in metric_rows:
            row["champion"] = champion_metrics.get(row["metric"])
    metric_table = markdown_table(pd.DataFrame(metric_rows, columns=_metric_columns(metric_rows)))
    feature_list = ", ".join(f"`{name}`" for name in features)
    slice_text = (
        markdown_table(slices)
        if len(slices)
        else "No categorical slice had enough test rows to be evaluated separately."
    )
    limitation_text = "\n".join(f"- {item}" for item in limitations) or "- None recorded."
    if leakage:
        leakage_text = (
            "These features alone nearly predict the target, copy it, or are named like an "
            "earlier model's output. The test metrics above are not to be trusted while they "
            "are features; the gate does not promote this model unless allow_leaky_features "
            "is set.\n\n"
            + markdown_table(
                pd.DataFrame(
                    [
                        {"feature": f.feature, "solo score": f.solo_score, "reason": f.reason}
                        for f in leakage
                    ]
                )
            )
        )
    else:
        leakage_text = "No feature alone nearly predicts the target (leakage guard passed)."
    sections = [
        f"# Model card: {model_name}",
        f"Task: {task}. Estimator: `{estimator}` (scikit-learn pipeline).",
        f"## Intended use\n\n{intended_use}",
        "## Data\n\n"
        f"- Target: `{target}`\n"
        f"- Features ({len(features)}): {feature_list}\n"
        f"- Training rows: {n_train}\n"
        f"- Training window: {window.describe() if window else NO_WINDOW}\n"
        f"- Validation rows: {n_validation} (model selection, calibration, leakage guard)\n"
        f"- Test rows: {n_test} (held out; never used to fit or select the model)\n"
        f"- Data hash: `{data_hash}`\n\n"
        + _fits_text(n_train, n_validation, n_test, refit_rows, refit_window),
        *(
            [f"## Column roles\n\n{markdown_table(column_roles)}"]
            if column_roles is not None and len(column_roles)
            else []
        ),
        f"## Metrics (test split)\n\n{metric_table}",
        f"## Slices\n\n{slice_text}",
        f"## Leakage\n\n{leakage_text}",
        f"## Limitations\n\n{limitation_text}",
    ]
    return "\n\n".join(sections) + "\n"


def _fits_text(
    n_train: int,
    n_validation: int,
    n_test: int,
    refit_rows: int | None,
    refit_window: TrainingWindow | None,
) -> str:
    """Which rows each fit saw, and which fit the metrics below are of."""
    evaluated = (
        f"| evaluated (the metrics below) | {n_train} | {n_validation} | {n_test} held out |"
    )
    header = "| fit | fitted on | validation | test |\n| --- | --- | --- | --- |\n" + evaluated
    if refit_rows is None:
        return (
            f"{header}\n\nThe registered model is the evaluated fit itself (refit_on_window off)."
        )
    days = f", {refit_window.describe()}" if refit_window else ""
    return (
        f"{header}\n| registered (refit) | all {refit_rows} rows of the window | none | none |"
        f"\n\nThe registered model is the same pipeline (estimator, parameters, seed) refit on "
        f"every labelled row of its window{days}, after the evaluated fit was judged. The "
        "metrics, slices and the comparison with the champion are the evaluated fit's on its "
        "held-out test rows: the refit has no held-out rows left, and live evidence judges it."
    )


def _metric_columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(rows[0]) if rows else ["metric", "candidate"]
