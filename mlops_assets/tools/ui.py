"""`make ui`: `dagster dev` on the project's instance, without two start-up notices that are
wrong or beside the point for a person who typed `make ui`.

- "Found a dagster instance configuration value (dagster.yaml) in the current folder, but your
  DAGSTER_HOME environment variable is set to ...; the dagster.yaml file will not be used": make
  has copied that file into DAGSTER_HOME (its storage paths made absolute), so it is used.
- "Function `dev_command` is superseded and its usage is discouraged. Use 'dg dev' instead.":
  `dg` (dagster-dg-cli) is not a dependency of this project yet; `dagster dev` is what runs.

Only these two messages are dropped, by their exact openings; everything else Dagster logs
(the daemon's ticks, errors) prints as under `dagster dev`. Not imported by the code location.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Sequence

COPIED_INSTANCE_NOTICE = "Found a dagster instance configuration value"
SUPERSEDED_NOTICE = r"Function `dev_command` is superseded"


class _DropCopiedInstanceNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(COPIED_INSTANCE_NOTICE)


def main(argv: Sequence[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message=SUPERSEDED_NOTICE)
    # dagster dev configures its "dagster" logger with logging.config, which replaces the
    # logger's handlers but keeps its filters.
    logging.getLogger("dagster").addFilter(_DropCopiedInstanceNotice())
    from dagster._cli import main as dagster_cli

    sys.argv = ["dagster", "dev", *(sys.argv[1:] if argv is None else argv)]
    dagster_cli()
    return 0


if __name__ == "__main__":
    sys.exit(main())
