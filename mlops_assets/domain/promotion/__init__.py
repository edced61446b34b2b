"""Where a promotion is decided: every move of the `champion` alias, Dagster-free.

The modules, in the order a candidate meets them:
- `comparison`: the champion scored on the challenger's test rows (the paired bootstrap of
  their losses, overall and per slice), what evaluation_report hands the gate;
- `gate`: the named checks and the decision (GateConfig, decide_promotion, GateOutcome:
  promoted, challenger or rejected);
- `moves`: the lock and compare-and-set protocol that registers a candidate and moves
  `champion` (the gate's promotion, a manual promotion) and the gate's `challenger`, over the
  ChampionRegistry interface that MlflowRegistry implements; a promotion keeps the champion it
  replaced as the challenger (guarding), so live evidence can undo it;
- `rollback`: `champion` moved back, by hand or on the challenger test's evidence;
- `pending`: `challenger` set (`make_challenger`) as one recoverable move: its intent written
  before the alias moves, finished by the next move if a kill came between;
- `guard`: the former champion kept under watch after a promotion (`guarding`), also when a
  retried step finishes a killed promotion;
- `roles`: the `challenger` alias set or retired by hand;
- `audit`: every move of an alias recorded on its version (who, when, why, the evidence) and
  read back (`audit_trail`);
- `history`: the champion's history read back from the registry's tags (the previous champion,
  the rollback target, the repairs after a killed promotion).

The Dagster side is thin: registered_model_version and the promote/rollback ops
(defs/champion/registry.py) call `moves`.
"""

from mlops_assets.domain.promotion.audit import Action, AliasMove, audit_trail
from mlops_assets.domain.promotion.comparison import (
    ChampionComparison,
    ChampionSource,
    ComparisonSettings,
    EvaluationSummary,
    compare_predictions,
    compare_with_champion,
    compare_with_current_champion,
    incompatible_champion,
    predictions_on,
)
from mlops_assets.domain.promotion.gate import (
    DEFAULT_MIN_METRICS,
    OUTCOME_HEADLINES,
    VERSION_PLACEHOLDER,
    GateCheck,
    GateConfig,
    GateDecision,
    GateOutcome,
    ManualPromotion,
    decide_promotion,
    gate_tags,
    judge,
    promote_version_command,
)
from mlops_assets.domain.promotion.history import (
    PromotionError,
    Repair,
    current_champion,
    description_from_tags,
    interrupted_repairs,
    previous_champion,
    rollback_target,
)
from mlops_assets.domain.promotion.moves import (
    Candidate,
    ChampionMove,
    ChampionRegistry,
    PromotionOutcome,
    champion_lock,
    promote_given_version,
    register_and_promote,
    repair_interrupted,
)
from mlops_assets.domain.promotion.roles import retire_challenger, set_challenger
from mlops_assets.domain.promotion.rollback import roll_back

__all__ = [
    "DEFAULT_MIN_METRICS",
    "OUTCOME_HEADLINES",
    "VERSION_PLACEHOLDER",
    "Action",
    "AliasMove",
    "Candidate",
    "ChampionComparison",
    "ChampionMove",
    "ChampionRegistry",
    "ChampionSource",
    "ComparisonSettings",
    "EvaluationSummary",
    "GateCheck",
    "GateConfig",
    "GateDecision",
    "GateOutcome",
    "ManualPromotion",
    "PromotionError",
    "PromotionOutcome",
    "Repair",
    "audit_trail",
    "champion_lock",
    "compare_predictions",
    "compare_with_champion",
    "compare_with_current_champion",
    "current_champion",
    "decide_promotion",
    "description_from_tags",
    "gate_tags",
    "incompatible_champion",
    "interrupted_repairs",
    "judge",
    "predictions_on",
    "previous_champion",
    "promote_given_version",
    "promote_version_command",
    "register_and_promote",
    "repair_interrupted",
    "retire_challenger",
    "roll_back",
    "rollback_target",
    "set_challenger",
]
