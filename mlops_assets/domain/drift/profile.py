"""The reference profile: what the daily comparison keeps of a model version's training rows,
and its JSON (de)serialisation, stored beside the model."""

from __future__ import annotations

import base64
import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_assets.domain.drift.columns import (
    DriftInputError,
    category_counts,
    require_columns,
    sorted_numeric_block,
)
from mlops_assets.domain.drift.evidently_rules import EVIDENTLY_SMALL_REFERENCE
from mlops_assets.domain.drift.statistics import PSI_BINS, bin_counts, runs, sorted_quantiles

FORMAT_VERSION = 1
DEFAULT_MAX_REFERENCE_VALUES = 5000
"""Per numeric column: exact values up to this many distinct ones, a quantile sketch beyond."""


@dataclass(frozen=True, eq=False)
class NumericReference:
    """One numeric training column.

    `values`/`counts` are the sorted distinct values and their counts when the column has at
    most `max_reference_values` distinct values (then `counts.sum() == n`, exact); otherwise
    a deterministic quantile sketch: the values at the mid-quantiles (i + 0.5) / m, i < m,
    with multiplicities summing to m.
    """

    name: str
    n: int
    n_missing: int
    mean: float
    std: float
    n_unique: int
    values: np.ndarray
    counts: np.ndarray
    psi_edges: np.ndarray
    psi_counts: np.ndarray

    @property
    def exact(self) -> bool:
        return int(self.counts.sum()) == self.n

    @property
    def missing_share(self) -> float:
        total = self.n + self.n_missing
        return self.n_missing / total if total else 0.0


@dataclass(frozen=True, eq=False)
class CategoricalReference:
    """One categorical training column: counts of its (string) categories, and of missing."""

    name: str
    n: int
    n_missing: int
    counts: dict[str, int]

    @property
    def missing_share(self) -> float:
        total = self.n + self.n_missing
        return self.n_missing / total if total else 0.0


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """What the daily comparison needs from a model version's training rows."""

    n_rows: int
    numeric: tuple[NumericReference, ...]
    categorical: tuple[CategoricalReference, ...]
    max_reference_values: int = DEFAULT_MAX_REFERENCE_VALUES

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.numeric) + tuple(c.name for c in self.categorical)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT_VERSION,
                "n_rows": self.n_rows,
                "max_reference_values": self.max_reference_values,
                "array_encoding": "base64(zlib(byte-shuffled little-endian float64/int64))",
                "numeric": [
                    {
                        "name": c.name,
                        "n": c.n,
                        "n_missing": c.n_missing,
                        "mean": _finite_or_none(c.mean),
                        "std": _finite_or_none(c.std),
                        "n_unique": c.n_unique,
                        "psi_edges": c.psi_edges.tolist(),
                        "psi_counts": c.psi_counts.tolist(),
                        "size": int(c.values.size),
                        "values": _encode(c.values.astype("<f8")),
                        "counts": _encode(c.counts.astype("<i8")),
                    }
                    for c in self.numeric
                ],
                "categorical": [
                    {"name": c.name, "n": c.n, "n_missing": c.n_missing, "counts": c.counts}
                    for c in self.categorical
                ],
            },
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        data = json.loads(text)
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"reference profile format {data.get('format')!r} is not {FORMAT_VERSION}; "
                "retrain the model version to rebuild its profile"
            )
        numeric = tuple(
            NumericReference(
                name=c["name"],
                n=int(c["n"]),
                n_missing=int(c["n_missing"]),
                mean=_none_to_nan(c["mean"]),
                std=_none_to_nan(c["std"]),
                n_unique=int(c["n_unique"]),
                values=_decode(c["values"], np.dtype("<f8"), c["size"]),
                counts=_decode(c["counts"], np.dtype("<i8"), c["size"]),
                psi_edges=np.asarray(c["psi_edges"], dtype=np.float64),
                psi_counts=np.asarray(c["psi_counts"], dtype=np.int64),
            )
            for c in data["numeric"]
        )
        categorical = tuple(
            CategoricalReference(
                name=c["name"],
                n=int(c["n"]),
                n_missing=int(c["n_missing"]),
                counts={str(k): int(v) for k, v in c["counts"].items()},
            )
            for c in data["categorical"]
        )
        return cls(
            n_rows=int(data["n_rows"]),
            numeric=numeric,
            categorical=categorical,
            max_reference_values=int(data["max_reference_values"]),
        )


def build_reference_profile(
    train_frame: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    max_reference_values: int = DEFAULT_MAX_REFERENCE_VALUES,
) -> ReferenceProfile:
    """Summarise the training rows of a model version for `compute_drift`.

    Numeric columns keep their exact distinct values and counts when there are at most
    `max_reference_values` of them, else a quantile sketch of that many points (KS and
    Wasserstein against it are then within about 1 / max_reference_values of the exact
    ones). The JSON stays under ~1 MB for 25 continuous columns at the default 5000.
    """
    if max_reference_values < EVIDENTLY_SMALL_REFERENCE:
        raise ValueError(
            f"max_reference_values must be at least {EVIDENTLY_SMALL_REFERENCE} so that "
            f"references in evidently's KS region are kept whole, got {max_reference_values}"
        )
    require_columns(train_frame, [*numeric, *categorical], "training frame")
    if len(train_frame) == 0:
        raise DriftInputError("the training frame has no rows; there is no reference to keep")
    block, n_valid = sorted_numeric_block(train_frame, numeric)
    numeric_refs = tuple(
        _numeric_reference(name, block[i, : n_valid[i]], len(train_frame), max_reference_values)
        for i, name in enumerate(numeric)
    )
    categorical_refs = []
    for name in categorical:
        counts, n_missing = category_counts(train_frame[name])
        ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        categorical_refs.append(
            CategoricalReference(name, sum(ordered.values()), n_missing, ordered)
        )
    return ReferenceProfile(
        n_rows=len(train_frame),
        numeric=numeric_refs,
        categorical=tuple(categorical_refs),
        max_reference_values=max_reference_values,
    )


def _numeric_reference(
    name: str, values: np.ndarray, n_rows: int, max_values: int
) -> NumericReference:
    """`values`: the column's finite values, sorted."""
    n = values.size
    if n == 0:
        nothing = np.empty(0)
        return NumericReference(
            name=name,
            n=0,
            n_missing=n_rows,
            mean=math.nan,
            std=math.nan,
            n_unique=0,
            values=nothing,
            counts=np.empty(0, dtype=np.int64),
            psi_edges=nothing,
            psi_counts=np.zeros(1, dtype=np.int64),
        )
    distinct, counts = runs(values)
    if distinct.size > max_values:
        picks = values[((np.arange(max_values) + 0.5) * n / max_values).astype(np.int64)]
        distinct, counts = runs(picks)
    edges = np.unique(sorted_quantiles(values, np.arange(1, PSI_BINS) / PSI_BINS))
    return NumericReference(
        name=name,
        n=n,
        n_missing=n_rows - n,
        mean=float(np.mean(values)),
        std=float(np.std(values)),
        n_unique=int(np.count_nonzero(np.diff(values)) + 1),
        values=distinct,
        counts=counts,
        psi_edges=edges,
        psi_counts=bin_counts(values, edges),
    )


def _encode(array: np.ndarray) -> str:
    # Byte-shuffling groups the similar high bytes of sorted numbers: zlib then saves ~25 %.
    shuffled = np.ascontiguousarray(array).view(np.uint8).reshape(-1, array.itemsize).T
    return base64.b64encode(zlib.compress(shuffled.tobytes(), 6)).decode("ascii")


def _decode(text: str, dtype: np.dtype, size: int) -> np.ndarray:
    raw = np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=np.uint8)
    return raw.reshape(dtype.itemsize, size).T.copy().view(dtype).reshape(size)


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _none_to_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)
