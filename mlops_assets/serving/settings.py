"""The service's settings, from the environment only (the API key is a secret)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlops_assets.domain.registry import default_model_name
from mlops_assets.resources.project import default_home


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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServeSettings:
        env = os.environ if env is None else env
        home = Path(env.get("MLOPS_HOME") or default_home())
        return cls(
            host=env.get("MLOPS_SERVE_HOST") or "127.0.0.1",
            port=int(_number(env, "MLOPS_SERVE_PORT", 8000)),
            api_key=env.get("MLOPS_SERVE_API_KEY", ""),
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
        )
