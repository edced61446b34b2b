"""Drift statistics and verdicts: the day's batch against its model version's training rows.

Pure numpy/scipy/pandas. The training side is summarised once per model version into a
`ReferenceProfile` (stored as JSON beside the model); each day only the batch is read, and the
numeric block is sorted once, so a day costs one sort per numeric column plus O(reference size)
work per column.

Two verdicts per feature
------------------------
``evidently_drifted`` is evidently 0.7's ``DataDriftPreset`` verdict with its default settings
(``evidently/legacy/calculations/stattests/registry.py::_get_default_stattest`` and the stattest
modules beside it), reproduced test for test so the two can be compared column by column.
``n`` is the number of non-missing reference values, ``k`` the number of distinct non-missing
values in reference and current together:

============================  ===========================  ============================
column                        reference n <= 1000          reference n > 1000
============================  ===========================  ============================
numeric, k > 5                ``ks``: two-sample KS,       ``wasserstein``: W1 / std of
                              drift if p <= 0.05           the reference, drift if >= 0.1
numeric, 3 <= k <= 5          ``chisquare``, p < 0.05      ``jensenshannon``, >= 0.1
numeric, k <= 2               ``z`` (two proportions),     ``jensenshannon``, >= 0.1
                              p < 0.05
categorical, k > 2            ``chisquare``, p < 0.05      ``jensenshannon``, >= 0.1
categorical, k <= 2           ``z``, p < 0.05              ``jensenshannon``, >= 0.1
============================  ===========================  ============================

The chi-square is evidently's goodness of fit (expected = reference counts scaled to the
current size); the Z-test uses the pooled proportion; the Wasserstein distance is divided by
``max(std, 0.001)`` of the reference (population std); Jensen-Shannon is the distance (square
root, natural log) between the category shares. Missing and infinite values are dropped for
the tests, as evidently does. evidently calls a dataset drifted when at least half the columns
drift (``drift_share`` 0.5). The reference n of the rule is the *true* count of non-missing
training values (`NumericReference.n`), even when the profile keeps only a sketch of them.

``drifted`` is ours, with false-alarm control. Every feature also gets a two-sample
significance test - KS for numeric columns with k > 5, a chi-square test of homogeneity (2 x k
table) for the others, its p-value a seeded Monte Carlo one where an expected count is under
5 (rare categories on a small day, where the chi-square distribution is far too light-tailed) -
whatever evidently's rule picked, so small batches cannot alarm on noise. A feature drifts when
both hold:

- its p-value survives Benjamini-Hochberg across all features of the day at FDR
  ``DriftConfig.fdr`` (0.05): on a day without drift, the chance of any false feature stays
  below 5 % however many features there are (evidently's per-column 0.05 on 15 features flags
  at least one on about half of such days when the reference is small). In ``assess_day`` the
  family also holds the model score's test and the day's data-quality tests (missing-share and
  unseen-category rises, ``domain/data_quality.py``), which set the same severity: one family,
  one 5 % for the day's alarm (``compute_drift``'s ``other_p_values``);
- its effect reaches ``DriftConfig.min_effect`` (0.1): the normalised Wasserstein distance for
  numeric columns with k > 5, the Jensen-Shannon distance for the others - evidently's own
  distance thresholds - so that on large batches a tiny but "significant" shift does not count.

Severity
--------
PSI is reported for every feature: 10 bins at the reference deciles for numeric columns (equal
edges merged, bins closed on the left), one bin per category for categorical ones (categories
unseen in training get their own bin), plus one bin for missing values; empty bins count as
1e-4. Bands: < 0.1 ``stable``, 0.1-0.2 ``moderate``, >= 0.2 ``major``.

- ``critical`` (``dataset_drift``): at least ``critical_share`` (0.25) of the features drifted.
  evidently's 0.5 waits for half of the features; a real covariate shift moves a few related
  features (the built-in scenario moves 5 of 15), and a quarter is far above what a clean day
  produces under the control above.
- ``warning``: any feature drifted. PSI is descriptive: with no change at all it grows as
  the day shrinks (10 bins on 50 rows: often above 0.2), so each feature's PSI gets a Monte
  Carlo p-value against its own noise at the day's size (days drawn from the reference's bin
  shares, themselves drawn around the reference's, 999 draws, seeded), shown as
  ``psi_q_value``, and sets no severity. Counted as a second alarm beside the significance
  tests it let a clean 50-row day of a one-feature real table alarm 8 % of the time; the case
  it caught, a column whose values went missing, is the data-quality test's
  (``domain/data_quality.py``), which ``assess_day`` folds into the day's severity.
  Measured on clean days of 30 to 200 rows of real tables through ``assess_day``
  (``scripts/measure_small_batches.py``, ``domain/test_drift_small_batches.py``): at most
  5 % alarm (the figures are in docs/monitoring.md).
- a feature with fewer than 30 present values on the day is ``insufficient_data``: reported
  with its count, never drifted.
- ``none`` otherwise.

KS p-values are exact (scipy's own exact distribution) where scipy's ``ks_2samp`` would use it
and the reference has at most 1000 values (evidently's KS region), and Smirnov's asymptotic
distribution (``kstwo``) otherwise, as ``ks_2samp(method="asymp")``.
"""

from mlops_assets.domain.drift.columns import DriftInputError
from mlops_assets.domain.drift.engine import (
    DriftConfig,
    DriftResult,
    FeatureDrift,
    Kind,
    compute_drift,
    psi_band,
)
from mlops_assets.domain.drift.evidently_rules import (
    EVIDENTLY_BINARY,
    EVIDENTLY_DISTANCE,
    EVIDENTLY_DRIFT_SHARE,
    EVIDENTLY_LOW_CARDINALITY,
    EVIDENTLY_P_VALUE,
    EVIDENTLY_SMALL_REFERENCE,
    SCIPY_EXACT_KS_MAX_N,
    WASSERSTEIN_MIN_STD,
)
from mlops_assets.domain.drift.profile import (
    DEFAULT_MAX_REFERENCE_VALUES,
    FORMAT_VERSION,
    CategoricalReference,
    NumericReference,
    ReferenceProfile,
    build_reference_profile,
)
from mlops_assets.domain.drift.statistics import (
    PSI_BINS,
    PSI_EPSILON,
    benjamini_hochberg,
    population_stability_index,
    wasserstein_1,
)

__all__ = [
    "DEFAULT_MAX_REFERENCE_VALUES",
    "EVIDENTLY_BINARY",
    "EVIDENTLY_DISTANCE",
    "EVIDENTLY_DRIFT_SHARE",
    "EVIDENTLY_LOW_CARDINALITY",
    "EVIDENTLY_P_VALUE",
    "EVIDENTLY_SMALL_REFERENCE",
    "FORMAT_VERSION",
    "PSI_BINS",
    "PSI_EPSILON",
    "SCIPY_EXACT_KS_MAX_N",
    "WASSERSTEIN_MIN_STD",
    "CategoricalReference",
    "DriftConfig",
    "DriftInputError",
    "DriftResult",
    "FeatureDrift",
    "Kind",
    "NumericReference",
    "ReferenceProfile",
    "benjamini_hochberg",
    "build_reference_profile",
    "compute_drift",
    "population_stability_index",
    "psi_band",
    "wasserstein_1",
]
