"""The bandit mode's state: the Thompson sampler (domain/challenger/bandit.py) that picks who
answers each row, rewarded by label files as they land, and kept on disk across restarts.

Labels arrive late, as daily files in a directory laid out as MLOPS_LABELS_DATA
(`YYYY-MM-DD.csv` / `.parquet`, the id columns and the target; the day is the day the rows
were served). Every `poll_seconds` a thread looks for files it has not read (or that changed
since: name, size and modification time), joins each with that day's request log on the id
columns (`routing.label_rewards`: 1 when the prediction that answered the row was right) and
rewards the sampler. The sampler counts each row key once, so a file read twice, or a label
for a row it did not route, changes nothing (it is counted as unmatched). The posterior also
decays with the days elapsed (`ThompsonSampler.decay`).

The posterior is about two versions: when `champion` or `challenger` moves to another version,
the sampler starts afresh (the evidence was about the old pair). The state (the sampler, the
pair of versions, the files read, when it last decayed) is written to a temp file and renamed
after every poll that changed it and at shutdown, so a restart resumes it; a crash loses the
routing of the rows served since the last write (their labels then count as unmatched).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import pandas as pd

from mlops_assets.contracts import SERVED_PREDICTION_COLUMN, SERVED_ROLE_COLUMN
from mlops_assets.domain.challenger.bandit import ARMS, Arm, RewardSummary, ThompsonSampler
from mlops_assets.domain.challenger.losses import ChallengerInputError
from mlops_assets.domain.challenger.routing import label_rewards, row_keys
from mlops_assets.domain.data import DataSourceError, write_text_atomic
from mlops_assets.domain.data.sources import read_daily, read_table_file
from mlops_assets.domain.schemas import DatasetSchema
from mlops_assets.serving.metrics import ServingMetrics
from mlops_assets.serving.request_log import RequestLog

log = logging.getLogger("mlops_assets.serving")
DAY_SECONDS = 86_400.0
LABEL_SUFFIXES = (".csv", ".parquet")


class BanditLearner:
    """Routes rows by Thompson sampling and learns from landed label files (see the module)."""

    def __init__(
        self,
        state_path: Path,
        labels_directory: Path | None,
        request_log: RequestLog,
        metrics: ServingMetrics,
        schema: Callable[[], DatasetSchema | None],
        poll_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state_path = state_path
        self.labels_directory = labels_directory
        self.request_log = request_log
        self.metrics = metrics
        self.schema = schema
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.sampler = ThompsonSampler()
        self.versions: tuple[str, str] = ("", "")
        self.files_read: dict[str, str] = {}
        self.decayed_at = clock()
        self.last_error = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._load()

    def choose(self, keys: Sequence[str], champion: str, challenger: str) -> list[Arm]:
        """The arm that answers each row key; a new pair of versions starts a fresh sampler."""
        with self._lock:
            if self.versions != (champion, challenger):
                if self.versions != ("", ""):
                    log.info(
                        "bandit: versions moved from %s to %s; the posterior starts afresh",
                        self.versions,
                        (champion, challenger),
                    )
                self.sampler = ThompsonSampler()
                self.versions = (champion, challenger)
            sampler = self.sampler
        return [sampler.choose(key) for key in keys]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bandit-labels", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.save()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.learn_once()
            except Exception as error:  # a bad file must not stop later ones being read
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception("bandit: reading labels failed")

    def learn_once(self) -> RewardSummary:
        """Decay by the days elapsed, read the label files not read yet, reward, save."""
        with self._lock:
            now = self.clock()
            self.sampler.decay((now - self.decayed_at) / DAY_SECONDS)
            self.decayed_at = now
        applied = {"champion": 0, "challenger": 0, "unmatched": 0}
        schema = self.schema()
        if schema is not None and self.labels_directory is not None:
            for day, path, fingerprint in self._new_label_files():
                summary = self._reward_file(day, path, schema)
                applied["champion"] += summary.champion
                applied["challenger"] += summary.challenger
                applied["unmatched"] += summary.unmatched
                self.files_read[path.name] = fingerprint
        for role, count in applied.items():
            self.metrics.bandit_rewards.labels(role).inc(count)
        for arm in ARMS:
            self.metrics.bandit_mean.labels(arm).set(self.sampler.posterior_mean(arm))
        self.save()
        self.last_error = ""
        return RewardSummary(applied["champion"], applied["challenger"], applied["unmatched"])

    def _new_label_files(self) -> list[tuple[date, Path, str]]:
        assert self.labels_directory is not None
        if not self.labels_directory.is_dir():
            return []
        found = []
        for path in sorted(self.labels_directory.iterdir()):
            if path.suffix not in LABEL_SUFFIXES:
                continue
            try:
                day = date.fromisoformat(path.stem)
            except ValueError:  # not a daily file
                continue
            stat = path.stat()
            fingerprint = f"{stat.st_size}-{stat.st_mtime_ns}"
            if self.files_read.get(path.name) != fingerprint:
                found.append((day, path, fingerprint))
        return found

    def _reward_file(self, day: date, path: Path, schema: DatasetSchema) -> RewardSummary:
        labels = read_table_file(path)
        # Rows served moments ago may still wait in memory: write them before joining.
        self.request_log.flush()
        served_day = self.request_log.directory / day.isoformat()
        try:
            served = read_daily(served_day) if served_day.is_dir() else pd.DataFrame()
        except DataSourceError as error:
            raise ChallengerInputError(f"{served_day}: {error}") from error
        if served.empty:
            return RewardSummary(0, 0, len(labels))
        rewards = label_rewards(
            labels, served, schema.id_columns, schema.target, SERVED_PREDICTION_COLUMN, str(path)
        )
        # A row the bandit gave the challenger but the champion answered (the challenger had
        # failed or gone) says nothing of the challenger: it is dropped, not credited to it.
        keys = row_keys(served[schema.id_columns], "served")
        roles = served.get(SERVED_ROLE_COLUMN, pd.Series("champion", index=served.index))
        answered_by: dict[str, str] = {}
        for key, role in zip(keys, roles, strict=True):
            answered_by.setdefault(key, role)  # the first answer counts, as in label_rewards
        for key in [
            k for k in rewards if self.sampler.pending.get(k, answered_by[k]) != answered_by[k]
        ]:
            del rewards[key]
            self.sampler.pending.pop(key, None)
        summary = self.sampler.reward(rewards)
        log.info(
            "bandit: %s: %d champion and %d challenger rewards, %d unmatched",
            path.name,
            summary.champion,
            summary.challenger,
            summary.unmatched,
        )
        return summary

    def describe(self) -> dict[str, object]:
        """What /health says of the bandit."""
        with self._lock:
            sampler = self.sampler
        return {
            "champion_mean": round(sampler.posterior_mean("champion"), 4),
            "challenger_mean": round(sampler.posterior_mean("challenger"), 4),
            "champion_rewards": sampler.rewarded["champion"],
            "challenger_rewards": sampler.rewarded["challenger"],
            "label_files_read": len(self.files_read),
            **({"labels_error": self.last_error} if self.last_error else {}),
        }

    def save(self) -> None:
        with self._lock:
            state = {
                "versions": list(self.versions),
                "files_read": self.files_read,
                "decayed_at": self.decayed_at,
                "sampler": json.loads(self.sampler.to_json()),
            }
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(json.dumps(state), self.state_path)

    def _load(self) -> None:
        if not self.state_path.exists():
            return
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            self.sampler = ThompsonSampler.from_json(json.dumps(state["sampler"]))
            champion, challenger = state["versions"]
            self.versions = (str(champion), str(challenger))
            self.files_read = {str(k): str(v) for k, v in state["files_read"].items()}
            self.decayed_at = float(state["decayed_at"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{self.state_path}: not the bandit's state ({error}); move it aside to start "
                "the bandit afresh (MLOPS_SERVE_BANDIT_STATE)"
            ) from error
