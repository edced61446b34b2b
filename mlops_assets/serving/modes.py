"""Scoring a request's rows in the service's mode, and who answers each row
(domain/challenger/routing.py): the champion alone, or beside the challenger (shadow, canary,
bandit).

Who answers is decided before anything scores (it depends on the ids, not the predictions).
Only the answering model scores on the request's path, on the scoring thread, with the rows
parsed and checked once; the other model's predictions of the same rows are made by the
request log in one batch before it writes them (`BothScored.unscored`). A 1-row request's cost
is mostly fixed per call (a pipeline call on one row costs about what it costs on hundreds:
`make bench`, section "shadow"), so scoring the challenger inline doubled a shadow request's
time, while in the batch it costs a fraction of a call per row. Either way the log gets both
predictions on every row, which the paired comparison of the two models needs in every mode.

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

from mlops_assets.contracts import CANARY_SHARE_TAG
from mlops_assets.domain.challenger.canary import CanaryShare
from mlops_assets.domain.challenger.routing import canary_roles, row_keys
from mlops_assets.domain.promotion.audit import roles_since
from mlops_assets.domain.serve_modes import ServeMode
from mlops_assets.domain.served_rows import BothScored
from mlops_assets.domain.serving import PreparedRows
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

    def by_version(self) -> list[tuple[str, np.ndarray]]:
        """(version, the rows it answered, as a mask) for each version that answered."""
        everything = np.ones(len(self.y_pred), dtype=bool)
        if self.both is None or "," not in self.version:
            return [(self.version, everything)]
        chosen = self.both.roles == CHALLENGER
        return [(self.both.champion_version, ~chosen), (self.both.challenger_version, chosen)]


class ModeRouter:
    def __init__(
        self,
        mode: ServeMode,
        metrics: ServingMetrics,
        challenger: ChampionWatcher | None = None,
        canary_share: float = 0.05,
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
        """Score with the model(s) that answer the rows; the other one's predictions are left
        to the request log's batch (`BothScored.unscored`)."""
        task = champion.schema.task
        # Read once, as the champion: a swap during this request changes the next one.
        challenger = self.challenger.current if self.challenger is not None else None
        if self.mode == "champion":
            return self._count(self._champion_alone(champion, prepared))
        if challenger is None:
            return self._alone(champion, prepared, "no `challenger` version loaded")
        if _classes(challenger.pipeline) != _classes(champion.pipeline):
            classes = _classes(challenger.pipeline)
            reason = f"challenger v{challenger.version} predicts other classes: {classes}"
            return self._alone(champion, prepared, reason)
        roles = self._roles(prepared, request_id, champion.version, challenger.version)
        chosen = roles == CHALLENGER
        if not chosen.any():  # the champion answers every row: the challenger scores later
            self._fallback("")
            alone = self._champion_alone(champion, prepared)
            both = BothScored(
                roles, champion.version, alone.y_pred, challenger.version, None, challenger.pipeline
            )
            return self._count(replace(alone, both=both))
        try:
            c_pred, c_proba, c_classes = predict_frame(challenger.pipeline, prepared.features, task)
        except Exception as error:  # the champion answers instead; the failure is counted
            self.metrics.challenger_failures.inc()
            log.exception("challenger v%s could not score", challenger.version)
            return self._alone(
                champion, prepared, f"challenger v{challenger.version} failed: {error}"
            )
        self._fallback("")
        if chosen.all():
            both = BothScored(
                roles, champion.version, None, challenger.version, c_pred, champion.pipeline
            )
            scores = prediction_score(c_pred, c_proba, task)
            answer = Answer(
                c_pred, c_proba, c_classes, scores, challenger.version, CHALLENGER, both
            )
            return self._count(answer)
        alone = self._champion_alone(champion, prepared)
        answered = np.where(chosen, c_pred, alone.y_pred)
        proba = (
            None
            if alone.proba is None or c_proba is None
            else np.where(chosen[:, None], c_proba, alone.proba)
        )
        both = BothScored(roles, champion.version, alone.y_pred, challenger.version, c_pred)
        version = f"{champion.version},{challenger.version}"
        scores = prediction_score(answered, proba, task)
        return self._count(
            Answer(answered, proba, alone.classes, scores, version, "champion,challenger", both)
        )

    @staticmethod
    def _champion_alone(champion: ServedModel, prepared: PreparedRows) -> Answer:
        task = champion.schema.task
        y_pred, proba, classes = predict_frame(champion.pipeline, prepared.features, task)
        scores = prediction_score(y_pred, proba, task)
        return Answer(y_pred, proba, classes, scores, champion.version, CHAMPION, None)

    def _roles(
        self, prepared: PreparedRows, request_id: str, champion: str, challenger: str
    ) -> np.ndarray:
        n = len(prepared.features)
        if self.mode == "shadow":
            return np.full(n, CHAMPION, dtype=object)
        keys = row_keys(prepared.ids.reset_index(drop=True), request_id)
        if self.mode == "canary":
            return np.array(canary_roles(keys, self.current_canary_share(champion)), dtype=object)
        assert self.bandit is not None
        return np.array(self.bandit.choose(keys, champion, challenger), dtype=object)

    def current_canary_share(self, champion: str) -> float:
        """The challenger's share of rows beside `champion` (`canary_share_and_source`)."""
        return self.canary_share_and_source(champion)[0]

    def canary_share_and_source(self, champion: str) -> tuple[float, str]:
        """The share the challenger sensor stepped to for this champion (the tag
        `canary_share` on the challenger's version, as read at the watcher's last poll, so a
        step applies without a restart), else the configured MLOPS_CANARY_SHARE."""
        record = self.challenger.record if self.challenger is not None else None
        tag = record.tags.get(CANARY_SHARE_TAG, "") if record is not None else ""
        stored = CanaryShare.from_json(tag) if tag else None
        # A share stepped for an earlier tenure (the challenger set again since) is stale.
        if record is None or stored is None or not stored.applies(champion, roles_since(record)):
            return self.canary_share, "MLOPS_CANARY_SHARE"
        return stored.share, "challenger_sensor"

    def _alone(self, champion: ServedModel, prepared: PreparedRows, reason: str) -> Answer:
        self._fallback(reason)
        return self._count(self._champion_alone(champion, prepared))

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

    def describe(self, champion: str = "") -> dict[str, Any]:
        """The mode's part of /health (`champion`: the serving champion's version)."""
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
            share, source = self.canary_share_and_source(champion)
            described["canary_share"], described["canary_share_source"] = share, source
        if self.bandit is not None:
            described["bandit"] = self.bandit.describe()
        return described


def _classes(pipeline: Any) -> list[Any]:
    """A classifier's classes in its probability columns' order ([] for a regressor)."""
    return list(getattr(pipeline, "classes_", []))
