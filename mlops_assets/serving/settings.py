"""The service's settings, from the environment only (the API key is a secret)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlops_assets.domain.registry import default_model_name
from mlops_assets.domain.serve_modes import ServeMode, serve_mode
from mlops_assets.home import default_home


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r}: expected a number") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r}: expected a positive number")
    return value


def _api_key(env: Mapping[str, str]) -> str:
    """The key, or "" when unset or empty. A key of blanks, or one with blanks around it, is
    refused: `Authorization: Bearer` drops the blanks, so such a key would guard nothing or
    never match."""
    key = env.get("MLOPS_SERVE_API_KEY", "")
    if key and key.strip() != key:
        what = "only blanks" if not key.strip() else "blanks around it"
        raise ValueError(
            f"MLOPS_SERVE_API_KEY has {what}: set a key without spaces (a long random string, "
            "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or unset it "
            "to serve on loopback without a key"
        )
    return key


def _share(env: Mapping[str, str], name: str, default: float) -> float:
    value = _number(env, name, default)
    if value > 1:
        raise ValueError(f"{name}={env[name]!r}: expected a share in (0, 1], e.g. 0.1")
    return value


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str = ""
    """Required on every endpoint but /health when set (`Authorization: Bearer` or `X-API-Key`)."""
    tracking_uri: str = ""
    model_name: str = "credit-default"
    poll_seconds: float = 30.0
    max_body_bytes: int = 4 * 2**20
    max_rows: int = 100_000
    log_directory: Path = Path(".mlops/requests")
    flush_rows: int = 1000
    flush_seconds: float = 5.0
    max_buffered_rows: int = 100_000
    max_in_flight: int = 32
    """Requests accepted and not yet answered: from this many on, a scoring request is 503."""
    scoring_threads: int = 1
    """Threads that parse and score requests, off the event loop."""
    queue_seconds: float = 0.5
    """A scoring request that waited this long for a scoring thread is answered 503 at once."""
    max_connections: int = 1000
    """uvicorn's `limit_concurrency`: beyond this many open connections, every request is a 503."""
    keep_alive_seconds: float = 5.0
    """uvicorn's `timeout_keep_alive`: an idle connection after an answer is closed."""
    header_seconds: float = 10.0
    """A connection must deliver a request's headers within this time of opening (or of its
    previous answer): an idle or trickling socket is closed (with a 408 if it sent a part)."""
    body_seconds: float = 30.0
    """A request's body must arrive within this time of its headers, else 408 and closed."""
    mode: ServeMode = "champion"
    """Who answers: `champion` alone, or beside the `challenger` alias: `shadow` (the champion
    answers, both are logged), `canary` (`canary_share` of ids answered by the challenger) or
    `bandit` (Thompson sampling, rewarded by the label files in `labels_directory`)."""
    canary_share: float = 0.05
    """Before the challenger sensor steps it (the tag `canary_share`): the schedule's first step."""
    labels_directory: Path | None = None
    """Daily label files (`YYYY-MM-DD.csv` / `.parquet`: id columns and target), as
    MLOPS_LABELS_DATA lays them out; the bandit's rewards."""
    labels_poll_seconds: float = 60.0
    bandit_state: Path = Path(".mlops/serving/bandit.json")
    """The bandit's posterior and the label files it has read, rewritten atomically."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServeSettings:
        env = os.environ if env is None else env
        home = Path(env.get("MLOPS_HOME") or default_home())
        mode = serve_mode(env.get("MLOPS_SERVE_MODE", ""))
        labels_directory = _labels_directory(env)
        if mode == "bandit" and labels_directory is None:
            raise ValueError(
                "MLOPS_SERVE_MODE=bandit learns from label files: set MLOPS_SERVE_LABELS_DIR "
                "(or MLOPS_LABELS_DATA) to their directory (YYYY-MM-DD.csv or .parquet with the "
                "id columns and the target)"
            )
        return cls(
            host=env.get("MLOPS_SERVE_HOST") or "127.0.0.1",
            port=int(_number(env, "MLOPS_SERVE_PORT", 8000)),
            api_key=_api_key(env),
            tracking_uri=env.get("MLFLOW_TRACKING_URI", ""),
            model_name=env.get("MLOPS_MODEL_NAME")
            or default_model_name(
                env.get("MLOPS_TRAINING_DATA", ""), env.get("MLOPS_TRAINING_TABLE", "")
            ),
            poll_seconds=_number(env, "MLOPS_SERVE_POLL_SECONDS", 30.0),
            max_body_bytes=int(_number(env, "MLOPS_SERVE_MAX_BODY_BYTES", 4 * 2**20)),
            max_rows=int(_number(env, "MLOPS_SERVE_MAX_ROWS", 100_000)),
            log_directory=Path(env.get("MLOPS_SERVE_LOG_DIR") or home / "requests"),
            flush_rows=int(_number(env, "MLOPS_SERVE_FLUSH_ROWS", 1000)),
            flush_seconds=_number(env, "MLOPS_SERVE_FLUSH_SECONDS", 5.0),
            max_buffered_rows=int(_number(env, "MLOPS_SERVE_MAX_BUFFERED_ROWS", 100_000)),
            max_in_flight=int(_number(env, "MLOPS_SERVE_MAX_IN_FLIGHT", 32)),
            scoring_threads=int(_number(env, "MLOPS_SERVE_SCORING_THREADS", 1)),
            queue_seconds=_number(env, "MLOPS_SERVE_QUEUE_SECONDS", 0.5),
            max_connections=int(_number(env, "MLOPS_SERVE_MAX_CONNECTIONS", 1000)),
            keep_alive_seconds=_number(env, "MLOPS_SERVE_KEEP_ALIVE_SECONDS", 5.0),
            header_seconds=_number(env, "MLOPS_SERVE_HEADER_SECONDS", 10.0),
            body_seconds=_number(env, "MLOPS_SERVE_BODY_SECONDS", 30.0),
            mode=mode,
            canary_share=_share(env, "MLOPS_CANARY_SHARE", 0.05),
            labels_directory=labels_directory,
            labels_poll_seconds=_number(env, "MLOPS_SERVE_LABELS_POLL_SECONDS", 60.0),
            bandit_state=Path(
                env.get("MLOPS_SERVE_BANDIT_STATE") or home / "serving" / "bandit.json"
            ),
        )


def _labels_directory(env: Mapping[str, str]) -> Path | None:
    """MLOPS_SERVE_LABELS_DIR, else MLOPS_LABELS_DATA when it is a directory (not a SQL URL)."""
    raw = env.get("MLOPS_SERVE_LABELS_DIR") or env.get("MLOPS_LABELS_DATA", "")
    if not raw or "://" in raw:
        return None
    return Path(raw).expanduser()
