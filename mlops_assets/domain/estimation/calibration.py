"""Expected calibration error and a probability calibrator stored as plain JSON parameters.

ECE here is the top-class confidence ECE with equal-width bins: the row-weighted mean gap
between the confidence of the predicted class and how often that prediction is right. For a
binary model it is the same as the positive-class ECE folded at 0.5.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from scipy import special

DEFAULT_ECE_BINS = 15
CALIBRATION_FOLDS = 5
Method = Literal["isotonic", "sigmoid", "identity"]
_EPS = 1e-6


def expected_calibration_error(
    proba: np.ndarray, y_index: np.ndarray, *, bins: int = DEFAULT_ECE_BINS
) -> float:
    """Top-class ECE of `proba` (rows x classes) against the true class positions `y_index`."""
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or len(proba) == 0:
        raise ValueError(f"proba must be a non-empty 2-D array, got shape {proba.shape}.")
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == np.asarray(y_index)).astype(float)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    gap = np.bincount(which, weights=confidence - correct, minlength=bins)
    return float(np.abs(gap[counts > 0]).sum() / len(proba))


@dataclass(frozen=True)
class ReferenceBins:
    """What the estimate's interval needs from the reference (the validation split): per
    equal-width bin of the model's raw top-class confidence, its rows and how many of the
    model's predictions in it were right."""

    counts: tuple[int, ...]
    hits: tuple[int, ...]

    @classmethod
    def of(
        cls, proba: np.ndarray, y_index: np.ndarray, *, bins: int = DEFAULT_ECE_BINS
    ) -> ReferenceBins:
        proba = np.asarray(proba, dtype=float)
        which = _bin_of(proba, bins)
        correct = (proba.argmax(axis=1) == np.asarray(y_index)).astype(float)
        counts = np.bincount(which, minlength=bins)
        hits = np.bincount(which, weights=correct, minlength=bins)
        return cls(tuple(int(c) for c in counts), tuple(round(float(h)) for h in hits))

    def shares(self, raw: np.ndarray) -> np.ndarray:
        """Share of `raw` rows (model probabilities, rows x classes) in each bin."""
        which = _bin_of(np.asarray(raw, dtype=float), len(self.counts))
        return np.bincount(which, minlength=len(self.counts)) / max(len(which), 1)

    def calibration_variance(self, raw: np.ndarray) -> float:
        """Variance of the expected accuracy from calibrating on a finite reference: per bin
        the binomial variance of its hit rate, weighted by the day's share of that bin,
        sum_b w_b^2 p_b (1 - p_b) / n_b. p_b is shrunk half a hit towards 1/2 so a bin
        always right (or empty) still counts as uncertain; an empty bin counts as one row."""
        counts = np.asarray(self.counts, dtype=float)
        rate = (np.asarray(self.hits, dtype=float) + 0.5) / (counts + 1)
        weight = self.shares(raw)
        return float((weight**2 * rate * (1 - rate) / np.maximum(counts, 1)).sum())

    def total_variation(self, raw: np.ndarray) -> float:
        """Share of the day's rows that would have to move bins to match the reference's
        confidence histogram (total variation distance, 0 to 1)."""
        counts = np.asarray(self.counts, dtype=float)
        reference = counts / counts.sum() if counts.sum() > 0 else counts
        return float(0.5 * np.abs(self.shares(raw) - reference).sum())

    def moved_spread(self, raw: np.ndarray, p_hit: np.ndarray) -> float:
        """The shift bound of the rows that moved, bin by bin: per bin the day's share in
        excess of the reference's (these excesses add up to `total_variation`) times the
        mean Bernoulli standard deviation sqrt(p(1-p)) of the day's rows in that bin, `p_hit`
        being each row's calibrated probability that the model is right. A moved row whose
        calibration is off by at most its own standard deviation moves the accuracy by at
        most this. It is larger than the moved share times the day's sqrt(a(1-a)) when the
        moved rows are the less confident ones (whose calibration can be further off), and
        never above the day's mean sqrt(p(1-p)) (every row moved), itself at most sqrt(a(1-a))."""
        which = _bin_of(np.asarray(raw, dtype=float), len(self.counts))
        counts = np.asarray(self.counts, dtype=float)
        reference = counts / counts.sum() if counts.sum() > 0 else counts
        excess = np.maximum(self.shares(raw) - reference, 0.0)
        in_bin = np.bincount(which, minlength=len(self.counts))
        spread = np.bincount(
            which, weights=np.sqrt(p_hit * (1 - p_hit)), minlength=len(self.counts)
        ) / np.maximum(in_bin, 1)
        return float((excess * spread).sum())

    def to_dict(self) -> dict[str, list[int]]:
        return {"counts": list(self.counts), "hits": list(self.hits)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ReferenceBins:
        return cls(tuple(int(c) for c in raw["counts"]), tuple(int(h) for h in raw["hits"]))


def _bin_of(proba: np.ndarray, bins: int) -> np.ndarray:
    confidence = proba.max(axis=1)
    out: np.ndarray = np.clip((confidence * bins).astype(int), 0, bins - 1)
    return out


@dataclass(frozen=True)
class ProbabilityCalibrator:
    """One-vs-rest calibration maps, one per calibrated class column, then renormalised.

    A binary model calibrates only its positive (last) column; the other is its complement.
    `params` per column: sigmoid {"a", "b"} on the logit of the probability; isotonic
    {"x", "y"} the step points, applied by linear interpolation clipped at both ends (what
    sklearn's IsotonicRegression(out_of_bounds="clip") does). `reference` is None in an
    artefact written before the interval needed it: the estimate then has today's interval
    (sampling noise only) and says so."""

    method: Method
    n_classes: int
    params: tuple[dict[str, Any], ...]
    ece_before: float
    ece_after: float
    reference: ReferenceBins | None = None

    def apply(self, proba: np.ndarray) -> np.ndarray:
        proba = np.asarray(proba, dtype=float)
        if self.method == "identity":
            return proba
        if self.n_classes == 2:
            positive = _map(self.method, self.params[0], proba[:, 1])
            return np.column_stack([1 - positive, positive])
        mapped = np.column_stack(
            [_map(self.method, p, proba[:, k]) for k, p in enumerate(self.params)]
        )
        total = mapped.sum(axis=1, keepdims=True)
        # A row every map sends to 0 keeps the model's own probabilities.
        return np.where(total > 0, mapped / np.where(total > 0, total, 1), proba)

    def to_json(self) -> str:
        return json.dumps(
            {
                "method": self.method,
                "n_classes": self.n_classes,
                "params": list(self.params),
                "ece_before": self.ece_before,
                "ece_after": self.ece_after,
                **({"reference": self.reference.to_dict()} if self.reference else {}),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ProbabilityCalibrator:
        raw = json.loads(text)
        return cls(
            method=raw["method"],
            n_classes=int(raw["n_classes"]),
            params=tuple(raw["params"]),
            ece_before=float(raw["ece_before"]),
            ece_after=float(raw["ece_after"]),
            reference=ReferenceBins.from_dict(raw["reference"]) if "reference" in raw else None,
        )


def fit_calibrator(
    proba: np.ndarray, y_index: np.ndarray, *, seed: int = 0, bins: int = DEFAULT_ECE_BINS
) -> ProbabilityCalibrator:
    """Fit on the validation split's probabilities; pick isotonic, sigmoid or none by the ECE
    of out-of-fold calibrated probabilities (cross-fitting within the split), so isotonic's
    in-sample fit cannot win by overfitting. `ece_after` is that out-of-fold ECE."""
    proba = np.asarray(proba, dtype=float)
    y_index = np.asarray(y_index, dtype=int)
    n_classes = proba.shape[1]
    before = expected_calibration_error(proba, y_index, bins=bins)
    folds = np.random.default_rng(seed).permutation(len(proba)) % CALIBRATION_FOLDS
    scores: dict[Method, float] = {"identity": before}
    for method in ("isotonic", "sigmoid"):
        out_of_fold = np.empty_like(proba)
        for fold in range(CALIBRATION_FOLDS):
            held = folds == fold
            if held.all() or not held.any():
                continue
            fitted = _fit(method, proba[~held], y_index[~held], n_classes, before)
            out_of_fold[held] = fitted.apply(proba[held])
        scores[method] = expected_calibration_error(out_of_fold, y_index, bins=bins)
    best: Method = min(scores, key=lambda m: scores[m])
    reference = ReferenceBins.of(proba, y_index, bins=bins)
    if best == "identity":
        return ProbabilityCalibrator("identity", n_classes, (), before, before, reference)
    fitted = _fit(best, proba, y_index, n_classes, before, after=scores[best])
    return replace(fitted, reference=reference)


def _fit(
    method: Method,
    proba: np.ndarray,
    y_index: np.ndarray,
    n_classes: int,
    before: float,
    after: float = float("nan"),
) -> ProbabilityCalibrator:
    columns = [1] if n_classes == 2 else range(n_classes)
    params = tuple(_fit_column(method, proba[:, k], y_index == k) for k in columns)
    return ProbabilityCalibrator(method, n_classes, params, before, after)


def _fit_column(method: Method, p: np.ndarray, hit: np.ndarray) -> dict[str, Any]:
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(p, hit.astype(float))
        return {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
    from sklearn.linear_model import LogisticRegression

    if hit.all() or not hit.any():  # one outcome only: a constant map
        return {"a": 0.0, "b": float(np.log((hit.mean() + _EPS) / (1 - hit.mean() + _EPS)))}
    platt = LogisticRegression(C=1e6).fit(_logit(p)[:, None], hit.astype(int))
    return {"a": float(platt.coef_[0, 0]), "b": float(platt.intercept_[0])}


def _map(method: Method, params: dict[str, Any], p: np.ndarray) -> np.ndarray:
    if method == "isotonic":
        stepped: np.ndarray = np.interp(p, np.asarray(params["x"]), np.asarray(params["y"]))
        return stepped
    # expit saturates at 0 and 1 where 1 / (1 + exp(-z)) overflows (steep Platt slopes).
    mapped: np.ndarray = special.expit(params["a"] * _logit(p) + params["b"])
    return mapped


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1 - _EPS)
    out: np.ndarray = np.log(q / (1 - q))
    return out
