"""DLE (a regressor's estimated MAE) beside NannyML's on a real table's shifted days, both
fitted on the same held-out reference rows and handed the same predictions (the days as
scripts/measure_dle.py draws them); bench/bench_estimators.py's section prints it."""

from __future__ import annotations

import nannyml_side
import numpy as np
import pandas as pd
from real_tables import Table


def compare(table: Table, day_rows: int, days: int) -> dict[str, nannyml_side.Side]:
    """{"ours" | "nannyml": Side} for the estimated MAE on `table`'s shifted days, both
    fitted on the same held-out reference rows."""
    from mlops_assets.domain.estimation.dle import estimate_regression
    from scripts.measure_dle import shifted_days

    features, target = table.features, table.target
    setup = shifted_days(
        table.frame, target, table.numeric, table.categorical, table.shift_column, day_rows, days
    )
    absolute, squared = setup.loss_model.predict(setup.pool[features], setup.predicted)
    values, lows, highs, realized = [], [], [], []
    for rows in setup.days:
        shift = setup.loss_model.shift(setup.pool[features].iloc[rows], setup.predicted[rows])
        estimate = estimate_regression(absolute[rows], squared[rows], setup.loss_model, shift=shift)
        values.append(estimate.mae)
        lows.append(estimate.mae_low)
        highs.append(estimate.mae_high)
        realized.append(float(np.abs(setup.error[rows]).mean()))
    truth = np.array(realized)
    reference = setup.validation[features].assign(
        y_pred=setup.champion.predict(setup.validation[features]),
        y_true=setup.validation[target].to_numpy(float),
        day=nannyml_side.day_dates(np.arange(len(setup.validation)) * 10 // len(setup.validation)),
    )
    analysis = pd.concat(
        [
            setup.pool.iloc[rows][features].assign(
                y_pred=setup.predicted[rows],
                y_true=setup.pool[target].to_numpy(float)[rows],
                day=nannyml_side.day_dates(np.full(len(rows), 1000 + k)),
            )
            for k, rows in enumerate(setup.days)
        ],
        ignore_index=True,
    )
    theirs = nannyml_side.run(
        "dle",
        reference,
        analysis,
        features=features,
        categorical=table.categorical,
        y_pred="y_pred",
        y_true="y_true",
        metrics=["mae"],
    ).estimates.sort_values("day")
    return {
        "ours": nannyml_side.side(
            np.array(values), np.array(lows), np.array(highs), truth, relative=True
        ),
        "nannyml": nannyml_side.side(
            theirs["value"].to_numpy(),
            theirs["lower"].to_numpy(),
            theirs["upper"].to_numpy(),
            truth,
            relative=True,
        ),
    }
