"""challenger_comparison: the day's labelled rows judged under the champion and the challenger
that scored them in shadow (in batch, and in the online service's request log), accumulated day
after day in the sequential test (domain/challenger/sequential.py; docs/challengers.md)."""

from datetime import date
from typing import TYPE_CHECKING, Any

import dagster as dg

from mlops_assets.contracts import CHALLENGER_ALIAS, CHALLENGER_CHECK, CHALLENGER_VERSION_COLUMN
from mlops_assets.defs.common import DataFrame, retried_on_mlflow_outage
from mlops_assets.defs.monitoring.labels import scoring_schema
from mlops_assets.defs.monitoring.partitions import daily_check_spec, daily_spec
from mlops_assets.defs.monitoring.steps import daily_step
from mlops_assets.resources.data_source import LabelsDataSource
from mlops_assets.resources.io_managers import StoredParquetFile
from mlops_assets.resources.mlflow_registry import MlflowRegistry

if TYPE_CHECKING:
    import pandas as pd

    from mlops_assets.domain.challenger import ChallengerEvidence, ChallengerVerdict
    from mlops_assets.domain.challenger.online import PairSources

EVIDENCE_KEY = "challenger_evidence"
"""The metadata entry holding the evidence after the day (ChallengerEvidence.to_json): the next
day starts from it."""
CHAMPION_VERSION_KEY = "champion_version"
CHALLENGER_VERSION_KEY = "challenger_version"
NOTHING_TO_COMPARE_KEY = "nothing_to_compare"
ROLES_SINCE_KEY = "roles_since"
"""When the pair took its roles (domain/promotion/audit.py::roles_since): evidence and verdicts
belong to one tenure of the pair, so a pair holding its roles again starts a new test."""
_EARLIER_RECORDS = 1000
"""Earlier materialisations searched for the evidence (several a day at most, 60 days)."""


class ComparisonConfig(dg.Config):
    """The test's settings for a new challenger; a running one keeps those it started with
    (they travel in its stored evidence: changing them mid-way voids the guarantee)."""

    loss: str = "zero_one"
    """zero_one, brier or log_loss (domain/challenger/losses.py)."""
    alpha: float = 0.05
    min_effect: float = 0.002
    max_rows: int = 50_000
    max_days: int = 60


SPEC = daily_spec(
    "challenger_comparison",
    "The day's rows whose labels have landed, each judged under the champion and the "
    "challenger that scored it in shadow (batch_predictions' `__challenger_*` columns, and the "
    "rows the online service logged that day with both models' predictions, each id once); the "
    "paired losses accumulate day after day in an anytime-valid sequential test whose verdict "
    "is promote, retire or keep_collecting. Each day stores the evidence so far; a re-run "
    "day restarts from the evidence before it.",
    kinds={"numpy", "mlflow"},
)
CHECK = daily_check_spec(
    CHALLENGER_CHECK,
    "challenger_comparison",
    "The challenger's verdict: passes while evidence is collected or once the challenger is "
    "proven better; WARN when it is proven worse (or not better by the minimum effect).",
)


@daily_step(SPEC, CHECK)
@retried_on_mlflow_outage
def challenger_comparison(
    context: dg.AssetExecutionContext,
    partition: str,
    config: ComparisonConfig,
    mlflow_registry: MlflowRegistry,
    labels_source: LabelsDataSource,
    labels: DataFrame | None,
    batch_predictions: StoredParquetFile,
) -> dg.MaterializeResult:
    import pandas as pd

    from mlops_assets.contracts import MODEL_VERSION_KEY
    from mlops_assets.domain.challenger import (
        ChallengerEvidence,
        SequentialTestSettings,
        judge_day,
    )
    from mlops_assets.domain.challenger.online import with_served_pairs
    from mlops_assets.domain.challenger.paired import paired_day
    from mlops_assets.domain.data_quality import last_row_per_id
    from mlops_assets.domain.labels import join_labels

    footer = batch_predictions.schema_arrow.metadata or {}
    champion = footer.get(MODEL_VERSION_KEY.encode(), b"").decode()
    holder = mlflow_registry.version_by_alias(CHALLENGER_ALIAS)
    if holder is None:
        return _nothing(partition, "no version holds `challenger`", champion)
    challenger = holder.version
    from mlops_assets.domain.promotion.audit import roles_since

    since = roles_since(mlflow_registry.version(champion), holder)
    key = _own_key(context)
    earlier = stored_evidence(context.instance, key, partition, champion, challenger, since)
    settings = SequentialTestSettings(
        loss=config.loss,  # type: ignore[arg-type]  # checked by SequentialTestSettings
        alpha=config.alpha,
        min_effect=config.min_effect,
        max_rows=config.max_rows,
        max_days=config.max_days,
    )
    evidence = earlier or ChallengerEvidence(settings=settings)
    if labels is None or labels.empty:
        return _nothing(
            partition, "no label has landed for the day", champion, challenger, evidence, since
        )
    schema = scoring_schema(mlflow_registry, batch_predictions)
    if schema.task == "regression":
        # 0/1 loss would call a regressor wrong on almost every row and retire it: no verdict.
        return _nothing(
            partition,
            "regression: no bounded loss for a regressor yet",
            champion,
            challenger,
            evidence,
            since,
        )
    ids = [name for name in labels.columns if name != schema.target]
    batch = pd.DataFrame()
    if CHALLENGER_VERSION_COLUMN in batch_predictions.schema_arrow.names:
        joined = join_labels(
            batch_predictions.read().to_pandas().drop(columns=[schema.target], errors="ignore"),
            labels,
            source=f"labels {partition}",
            id_columns=ids,
            target=schema.target,
        )
        batch = last_row_per_id(joined.frame, ids)
        batch = batch[batch[schema.target].notna()]
    online, online_note = _served_pairs(
        labels_source,
        partition,
        labels,
        schema.id_columns,
        schema.target,
        champion,
        challenger,
        evidence.settings.loss,
    )
    rows, sources = with_served_pairs(batch, online, list(schema.id_columns), challenger)
    if rows.empty or champion == challenger:
        # After a promotion a day scored before it can name the same version in both roles.
        why = (
            f"the day was scored by v{champion}, which now holds `challenger` itself: no "
            "distinct champion and challenger pair scored it"
            if champion == challenger
            else f"no labelled row was scored by both v{champion} and v{challenger}"
            f" (batch or the service's log){online_note}"
        )
        return _nothing(
            partition,
            why,
            champion,
            challenger,
            evidence,
            since,
        )
    paired = paired_day(
        rows,
        schema.target,
        challenger,
        evidence.settings.loss,
        list(schema.classes or ()),
        schema.task,
    )
    evidence, verdict = judge_day(evidence, partition, paired.differences)
    context.log.info(
        f"{partition}: challenger v{challenger} vs champion v{champion}: {verdict.decision} "
        f"({verdict.reason}), effect {verdict.effect:+.4f} [{verdict.low:+.4f}, "
        f"{verdict.high:+.4f}] after {verdict.rows} labelled rows ({sources.batch} of the "
        f"day's from batch, {sources.online} from the service's log{online_note})"
    )
    metadata: dict[str, Any] = {
        **verdict.to_metadata(),
        CHAMPION_VERSION_KEY: champion,
        CHALLENGER_VERSION_KEY: challenger,
        ROLES_SINCE_KEY: since,
        "champion_accuracy": paired.champion_accuracy,
        "challenger_accuracy": paired.challenger_accuracy,
        **sources.to_metadata(),
        **({"challenger_online_note": online_note.removeprefix("; ")} if online_note else {}),
        "summary": dg.MetadataValue.md(_table(verdict, paired, champion, challenger, sources)),
        EVIDENCE_KEY: dg.MetadataValue.json(evidence_json(evidence)),
    }
    return dg.MaterializeResult(metadata=metadata, check_results=[verdict_check(verdict)])


def _own_key(context: dg.AssetExecutionContext) -> dg.AssetKey:
    """This step's key among the multi-asset's (the model's `challenger_comparison`)."""
    return next(k for k in context.selected_asset_keys if k.path[-1] == SPEC.name)


def verdict_check(verdict: "ChallengerVerdict") -> dg.AssetCheckResult:
    """Passes while collecting or promoting; WARN on evidence that the challenger is worse."""
    worse = verdict.reason in ("proven_worse", "not_better_by_min_effect")
    return dg.AssetCheckResult(
        check_name=CHALLENGER_CHECK,
        passed=not worse,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{verdict.decision} ({verdict.reason}): effect {verdict.effect:+.4f} "
            f"[{verdict.low:+.4f}, {verdict.high:+.4f}] in {verdict.loss} loss after "
            f"{verdict.rows} labelled rows"
        ),
        metadata={"decision": verdict.decision, "reason": verdict.reason},
    )


def _nothing(
    partition: str,
    why: str,
    champion: str,
    challenger: str = "",
    evidence: "ChallengerEvidence | None" = None,
    since: str = "",
) -> dg.MaterializeResult:
    """A day with nothing to compare: recorded (so the day shows why), its check passing, the
    evidence so far carried unchanged to the next day."""
    metadata: dict[str, Any] = {
        NOTHING_TO_COMPARE_KEY: f"{partition}: nothing to compare: {why}",
        CHAMPION_VERSION_KEY: champion or "none",
        CHALLENGER_VERSION_KEY: challenger or "none",
    }
    if evidence is not None:
        metadata[ROLES_SINCE_KEY] = since
        metadata[EVIDENCE_KEY] = dg.MetadataValue.json(evidence_json(evidence))
    check = dg.AssetCheckResult(
        check_name=CHALLENGER_CHECK, passed=True, description=f"nothing to compare: {why}"
    )
    return dg.MaterializeResult(metadata=metadata, check_results=[check])


def evidence_json(evidence: "ChallengerEvidence") -> dict[str, Any]:
    import json

    loaded: dict[str, Any] = json.loads(evidence.to_json())
    return loaded


def stored_evidence(
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    day: str,
    champion: str,
    challenger: str,
    since: str = "",
) -> "ChallengerEvidence | None":
    """The evidence as it stood before `day` for this champion and challenger in the roles they
    took at `since`: the latest record of the latest earlier day (its `before(day)`, so a day
    re-run is recounted, never counted twice), or None when this pair has no earlier day."""
    import json

    from mlops_assets.domain.challenger import ChallengerEvidence

    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key), limit=_EARLIER_RECORDS
    ).records
    latest: dict[str, dict[str, Any]] = {}
    for record in records:  # newest first: the first seen is a day's latest
        event = record.asset_materialization
        if event is not None and event.partition is not None and event.partition < day:
            latest.setdefault(event.partition, dict(event.metadata))
    for partition in sorted(latest, reverse=True):
        metadata = latest[partition]
        if EVIDENCE_KEY not in metadata:
            # A day the challenger could not score (recorded with no pair): no evidence to
            # carry, and no reason to restart the test (a restart spends a new alpha / 2).
            continue
        pair = tuple(
            getattr(metadata.get(k), "value", None)
            for k in (CHAMPION_VERSION_KEY, CHALLENGER_VERSION_KEY, ROLES_SINCE_KEY)
        )
        if pair != (champion, challenger, since):
            return None  # another pair since: this challenger's evidence starts again
        stored = json.dumps(metadata[EVIDENCE_KEY].value)
        return ChallengerEvidence.from_json(stored).before(day)
    return None


def latest_verdict(
    instance: dg.DagsterInstance, key: dg.AssetKey
) -> "tuple[ChallengerVerdict, str, str, str] | None":
    """The verdict of the latest day that has one, with its champion and challenger versions
    and when they took their roles (what the challenger sensor acts on), or None."""
    from mlops_assets.domain.challenger import ChallengerVerdict

    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key), limit=_EARLIER_RECORDS
    ).records
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        event = record.asset_materialization
        if event is not None and event.partition is not None:
            latest.setdefault(event.partition, dict(event.metadata))
    for partition in sorted(latest, reverse=True):
        metadata = latest[partition]
        if "challenger_decision" in metadata:
            return (
                ChallengerVerdict.from_metadata(metadata),
                metadata[CHAMPION_VERSION_KEY].value,
                metadata[CHALLENGER_VERSION_KEY].value,
                getattr(metadata.get(ROLES_SINCE_KEY), "value", ""),
            )
    return None


def _served_pairs(
    labels_source: LabelsDataSource,
    partition: str,
    labels: "pd.DataFrame",
    id_columns: "tuple[str, ...] | list[str]",
    target: str,
    champion: str,
    challenger: str,
    loss: str,
) -> "tuple[pd.DataFrame, str]":
    """The service's logged pairs of the day with their labels (domain/challenger/online.py),
    and a note on why there are none when that is not plain."""
    import pandas as pd

    from mlops_assets.domain.challenger import ChallengerInputError
    from mlops_assets.domain.challenger.online import served_pairs

    served = labels_source.served_day(date.fromisoformat(partition))
    if served is None:
        return pd.DataFrame(), ""
    if loss != "zero_one":
        # The log keeps each model's predicted class, not its probabilities.
        return pd.DataFrame(), f"; the service's log is not used: {loss} loss needs probabilities"
    source = f"{labels_source.request_log}/{partition}"
    try:
        pairs = served_pairs(served, labels, id_columns, target, champion, challenger, source)
    except ChallengerInputError as error:
        # A log that cannot give pairs (a service in `champion` mode before the challenger
        # columns existed, a model without id columns) leaves the batch's evidence whole: the
        # day says why the log was not used rather than failing.
        return pd.DataFrame(), f"; the service's log is not used: {error}"
    return pairs, ""


def _table(
    verdict: "ChallengerVerdict",
    paired: Any,
    champion: str,
    challenger: str,
    sources: "PairSources",
) -> str:
    return "\n".join(
        [
            "| | champion | challenger |",
            "|---|---|---|",
            f"| version | v{champion} | v{challenger} |",
            f"| accuracy on the day | {paired.champion_accuracy:.4f} | "
            f"{paired.challenger_accuracy:.4f} |",
            "",
            "| labelled pairs of the day | rows |",
            "|---|---|",
            f"| batch (batch_predictions' shadow) | {sources.batch} |",
            f"| the service's request log, not in batch | {sources.online} |",
            f"| the service's request log, already in batch (counted once) | "
            f"{sources.online_duplicates} |",
            "",
            "| day | labelled rows (day / so far) | effect | interval | verdict |",
            "|---|---|---|---|---|",
            f"| {date.fromisoformat(verdict.day)} | {verdict.day_rows} / {verdict.rows} | "
            f"{verdict.effect:+.4f} | [{verdict.low:+.4f}, {verdict.high:+.4f}] | "
            f"{verdict.decision} ({verdict.reason}) |",
        ]
    )
