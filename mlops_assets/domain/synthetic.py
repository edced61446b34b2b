"""The built-in dataset: synthetic credit applications with a known relation to default.

Deterministic for a seed (and, for daily batches, a day), so every clone trains the same model
and the demo tells the same story. Daily batches can carry a named drift scenario from a start
day on:

- ``none``: the training distribution and relation, day after day.
- ``covariate``: the applicant mix moves: a new channel brings near-prime applicants (credit
  scores lower and bunched around 650, utilisation and debt-to-income bunched around their
  means), with lower incomes and more debt-consolidation loans. The relation to default is
  unchanged, but more applicants sit near the decision boundary, so a model's accuracy falls
  and its calibrated probabilities say so before any label arrives.
- ``concept``: the same applicants, but what predicts default changes (utilisation stops
  mattering, regional and employment effects appear), so an old model's accuracy drops with
  no covariate drift at all: only labels reveal it.
- ``both``: covariate and concept drift together.

Every row has an ``application_id`` that rises with time and is unique across the training data
and every daily batch, so labels delivered later (``daily_labels``, ``write_daily_labels``: the
delayed-labels mode, where ``generate_daily_batch(with_labels=False)`` holds the features only)
join to the day's predictions exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from mlops_assets.domain.data.atomic_files import write_parquet_atomic

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

ID_COLUMN = "application_id"
TARGET_COLUMN = "default"
TIMESTAMP_COLUMN = "application_date"
NUMERIC_FEATURES = (
    "age",
    "income",
    "loan_amount",
    "loan_term_months",
    "credit_score",
    "debt_to_income",
    "num_open_accounts",
    "num_late_payments",
    "years_employed",
    "utilization",
)
CATEGORICAL_FEATURES = ("home_ownership", "purpose", "employment_type", "region", "education")
DriftScenario = Literal["none", "covariate", "concept", "both"]
SCENARIOS: tuple[str, ...] = get_args(DriftScenario)
# The features the covariate scenario moves by default: 5 of 15, a third of the features.
DEFAULT_COVARIATE_FEATURES = ("income", "credit_score", "debt_to_income", "utilization", "purpose")

_HOME = (["rent", "own", "mortgage"], [0.4, 0.2, 0.4])
_PURPOSE = (
    ["debt_consolidation", "credit_card", "home_improvement", "car", "medical", "other"],
    [0.30, 0.25, 0.15, 0.15, 0.05, 0.10],
)
_PURPOSE_SHIFTED = [0.55, 0.20, 0.05, 0.05, 0.10, 0.05]
_EMPLOYMENT = (["salaried", "self_employed", "contract", "unemployed"], [0.65, 0.15, 0.15, 0.05])
_REGION = (["north", "south", "east", "west", "central"], [0.2, 0.25, 0.2, 0.2, 0.15])
_EDUCATION = (["high_school", "bachelor", "master", "doctorate"], [0.4, 0.38, 0.18, 0.04])
# Ids are day number * _IDS_PER_DAY + the row's rank that day: rising with time, and unique
# however many days are generated, as long as no day has more rows than this.
_IDS_PER_DAY = 1_000_000
_ID_EPOCH = date(2000, 1, 1)
# Share of missing values per column: real application data is never complete.
_MISSING = {"income": 0.05, "years_employed": 0.04, "credit_score": 0.02, "employment_type": 0.02}


def generate_training_data(
    n_rows: int = 5000, seed: int = 0, end_date: date = date(2026, 1, 1), days: int = 90
) -> pd.DataFrame:
    """Labelled applications spread over the `days` days before `end_date`, no drift."""
    import numpy as np
    import pandas as pd

    if n_rows < 1:
        raise ValueError(f"n_rows must be positive, got {n_rows}")
    rng = np.random.default_rng([seed, 0])
    frame = _applicants(rng, n_rows, shifted=())
    offsets = rng.integers(1, days + 1, size=n_rows)
    frame[TIMESTAMP_COLUMN] = pd.to_datetime(end_date) - pd.to_timedelta(offsets, unit="D")
    frame[TARGET_COLUMN] = _default(rng, frame, concept_shift=False)
    frame = frame.sort_values(TIMESTAMP_COLUMN, kind="stable").reset_index(drop=True)
    day_number = (frame[TIMESTAMP_COLUMN] - pd.Timestamp(_ID_EPOCH)).dt.days.to_numpy(np.int64)
    rank = frame.groupby(TIMESTAMP_COLUMN).cumcount().to_numpy(np.int64)
    _check_rows_per_day(int(rank.max()) + 1)
    frame.insert(0, ID_COLUMN, day_number * _IDS_PER_DAY + rank)
    return _with_missing(rng, frame)


def generate_daily_batch(
    day: date,
    n_rows: int = 1000,
    scenario: DriftScenario = "none",
    drift_start: date | None = None,
    seed: int = 0,
    covariate_features: Sequence[str] = DEFAULT_COVARIATE_FEATURES,
    with_labels: bool = True,
) -> pd.DataFrame:
    """The applications of one day; drifted per `scenario` when `day >= drift_start`.

    The same (day, seed, scenario, drift_start) always gives the same rows.
    """
    import numpy as np
    import pandas as pd

    if scenario not in SCENARIOS:
        raise ValueError(f"unknown drift scenario {scenario!r}; choose one of {SCENARIOS}")
    unknown = set(covariate_features) - set(NUMERIC_FEATURES) - set(CATEGORICAL_FEATURES)
    if unknown:
        raise ValueError(f"covariate_features names unknown columns: {sorted(unknown)}")
    drifting = drift_start is not None and day >= drift_start
    covariate = drifting and scenario in ("covariate", "both")
    concept = drifting and scenario in ("concept", "both")
    rng = np.random.default_rng([seed, day.toordinal()])
    frame = _applicants(rng, n_rows, shifted=tuple(covariate_features) if covariate else ())
    frame[TIMESTAMP_COLUMN] = pd.Timestamp(day)
    labels = _default(rng, frame, concept_shift=concept)
    if with_labels:
        frame[TARGET_COLUMN] = labels
    frame.insert(0, ID_COLUMN, _day_ids(day, n_rows))
    return _with_missing(rng, frame)


def daily_labels(
    day: date,
    n_rows: int = 1000,
    scenario: DriftScenario = "none",
    drift_start: date | None = None,
    seed: int = 0,
    covariate_features: Sequence[str] = DEFAULT_COVARIATE_FEATURES,
) -> pd.DataFrame:
    """The labels of `day`'s batch as their own delivery: `application_id` and the target,
    exactly the values `generate_daily_batch` with the same arguments would have held."""
    batch = generate_daily_batch(
        day, n_rows, scenario, drift_start, seed, covariate_features, with_labels=True
    )
    return batch[[ID_COLUMN, TARGET_COLUMN]].reset_index(drop=True)


def write_daily_labels(
    directory: Path,
    day: date,
    n_rows: int = 1000,
    scenario: DriftScenario = "none",
    drift_start: date | None = None,
    seed: int = 0,
) -> Path:
    """Write `daily_labels` of `day` as `directory/<day>.parquet`, atomically: a reader of the
    labels directory sees the old delivery or the whole new one, never half a file."""
    frame = daily_labels(day, n_rows, scenario, drift_start, seed)
    return write_parquet_atomic(frame, Path(directory) / f"{day.isoformat()}.parquet")


def _day_ids(day: date, n_rows: int) -> npt.NDArray[np.int64]:
    import numpy as np

    _check_rows_per_day(n_rows)
    first = (day - _ID_EPOCH).days * _IDS_PER_DAY
    return np.arange(first, first + n_rows, dtype=np.int64)


def _check_rows_per_day(n_rows: int) -> None:
    if n_rows > _IDS_PER_DAY:
        raise ValueError(
            f"{n_rows} rows in one day: the built-in ids allow at most {_IDS_PER_DAY} a day."
        )


def _applicants(rng: np.random.Generator, n: int, shifted: tuple[str, ...]) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    def moved(name: str) -> bool:
        return name in shifted

    age = np.clip(rng.normal(42, 12, n), 18, 85).round()
    years_employed = np.minimum(age - 18, rng.gamma(2.0, 3.5, n)).round(1)
    income = rng.lognormal(np.log(42_000 if moved("income") else 55_000), 0.45, n).round(-2)
    # The moved credit score, debt-to-income and utilisation are bunched (near-prime): their
    # spread is what separates defaulters, so less of it means less certain predictions.
    credit_score = np.clip(
        rng.normal(650, 27, n) if moved("credit_score") else rng.normal(690, 55, n), 300, 850
    )
    loan_amount = np.clip(rng.lognormal(np.log(15_000), 0.6, n), 1_000, 100_000).round(-2)
    term = rng.choice([12, 24, 36, 48, 60], n, p=[0.1, 0.2, 0.35, 0.15, 0.2]).astype(float)
    dti_ab = (8.0, 20.0) if moved("debt_to_income") else (2.0, 5.0)
    debt_to_income = (rng.beta(*dti_ab, n) * 0.9).round(3)
    utilization = rng.beta(*((8.0, 12.0) if moved("utilization") else (2.0, 3.0)), n).round(3)
    open_accounts = rng.poisson(6 if moved("num_open_accounts") else 4, n).astype(float)
    late = rng.poisson(1.4 if moved("num_late_payments") else 0.6, n).astype(float)
    if moved("age"):
        age = np.clip(age - 8, 18, 85)
    if moved("loan_amount"):
        loan_amount = (loan_amount * 1.5).round(-2)
    purpose_p = _PURPOSE_SHIFTED if moved("purpose") else _PURPOSE[1]
    return pd.DataFrame(
        {
            "age": age,
            "income": income,
            "loan_amount": loan_amount,
            "loan_term_months": term,
            "credit_score": credit_score.round(),
            "debt_to_income": debt_to_income,
            "num_open_accounts": open_accounts,
            "num_late_payments": late,
            "years_employed": years_employed,
            "utilization": utilization,
            "home_ownership": _choice(rng, n, _HOME, moved("home_ownership"), [0.6, 0.1, 0.3]),
            "purpose": rng.choice(_PURPOSE[0], n, p=purpose_p),
            "employment_type": _choice(
                rng, n, _EMPLOYMENT, moved("employment_type"), [0.45, 0.2, 0.25, 0.1]
            ),
            "region": _choice(rng, n, _REGION, moved("region"), [0.1, 0.45, 0.15, 0.15, 0.15]),
            "education": _choice(rng, n, _EDUCATION, moved("education"), [0.6, 0.3, 0.08, 0.02]),
        }
    )


def _choice(
    rng: np.random.Generator,
    n: int,
    levels: tuple[list[str], list[float]],
    shifted: bool,
    shifted_p: list[float],
) -> np.ndarray:
    return rng.choice(levels[0], n, p=shifted_p if shifted else levels[1])


def _default(rng: np.random.Generator, frame: pd.DataFrame, concept_shift: bool) -> np.ndarray:
    """Draw the binary target from a logistic relation with the (complete) features.

    The concept-shifted relation keeps the credit score but drops utilisation, reverses the
    role of debt-to-income and adds region and employment effects, so a model fitted before
    the shift is confidently wrong on many applicants after it.
    """
    import numpy as np

    credit = (frame["credit_score"] - 690) / 55
    dti = (frame["debt_to_income"] - 0.26) / 0.14
    util = (frame["utilization"] - 0.4) / 0.2
    late = frame["num_late_payments"] - 0.6
    income = np.log(frame["income"] / 55_000) / 0.45
    loan = np.log(frame["loan_amount"] / 15_000) / 0.6
    employment = frame["employment_type"]
    if not concept_shift:
        logit = (
            -1.1
            - 1.1 * credit
            + 0.8 * dti
            + 0.9 * util
            + 0.6 * late
            - 0.5 * income
            + 0.3 * loan
            + 0.6 * (frame["purpose"] == "medical")
            + 1.0 * (employment == "unemployed")
            + 0.3 * (frame["home_ownership"] == "rent")
        )
    else:
        logit = (
            -0.9
            - 0.8 * credit
            - 0.9 * dti
            + 0.0 * util
            + 0.6 * late
            + 0.4 * income
            + 0.3 * loan
            + 1.6 * (frame["region"] == "south")
            - 1.2 * (frame["region"] == "north")
            + 1.4 * (employment == "contract")
            - 0.6 * (employment == "unemployed")
        )
    probability: npt.NDArray[np.float64] = 1 / (1 + np.exp(-logit.to_numpy(dtype=float)))
    return (rng.random(len(frame)) < probability).astype(np.int64)


def _with_missing(rng: np.random.Generator, frame: pd.DataFrame) -> pd.DataFrame:
    for column, share in _MISSING.items():
        frame[column] = frame[column].mask(rng.random(len(frame)) < share)
    return frame
