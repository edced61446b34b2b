"""Scoring a request's rows in the service's mode: the champion alone, or the champion and the
challenger in one call on the scoring thread (shadow, canary, bandit), and who answers each
row (domain/challenger/routing.py).

Both models score the same prepared rows one after the other in the same job: no second
round trip, no second parse or schema check, and the request log gets both predictions on
every row, which is what the paired comparison of the two models needs whatever the mode.

A challenger never fails a request: with none loaded (no alias, or it was removed), or one
whose scoring raises, or whose classes differ from the champion's, the champion answers every
row, and /health and `mlops_serving_champion_only` / `mlops_serving_challenger_failures_total`
say so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mlops_assets.domain.challenger.routing import ServeMode, canary_roles, row_keys
from mlops_assets.domain.serving import BothScored, PreparedRows
from mlops_assets.domain.training import predict_frame, prediction_score
from mlops_assets.serving.bandit_learner import BanditLearner
from mlops_assets.serving.champion_watcher import ChampionWatcher, ServedModel
from mlops_assets.serving.metrics import ServingMetrics

log = logging.getLogger("mlops_assets.serving")
CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True)
class Answer:
    """What a request's rows got: the answered predictions, probabilities and scores, the
    version and role that answered (both joined by "," when the rows split), and both models'
    predictions when both scored."""

    y_pred: np.ndarray
    proba: np.ndarray | None
    classes: tuple[Any, ...] | None
    scores: np.ndarray
    version: str
    role: str
    both: BothScored | None


class ModeRouter:
    def __init__(
        self,
        mode: ServeMode,
        metrics: ServingMetrics,
        challenger: ChampionWatcher | None = None,
        canary_share: float = 0.1,
        bandit: BanditLearner | None = None,
    ) -> None:
        if mode != "champion" and challenger is None:
            raise ValueError(f"mode {mode} needs a challenger watcher")
        if mode == "bandit" and bandit is None:
            raise ValueError("mode bandit needs its learner")
        self.mode = mode
        self.metrics = metrics
        self.challenger = challenger
        self.canary_share = canary_share
        self.bandit = bandit
        self.fallback_reason = ""
        """Why the champion answers alone in a challenger mode now ("" when it does not)."""

    def start(self) -> None:
        if self.challenger is not None:
            self.challenger.start()
        if self.bandit is not None:
            self.bandit.start()

    def stop(self) -> None:
        if self.challenger is not None:
            self.challenger.stop()
        if self.bandit is not None:
            self.bandit.stop()

    def answer(self, champion: ServedModel, prepared: PreparedRows, request_id: str) -> Answer:
        features = prepared.features
        y_pred, proba, classes = predict_frame(champion.pipeline, features, champion.schema.task)
        alone = Answer(
            y_pred,
            proba,
            classes,
            prediction_score(y_pred, proba, champion.schema.task),
            champion.version,
            CHAMPION,
            None,
        )
        # Read once, as the champion: a swap during this request changes the next one.
        challenger = self.challenger.current if self.challenger is not None else None
        if self.mode == "champion":
            return self._count(alone)
        if challenger is None:
            return self._alone(alone, "no `challenger` version loaded")
        try:
            c_pred, c_proba, c_classes = predict_frame(
                challenger.pipeline, features, champion.schema.task
            )
        except Exception as error:  # the champion's answer stands; the failure is counted
            self.metrics.challenger_failures.inc()
            log.exception("challenger v%s could not score", challenger.version)
            return self._alone(alone, f"challenger v{challenger.version} failed: {error}")
        if c_classes != classes:
            return self._alone(
                alone, f"challenger v{challenger.version} predicts other classes: {c_classes}"
            )
        self._fallback("")
        roles = self._roles(prepared, request_id, champion.version, challenger.version)
        chosen = roles == CHALLENGER
        both = BothScored(roles, champion.version, y_pred, challenger.version, c_pred)
        if not chosen.any():
            return self._count(replace(alone, both=both))
        answered = np.where(chosen, c_pred, y_pred)
        answered_proba = (
            None if proba is None or c_proba is None else np.where(chosen[:, None], c_proba, proba)
        )
        if chosen.all():
            version, role = challenger.version, CHALLENGER
        else:
            version, role = f"{champion.version},{challenger.version}", "champion,challenger"
        scores = prediction_score(answered, answered_proba, champion.schema.task)
        return self._count(
            Answer(answered, answered_proba, classes, scores, version, role, both),
        )

    def _roles(
        self, prepared: PreparedRows, request_id: str, champion: str, challenger: str
    ) -> np.ndarray:
        n = len(prepared.features)
        if self.mode == "shadow":
            return np.full(n, CHAMPION, dtype=object)
        keys = row_keys(prepared.ids.reset_index(drop=True), request_id)
        if self.mode == "canary":
            return np.array(canary_roles(keys, self.canary_share), dtype=object)
        assert self.bandit is not None
        return np.array(self.bandit.choose(keys, champion, challenger), dtype=object)

    def _alone(self, alone: Answer, reason: str) -> Answer:
        self._fallback(reason)
        return self._count(alone)

    def _fallback(self, reason: str) -> None:
        if reason != self.fallback_reason:
            self.fallback_reason = reason
            self.metrics.champion_only.set(1 if reason else 0)

    def _count(self, answer: Answer) -> Answer:
        if answer.both is None:
            self.metrics.answers.labels(CHAMPION, answer.version).inc(len(answer.y_pred))
            return answer
        chosen = int((answer.both.roles == CHALLENGER).sum())
        if chosen:
            self.metrics.answers.labels(CHALLENGER, answer.both.challenger_version).inc(chosen)
        if len(answer.y_pred) - chosen:
            self.metrics.answers.labels(CHAMPION, answer.both.champion_version).inc(
                len(answer.y_pred) - chosen
            )
        return answer

    def describe(self) -> dict[str, Any]:
        """The mode's part of /health."""
        if self.mode == "champion":
            return {"mode": "champion"}
        challenger = self.challenger.current if self.challenger is not None else None
        described: dict[str, Any] = {
            "mode": self.mode,
            "challenger_version": challenger.version if challenger is not None else None,
            "champion_only": bool(self.fallback_reason) or challenger is None,
        }
        if challenger is None or self.fallback_reason:
            described["champion_only_reason"] = self.fallback_reason or (
                self.challenger.last_error if self.challenger is not None else ""
            )
        if self.mode == "canary":
            described["canary_share"] = self.canary_share
        if self.bandit is not None:
            described["bandit"] = self.bandit.describe()
        return described
