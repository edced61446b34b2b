"""evidently's DataDriftPreset, at its default settings: the HTML report people read, and its
per-column verdicts (which `mlops_assets.domain.drift` reproduces as `evidently_drifted`).

evidently is imported inside the functions: it takes seconds to import, and the code location
must not pay that at load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

from mlops_assets.domain.data import atomic_path

# evidently's display names of its default tests, as our engine names them.
EVIDENTLY_METHODS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
}


@dataclass(frozen=True)
class EvidentlyColumnDrift:
    """evidently's result for one column: its score is a p-value for ks/chisquare/z and a
    distance for wasserstein/jensenshannon."""

    column: str
    test: str
    score: float
    threshold: float
    drifted: bool


def import_evidently() -> SimpleNamespace:
    """evidently's Report, Dataset, DataDefinition and DataDriftPreset.

    evidently 0.7.23 imports `infer_dtype_from_object` from pandas internals, which pandas 3
    removed; it is used only by a legacy column-type test that the drift preset never runs.
    When pandas lacks it, an equivalent is put back before evidently is imported.
    """
    import pandas.core.dtypes.common as pandas_common

    if not hasattr(pandas_common, "infer_dtype_from_object"):
        pandas_common.infer_dtype_from_object = _infer_dtype_from_object  # type: ignore[attr-defined]

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    return SimpleNamespace(
        Report=Report,
        Dataset=Dataset,
        DataDefinition=DataDefinition,
        DataDriftPreset=DataDriftPreset,
    )


def evidently_column_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    html_path: Path | None = None,
    drift_share: float = 0.5,
) -> dict[str, EvidentlyColumnDrift]:
    """Run DataDriftPreset() on the two frames; per column, evidently's test, score, threshold
    and verdict. With `html_path`, the HTML report is written there atomically.

    `drift_share` is the share of drifted columns at which evidently's headline says "Dataset
    Drift is detected" (its default 0.5); pass our DriftConfig.critical_share so the report's
    headline and our severity use one rule. The per-column verdicts do not depend on it."""
    ev = import_evidently()
    definition = ev.DataDefinition(
        numerical_columns=list(numeric), categorical_columns=list(categorical)
    )
    columns = [*numeric, *categorical]
    # include_tests makes evidently attach each column's own verdict (pass/fail) to its result.
    snapshot = ev.Report([ev.DataDriftPreset(drift_share=drift_share)], include_tests=True).run(
        ev.Dataset.from_pandas(current[columns], data_definition=definition),
        ev.Dataset.from_pandas(reference[columns], data_definition=definition),
    )
    results = snapshot.dict()
    scores = {
        m["config"]["column"]: m["value"]
        for m in results["metrics"]
        if m["config"].get("type") == "evidently:metric_v2:ValueDrift"
    }
    out: dict[str, EvidentlyColumnDrift] = {}
    for test in results["tests"]:
        params = test["metric_config"]["params"]
        if params.get("type") != "evidently:metric_v2:ValueDrift":
            continue
        column = params["column"]
        status = str(getattr(test["status"], "value", test["status"]))
        out[column] = EvidentlyColumnDrift(
            column=column,
            test=EVIDENTLY_METHODS.get(params["method"], params["method"]),
            score=float(scores[column]),
            threshold=float(params["threshold"]),
            drifted=status == "FAIL",
        )
    unanswered = [c for c in columns if c not in out]
    if unanswered:
        raise RuntimeError(f"evidently returned no drift verdict for the columns {unanswered}")
    if html_path is not None:
        with atomic_path(Path(html_path)) as tmp:
            snapshot.save_html(str(tmp))
    return out


def evidently_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    html_path: Path | None = None,
    drift_share: float = 0.5,
) -> dict[str, bool]:
    """evidently's per-column drift verdicts (column -> drifted) from DataDriftPreset() with
    default column tests; with `html_path`, the HTML report is also saved there atomically,
    its dataset headline at `drift_share`."""
    return {
        column: result.drifted
        for column, result in evidently_column_drift(
            reference, current, numeric, categorical, html_path, drift_share
        ).items()
    }


def _infer_dtype_from_object(dtype: Any) -> type:
    """pandas 2's `infer_dtype_from_object` for the cases evidently passes (dtypes, types)."""
    if isinstance(dtype, type):
        return dtype
    return pd.api.types.pandas_dtype(dtype).type
