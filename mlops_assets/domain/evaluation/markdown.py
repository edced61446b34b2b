"""Frames as GitHub Markdown tables, for metadata, reports and the model card."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


# An en dash: what `markdown_table` shows for None and NaN.
MISSING_CELL = "\N{EN DASH}"
# What a person reads of a float, in a table or in a metadata value that plots:
# 0.06666666666666667 shows as 0.06667.
SIGNIFICANT_DIGITS = 4


def significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """`value` rounded to `digits` significant digits (NaN and infinities as they are)."""
    value = float(value)
    return float(f"{value:.{digits}g}") if math.isfinite(value) else value


def markdown_table(df: pd.DataFrame, float_format: str = f"{{:.{SIGNIFICANT_DIGITS}g}}") -> str:
    """`df` as a GitHub Markdown table (index left out), without the `tabulate` package.

    Floats use `float_format`; None and NaN show as MISSING_CELL; "|" in a cell is escaped and line
    breaks become spaces so a cell cannot break the table. Numeric columns are right-aligned.
    A frame without columns gives "".
    """
    import pandas as pd

    if len(df.columns) == 0:
        return ""
    header = [_escape(str(name)) for name in df.columns]
    align = [
        "---:"
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        else "---"
        for dtype in df.dtypes
    ]
    lines = [_row(header), _row(align)]
    for values in df.itertuples(index=False, name=None):
        lines.append(_row([_escape(_format_cell(value, float_format)) for value in values]))
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _format_cell(value: Any, float_format: str) -> str:
    import numpy as np
    import pandas as pd

    if value is None:
        return MISSING_CELL
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        return MISSING_CELL if math.isnan(value) else float_format.format(value)
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return MISSING_CELL
    return str(value)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
