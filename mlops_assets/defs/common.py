"""What every asset shares: owner, group names, metadata helpers and the MLflow retry policy."""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import dagster as dg

from mlops_assets.defs.model_resources import model_of
from mlops_assets.domain.evaluation.markdown import significant
from mlops_assets.resources.mlflow_registry import MlflowRegistry, mlflow_unavailable

if TYPE_CHECKING:
    import pandas as pd
    from pandas import DataFrame

    from mlops_assets.settings import Settings
else:
    # Dagster resolves an asset's annotations when the code location loads, and the load path
    # imports no pandas (it would add 0.4 s to the webserver's, the daemon's and every run's
    # start: bench/bench_load.py). An asset's DataFrame input or output is therefore Dagster's
    # Any at run time (the IO manager reads a stored partition as a DataFrame all the same);
    # the type checker sees pandas' type.
    DataFrame = Any

OWNER = "team:ml-platform"
DATA_GROUP = "data"
TRAINING_GROUP = "training"
MONITORING_GROUP = "monitoring"

# The data stages (raw_data, validated_data): stored by the Parquet IO manager, which writes a
# `Dataset` as Parquet plus a JSON sidecar for its source and schema.
data_asset = functools.partial(
    dg.asset, group_name=DATA_GROUP, owners=[OWNER], io_manager_key="parquet_io_manager"
)


def table_schema(frame: pd.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=str(name), type=str(dtype)) for name, dtype in frame.dtypes.items()
        ]
    )


def number(value: float) -> dg.FloatMetadataValue:
    """A float as the UI shows and plots it: rounded to 4 significant digits."""
    return dg.MetadataValue.float(significant(value))


def for_people(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """`metadata` with every float rounded to 4 significant digits and still a float, so it
    plots: plain floats (numpy's too) and float MetadataValues; the rest as it is. What an
    asset records is what a sensor or the demo reads back, so both see the same figure."""
    rounded: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, dg.FloatMetadataValue) and value.value is not None:
            value = number(value.value)
        elif isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
            value = significant(float(value))
        rounded[key] = value
    return rounded


def failure_cases_markdown(failure_cases: pd.DataFrame, limit: int = 50) -> dg.MetadataValue:
    """The failure-cases table (source, column, row, value, check) as Markdown for the UI."""
    from mlops_assets.domain.evaluation import markdown_table

    shown = failure_cases.head(limit).astype(str)
    note = (
        "" if len(failure_cases) <= limit else f"\n\n{len(failure_cases) - limit} more not shown."
    )
    return dg.MetadataValue.md(markdown_table(shown) + note if len(shown) else "No failures.")


def mlflow_retry_policy(settings: Settings) -> dg.RetryPolicy:
    """For the assets that talk to MLflow: a tracking server that is down, restarting or slow
    is retried after 5 s, 15 s and 35 s, each +-5 s (the defaults of MLOPS_MLFLOW_MAX_RETRIES
    and MLOPS_MLFLOW_RETRY_DELAY; Dagster 1.13's exponential backoff waits (2^n - 1) x delay
    before retry n, and its PLUS_MINUS jitter adds a uniform +-delay, not a percentage): 40 to
    70 s of waiting in all, on top of each attempt's own MLflow HTTP retries (bounded by
    MlflowRegistry, HTTP_RETRY_DEFAULTS), so a step with MLflow down fails within about a
    minute and a half, and a server restarting within about a minute is ridden out. Part of
    the definitions, so read when the code location loads: set the variables in the
    environment of the code server (and of the runs) to change them."""
    return dg.RetryPolicy(
        max_retries=settings.mlflow_max_retries,
        delay=settings.mlflow_retry_delay,
        backoff=dg.Backoff.EXPONENTIAL,
        jitter=dg.Jitter.PLUS_MINUS,
    )


F = TypeVar("F", bound=Callable[..., Any])


def _registry_of(context: object) -> object:
    """The MLflow registry of the model whose asset runs (an asset built per model reads its
    resources from the context, not from parameters); None when it has none."""
    if not isinstance(context, dg.AssetExecutionContext):
        return None
    return getattr(context.resources, model_of(context).resource("mlflow_registry"), None)


def retried_on_mlflow_outage(fn: F) -> F:
    """Only an unreachable or overloaded MLflow is worth a retry (mlflow_retry_policy): such
    an error becomes a retryable `dg.Failure` saying which server and what to do; any other
    exception fails the step at once (bad data or a bug fails the same way every time, and a
    retried training would only delay the alert).

    Wrap an asset's function with it, under `@dg.asset(retry_policy=mlflow_retry_policy(...))`.
    """

    def judged(error: Exception, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dg.Failure:
        if not mlflow_unavailable(error):
            return dg.Failure(description=f"{type(error).__name__}: {error}", allow_retries=False)
        registry = kwargs.get("mlflow_registry") or _registry_of(args[0] if args else None)
        where = registry.resolved_tracking_uri if isinstance(registry, MlflowRegistry) else "MLflow"
        return dg.Failure(
            description=(
                f"MLflow at {where} did not answer ({type(error).__name__}: {error}). "
                "The step is retried with backoff (MLOPS_MLFLOW_MAX_RETRIES, "
                "MLOPS_MLFLOW_RETRY_DELAY); when it still fails, check that the tracking server "
                "and its database are up and that MLFLOW_TRACKING_URI points to it, then "
                "re-execute the run from this step (safe: a version is registered once per "
                "MLflow run, and `champion` moves only under the compare-and-set check)."
            ),
            allow_retries=True,
        )

    if inspect.isgeneratorfunction(fn):  # assets that yield check results as well

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except dg.Failure:
                raise
            except Exception as error:
                raise judged(error, args, kwargs) from error

        return generator  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except dg.Failure:
            raise
        except Exception as error:
            raise judged(error, args, kwargs) from error

    return wrapper  # type: ignore[return-value]


def failure(description: str, **metadata: Any) -> dg.Failure:
    """A failure retrying cannot fix (bad input, a tampered model): fail at once."""
    return dg.Failure(description=description, metadata=metadata or None, allow_retries=False)


def listed(names: tuple[str, ...], limit: int = 20) -> str:
    """Names for a metadata line: the first `limit`, then how many more."""
    more = f", ... and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more if names else "none"
