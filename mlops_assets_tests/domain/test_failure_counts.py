"""A failure message counts every failing row, not the rows its table lists: a day whose 5,000
rows all fail says 5000, not 20."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from mlops_assets.domain.schemas import DataValidationError, check_scoring_batch, infer_schema
from mlops_assets.domain.synthetic import generate_daily_batch, generate_training_data


def test_a_day_whose_every_row_fails_reports_every_row():
    schema = infer_schema(generate_training_data(n_rows=500, seed=1), target="default")
    batch = generate_daily_batch(date(2026, 2, 1), n_rows=5000)
    batch["income"] = "n/a"
    batch["loan_amount"] = batch["loan_amount"].astype(float)
    batch.loc[:2999, "loan_amount"] = np.inf
    with pytest.raises(DataValidationError) as raised:
        check_scoring_batch(batch, schema, "day.csv")
    message = str(raised.value)
    assert "'income': dtype: expected numeric failed 5000x" in message
    assert "'loan_amount': finite failed 3000x" in message
    assert "20 listed" in message
    assert len(raised.value.failure_cases) == 40  # the table lists the first 20 of each
