"""The online service's modes, the one list of them: the service reads `MLOPS_SERVE_MODE` to
choose who answers (serving/settings.py, domain/challenger/routing.py says what each does), and
the code location reads the same setting (settings.py; a declared model's `serve.mode`) so the
challenger sensor knows whether there is a canary share to step. Import-cheap: the code
location loads it."""

from __future__ import annotations

from typing import Literal, get_args

ServeMode = Literal["champion", "shadow", "canary", "bandit"]
SERVE_MODES: tuple[ServeMode, ...] = get_args(ServeMode)


def serve_mode(raw: str, setting: str = "MLOPS_SERVE_MODE") -> ServeMode:
    """The mode named by a setting, case and blanks aside; "" is `champion`. Raises
    ValueError naming `setting` and the modes when it names none of them."""
    value = raw.strip().lower() or "champion"
    for mode in SERVE_MODES:
        if value == mode:
            return mode
    raise ValueError(f"{setting}={raw!r}: expected one of {', '.join(SERVE_MODES)}")
