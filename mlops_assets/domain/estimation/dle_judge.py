"""Whether a regressor's estimated MAE (domain/estimation/dle.py) is trusted, and whether it
rose beyond noise above the version's test MAE."""

from __future__ import annotations

import math
from statistics import NormalDist

# One support bound for every estimator's trust: CBPE's.
from mlops_assets.domain.estimation.cbpe import DEFAULT_MAX_OUT_OF_SUPPORT
from mlops_assets.domain.estimation.dle import LossModel, RegressionEstimate
from mlops_assets.domain.performance import DEFAULT_CONFIDENCE, DEFAULT_MIN_EFFECT

DEFAULT_MAX_LOSS_MODEL_ERROR = 0.25


def judge_regression_estimate(
    estimate: RegressionEstimate,
    model: LossModel,
    *,
    out_of_support: float,
    reference_mae: float | None,
    reference_n: int | None,
    max_loss_model_error: float = DEFAULT_MAX_LOSS_MODEL_ERROR,
    max_out_of_support: float = DEFAULT_MAX_OUT_OF_SUPPORT,
    min_effect: float = DEFAULT_MIN_EFFECT,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[bool, str, bool, str]:
    """(trusted, trust reason, risen, reason). A rise counts when the estimated MAE is above
    the version's test MAE by more than `min_effect` (relative) and the log-ratio's interval
    (the estimate's and the test MAE's noise from its `reference_n` rows) lies above 0.
    Untrusted: no rise counts."""
    error = model.absolute.model_error
    if not math.isfinite(error) or error > max_loss_model_error:
        trusted, why = False, f"loss model error {error:.1%} > {max_loss_model_error:.0%}"
    elif out_of_support > max_out_of_support:
        trusted, why = (
            False,
            f"{out_of_support:.0%} of rows outside the training support "
            f"(> {max_out_of_support:.0%})",
        )
    else:
        trusted, why = (
            True,
            f"loss model error {error:.1%}, {out_of_support:.0%} of rows outside support",
        )
    est = (
        f"estimated mae {estimate.mae:.4g} [{estimate.mae_low:.4g}, {estimate.mae_high:.4g}], "
        f"rmse {estimate.rmse:.4g} [{estimate.rmse_low:.4g}, {estimate.rmse_high:.4g}] "
        f"on {estimate.n} rows"
    )
    if reference_mae is None or not math.isfinite(reference_mae) or reference_mae <= 0:
        return trusted, why, False, f"{est}; no test mae to compare with"
    if estimate.mae <= 0:
        return trusted, why, False, f"{est}; estimated mae 0"
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    # Log-scale spread of the estimate from its interval; the test MAE's from the reference
    # rows' noise ratio at reference_n rows.
    log_se = math.log(estimate.mae_high / estimate.mae) / z if estimate.mae_high > 0 else 0.0
    ref_se = math.sqrt(model.absolute.noise_ratio / reference_n) if reference_n else 0.0
    spread = z * math.hypot(log_se, ref_se)
    log_ratio = math.log(estimate.mae / reference_mae)
    rise = estimate.mae / reference_mae - 1
    low, high = math.exp(log_ratio - spread) - 1, math.exp(log_ratio + spread) - 1
    figures = f"{est} vs test mae {reference_mae:.4g}: rise {rise:+.1%} [{low:+.1%}, {high:+.1%}]"
    risen = rise > min_effect and low > 0
    if risen and not trusted:
        return trusted, why, False, f"estimate untrusted ({why}); {figures}"
    return trusted, why, risen, ("estimated rise: " if risen else "estimate held: ") + figures
