"""Challengers in production: the statistics behind shadow, canary and bandit deployments.

- `losses`: each labelled row's loss under both models, bounded, and their paired differences;
- `sequential`: the anytime-valid test on those differences, accumulated day by day, and its
  verdict (promote, retire, keep collecting);
- `bandit`: Thompson sampling over the two models, rewarded by delayed labels;
- `canary`: the challenger's share of live traffic, raised as the evidence grows.

Pure numpy/scipy/pandas: no Dagster, MLflow or disk. See docs/challengers.md.
"""

from mlops_assets.domain.challenger.bandit import ARMS, Arm, RewardSummary, ThompsonSampler
from mlops_assets.domain.challenger.canary import CanarySchedule, next_canary_share
from mlops_assets.domain.challenger.losses import (
    LOG_LOSS_BOUND,
    LOSS_KINDS,
    ChallengerInputError,
    LossKind,
    loss_bound,
    paired_differences,
    probability_losses,
    zero_one_losses,
)
from mlops_assets.domain.challenger.sequential import (
    EVIDENCE_REASONS,
    ChallengerEvidence,
    ChallengerVerdict,
    DaySummary,
    Decision,
    Reason,
    SequentialTestSettings,
    judge_day,
    stitching_boundary,
)

__all__ = [
    "ARMS",
    "EVIDENCE_REASONS",
    "LOG_LOSS_BOUND",
    "LOSS_KINDS",
    "Arm",
    "CanarySchedule",
    "ChallengerEvidence",
    "ChallengerInputError",
    "ChallengerVerdict",
    "DaySummary",
    "Decision",
    "LossKind",
    "Reason",
    "RewardSummary",
    "SequentialTestSettings",
    "ThompsonSampler",
    "judge_day",
    "loss_bound",
    "next_canary_share",
    "paired_differences",
    "probability_losses",
    "stitching_boundary",
    "zero_one_losses",
]
