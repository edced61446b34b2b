"""`make ui`: `dg dev` on the project's instance, without a start-up notice that is wrong for a
person who typed `make ui`: "Found a dagster instance configuration value (dagster.yaml) in the
current folder, but your DAGSTER_HOME environment variable is set to ...; the dagster.yaml file
will not be used". make has copied that file into DAGSTER_HOME (its storage paths made
absolute), so it is used.

Only that message is dropped, by its exact opening; everything else Dagster logs (the daemon's
ticks, errors) prints as under `dg dev`, which runs the webserver and the daemon from this
process. Not imported by the code location.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

COPIED_INSTANCE_NOTICE = "Found a dagster instance configuration value"


class _DropCopiedInstanceNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(COPIED_INSTANCE_NOTICE)


def main(argv: Sequence[str] | None = None) -> int:
    # dg dev configures the "dagster" logger with logging.config, which replaces the logger's
    # handlers but keeps its filters.
    logging.getLogger("dagster").addFilter(_DropCopiedInstanceNotice())
    from dagster_dg_cli.cli import main as dg_cli

    sys.argv = ["dg", "dev", *(sys.argv[1:] if argv is None else argv)]
    dg_cli()
    return 0


if __name__ == "__main__":
    sys.exit(main())
