"""Real public tables the estimator bench measures on, each read from the package that ships
it: statsmodels' RAND health-insurance experiment (in the project's environment), NannyML's
multiclass credit-card table (in NannyML's, bench/nannyml_side.py) and ggplot2's diamonds
(53,940 round diamonds, MIT, as plotnine's wheel ships it: installed without its dependencies
into bench/.data/wheels on first use, only its CSV is read), and NannyML's employment_MA
(Massachusetts' American Community Survey rows of 2015-2018 as folktables draws them, with the
probabilities of NannyML's own classifier of `employed`).

NannyML's California housing table was considered for the regression measurements and left
out: its wheel ships the features and a binary `clf_target`, not the median house value."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nannyml_side
import pandas as pd
from common import DATA, ROOT

PLOTNINE = "plotnine==0.15.9"
WHEELS = DATA / "wheels"


@dataclass(frozen=True)
class Table:
    """A table with what a model learns from it and the feature its days lean on."""

    name: str
    frame: pd.DataFrame
    target: str
    numeric: list[str]
    categorical: list[str]
    shift_column: str

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def randhie() -> Table:
    """Doctor visits a year (`mdvis`), days leaning to high `disea` (chronic diseases)."""
    import statsmodels.api as sm

    visits = sm.datasets.randhie.load_pandas().data
    numeric = [c for c in visits.columns if c != "mdvis"]
    return Table("statsmodels' randhie, doctor visits", visits, "mdvis", numeric, [], "disea")


def diamonds() -> pd.DataFrame:
    """ggplot2's diamonds from plotnine's wheel (installed with --no-deps on first use)."""
    csv = WHEELS / "plotnine" / "data" / "diamonds.csv"
    if not csv.exists():
        uv = shutil.which("uv", path=str(ROOT / ".tools" / "bin")) or shutil.which("uv")
        if uv is None:
            raise nannyml_side.NannyMLUnavailable("no uv in .tools/bin or on PATH: `make setup`")
        step = [uv, "pip", "install", "--quiet", "--no-deps", "--target", str(WHEELS), PLOTNINE]
        done = subprocess.run(
            [*step, "--python", sys.executable], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise nannyml_side.NannyMLUnavailable(
                f"installing {PLOTNINE} for its diamonds table failed:\n{done.stderr[-2000:]}"
            )
    return pd.read_csv(csv)


def nannyml_data() -> Path:
    """The data folder of the nannyml wheel in NannyML's environment."""
    lib = nannyml_side.python().parent.parent / "lib"
    return next(lib.glob("python3*/site-packages/nannyml/datasets/data"))


def employment() -> tuple[pd.DataFrame, pd.DataFrame]:
    """employment_MA: the 2015 reference rows and the 2016-2018 analysis rows, each with
    `employed` and the model's `predicted_probability` and `prediction`."""
    folder = nannyml_data()
    reference = pd.read_parquet(folder / "employment_MA_reference.pq")
    analysis = pd.read_parquet(folder / "employment_MA_analysis.pq").merge(
        pd.read_parquet(folder / "employment_MA_analysis_target.pq"), on="id"
    )
    return reference, analysis


DIAMOND_NUMERIC = ["carat", "depth", "table", "x", "y", "z"]


def diamond_prices() -> Table:
    """A diamond's price from its size and grades, days leaning to large stones."""
    return Table(
        "ggplot2's diamonds, price",
        diamonds(),
        "price",
        DIAMOND_NUMERIC,
        ["cut", "color", "clarity"],
        "carat",
    )


def diamond_cuts() -> Table:
    """A diamond's cut (5 grades) from its size, proportions, colour, clarity and price, days
    leaning to large stones (which are cut worse more often)."""
    return Table(
        "ggplot2's diamonds, cut",
        diamonds(),
        "cut",
        [*DIAMOND_NUMERIC, "price"],
        ["color", "clarity"],
        "carat",
    )
