"""The model's input contract: the type each feature column is delivered as, decided at the first
training under a model name and kept by every retraining.

A retraining reads its window from stored daily partitions, where a column may have been stored
in another type than the source delivered (a boolean read as the text "True" from a CSV). A
signature re-inferred from that window declares another type, and MLflow's pyfunc then refuses
what clients sent the previous champion (issue 29: `Can not safely convert bool to <U0`). So
the contract records the delivered type once (`ColumnSpec.input_type`), every training frame and
every scored day is conformed to it, the signature is built from it, and the gate refuses a
candidate whose signature would refuse an input the champion accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, get_args

from mlops_assets.domain.schemas.model import (
    DatasetSchema,
    DataValidationError,
    InputType,
    failure_cases_table,
    summarize_failures,
)

if TYPE_CHECKING:
    import pandas as pd

INPUT_TYPES: tuple[str, ...] = get_args(InputType)

_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})
# Failing rows listed per column: enough to see the pattern.
_ROWS_SHOWN = 10


def input_type_of(series: pd.Series) -> InputType:
    """The type a source delivered a column as, in MLflow's terms."""
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        # MLflow has no category type and refuses one for any other but `Any`: a source that
        # delivers pandas categories (a Parquet dictionary column) keeps being accepted.
        return "any"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_integer_dtype(dtype):
        return "long"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    present = series.dropna()
    # An object column of Python booleans with missing values (pandas reads True/False/"" so).
    if len(present) and present.map(lambda v: isinstance(v, bool)).all():
        return "boolean"
    return "string"


def conform_to_contract(frame: pd.DataFrame, schema: DatasetSchema, source: str) -> pd.DataFrame:
    """`frame` with every feature column that the contract types as boolean converted to
    booleans, and booleans in a string column to their text, so a model sees one
    representation whatever the storage did to it.

    Numeric features are left to the pipeline's imputer (ints and floats are both accepted);
    numbers in a text column to `categorical_codes_as_text` (run it first), which knows the
    training categories; columns the frame lacks are left to the schema checks, which name them.

    Raises:
        DataValidationError: a value cannot be read as its column's contract type (a boolean
            column holding "maybe"); the failure cases name the column, rows and values.
    """

    converted: dict[str, pd.Series] = {}
    problems: list[tuple[str, int | None, object, str]] = []
    for spec in schema.columns:
        if spec.role != "feature" or spec.name not in frame.columns:
            continue
        column = frame[spec.name]
        if spec.input_type == "boolean" and input_type_of(column) != "boolean":
            values, bad = _as_boolean(column)
            positions = [int(p) for p in bad[:_ROWS_SHOWN]]
            problems.extend(
                (spec.name, p, column.iloc[p], "input_type: expected a boolean") for p in positions
            )
            converted[spec.name] = values
        elif spec.input_type == "string" and input_type_of(column) == "boolean":
            # Only booleans: a number's text is `categorical_codes_as_text`'s to decide, which
            # refuses a code no number spells back (1 for the training category "01").
            converted[spec.name] = column.map(str, na_action="ignore").astype(object)
    if problems:
        cases = failure_cases_table(source, problems)
        raise DataValidationError(
            f"{source} does not match the model's input contract: {summarize_failures(cases)}. "
            "The contract was decided at the first training of this model name; deliver the "
            "column in that type.",
            cases,
        )
    return frame.assign(**converted) if converted else frame


def _as_boolean(column: pd.Series) -> tuple[pd.Series, list[int]]:
    """The column as booleans (bool dtype, or object with None where missing) and the
    positions of the values that are not a spelling of true or false."""
    import numpy as np
    import pandas as pd

    spelled = column.astype(object).where(column.notna(), None)
    text = spelled.map(lambda v: str(v).strip().lower(), na_action="ignore")
    truth = text.map({**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)})
    bad = np.flatnonzero(text.notna().to_numpy() & truth.isna().to_numpy()).tolist()
    values = truth.astype(object).where(truth.notna(), None)
    if not values.isna().any():
        values = values.astype(bool)
    return pd.Series(values, index=column.index, name=column.name), bad


@dataclass(frozen=True)
class InputColumn:
    """One column of a model's MLflow input signature."""

    name: str
    type: str
    """MLflow's type name ("boolean", "string", "double", ...), or "any"."""
    required: bool = True


# What each signature type lets through besides itself (MLflow converts these safely).
_ALSO_ACCEPTS: dict[str, frozenset[str]] = {
    "double": frozenset({"long", "integer", "float"}),
    "float": frozenset({"long", "integer"}),
    "long": frozenset({"integer"}),
}


def _accepts(candidate_type: str, champion_type: str) -> bool:
    """Does a column typed `candidate_type` take every value a `champion_type` column takes?"""
    if candidate_type == "any":
        return True
    if champion_type == "any":
        return False
    return candidate_type == champion_type or champion_type in _ALSO_ACCEPTS.get(
        candidate_type, frozenset()
    )


def signature_incompatibilities(
    champion: Sequence[InputColumn], candidate: Sequence[InputColumn]
) -> list[str]:
    """Why the candidate's signature would refuse an input the champion's accepts (empty: it
    accepts all of them). A column the candidate does not declare is ignored by it, so only
    a column it requires that the champion did not declare, or a narrower type, refuses
    inputs. A column the champion declared optional is not one: its pipeline selects every
    feature by name, so no input without it ever scored (MLflow's inference calls a column
    optional when its 5-row example holds a null)."""
    by_name = {c.name: c for c in champion}
    reasons = []
    for column in candidate:
        held = by_name.get(column.name)
        if held is None:
            if column.required:
                reasons.append(f"requires column {column.name!r}, which the champion does not")
        elif not _accepts(column.type, held.type):
            reasons.append(
                f"column {column.name!r} typed {column.type}, the champion's {held.type}: "
                f"inputs the champion accepts as {held.type} would be refused"
            )
    return reasons
