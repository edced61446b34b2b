"""What every asset shares: owner, group names and metadata helpers."""

import dagster as dg
import pandas as pd

OWNER = "team:ml-platform"
DATA_GROUP = "data"
TRAINING_GROUP = "training"
MONITORING_GROUP = "monitoring"

# The validated frame carries the schema it was checked against in `DataFrame.attrs`, which
# pandas stores in the Parquet file's metadata: training then uses exactly that schema.
SCHEMA_ATTR = "mlops_schema"


def table_schema(frame: pd.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=str(name), type=str(dtype)) for name, dtype in frame.dtypes.items()
        ]
    )


def failure_cases_markdown(failure_cases: pd.DataFrame, limit: int = 50) -> dg.MetadataValue:
    """The failure-cases table (source, column, row, value, check) as Markdown for the UI."""
    from mlops_assets.domain.evaluation import markdown_table

    shown = failure_cases.head(limit).astype(str)
    note = (
        "" if len(failure_cases) <= limit else f"\n\n{len(failure_cases) - limit} more not shown."
    )
    return dg.MetadataValue.md(markdown_table(shown) + note if len(shown) else "No failures.")
