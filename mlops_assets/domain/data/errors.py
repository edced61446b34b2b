"""The one error every data reader raises, carrying where the problem is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_assets.domain.schemas.model import FAILURE_COLUMNS

if TYPE_CHECKING:
    import pandas as pd


class DataSourceError(ValueError):
    """A data source could not be read as a table; the message names the source and the fix.

    `column`, `row` (0-based data row) and `value` say where, when the problem has a place;
    `failure_cases` gives them as the one-row failure-cases table the asset checks show.
    """

    def __init__(
        self,
        message: str,
        *,
        check: str = "readable",
        column: str | None = None,
        row: int | None = None,
        value: object = None,
    ) -> None:
        super().__init__(message)
        self.check, self.column, self.row, self.value = check, column, row, value

    def failure_cases(self, source: str) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "source": source,
                    "column": self.column,
                    "row": self.row,
                    "value": self.value,
                    "check": self.check,
                }
            ],
            columns=FAILURE_COLUMNS,
        )
