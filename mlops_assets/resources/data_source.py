"""Where training data comes from: a file, a directory of files, a SQL table, or the built-in
synthetic dataset. Chosen by configuration (environment or run config), never by code edits."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import field_validator

from mlops_assets.domain import synthetic
from mlops_assets.domain.column_settings import ColumnSettings
from mlops_assets.domain.data import (
    DataSourceError,
    check_data_path,
    check_sql_url,
    daily_file,
    is_sql_url,
    read_daily,
    read_sql_day,
    read_sql_table,
    read_table_directory,
    read_table_file,
    redact_url,
    write_text_atomic,
)
from mlops_assets.domain.schemas import parse_column_list

if TYPE_CHECKING:
    import pandas as pd


def _table_name(table: str, setting: str) -> str:
    # Checked where the name enters (environment or run config), with no pandas import.
    from mlops_assets.domain.data.paths import checked_table_name

    return checked_table_name(table, setting)


# The first scoring partition when nothing says otherwise (the built-in generator's first day;
# its first drifted day).
DEFAULT_SCORING_START = "2026-01-02"
DEFAULT_DRIFT_START = "2026-01-09"


class TrainingDataSource(dg.ConfigurableResource):
    """The table a model is trained on.

    `location` empty means the built-in synthetic credit-risk data, so a clone works with no
    configuration; otherwise a CSV/Parquet file, a directory of them, or a SQLAlchemy URL (with
    `table`). A URL may hold a password: set it through the MLOPS_TRAINING_DATA environment
    variable, which Dagster resolves at run time and never shows.
    """

    location: str = ""  # MLOPS_TRAINING_DATA
    table: str = ""  # MLOPS_TRAINING_TABLE, for a SQL location
    target_column: str = synthetic.TARGET_COLUMN  # MLOPS_TARGET_COLUMN
    timestamp_column: str = ""  # MLOPS_TIMESTAMP_COLUMN: time-ordered split when set
    id_columns: str = ""  # MLOPS_ID_COLUMNS: comma list; kept for joins, never features
    exclude_columns: str = ""  # MLOPS_EXCLUDE_COLUMNS: comma list; never read as features
    synthetic_rows: int = 5000
    synthetic_seed: int = 0

    @field_validator("table")
    @classmethod
    def _checked_table(cls, table: str) -> str:
        return _table_name(table, "MLOPS_TRAINING_TABLE")

    @property
    def is_builtin(self) -> bool:
        return not self.location

    @property
    def id_column_names(self) -> tuple[str, ...]:
        if self.is_builtin and not self.id_columns:
            # The built-in data's id joins delayed labels; it is never a feature.
            return (synthetic.ID_COLUMN,)
        return parse_column_list(self.id_columns)

    @property
    def excluded_column_names(self) -> tuple[str, ...]:
        return parse_column_list(self.exclude_columns)

    def column_settings(self) -> ColumnSettings:
        return ColumnSettings(
            target=self.target_column,
            timestamp_column=self.timestamp_column or None,
            id_columns=self.id_column_names,
            excluded_columns=self.excluded_column_names,
        )

    def describe(self) -> str:
        """Where the data comes from, safe to show (passwords hidden)."""
        if self.is_builtin:
            rows, seed = self.synthetic_rows, self.synthetic_seed
            return f"built-in synthetic credit data ({rows} rows, seed {seed})"
        if is_sql_url(self.location):
            return f"{redact_url(self.location)} table {self.table}"
        return str(Path(self.location).expanduser().resolve())

    def load(self) -> pd.DataFrame:
        if self.is_builtin:
            return synthetic.generate_training_data(
                n_rows=self.synthetic_rows, seed=self.synthetic_seed
            )
        if is_sql_url(self.location):
            return read_sql_table(check_sql_url(self.location, "MLOPS_TRAINING_DATA"), self.table)
        path = check_data_path(self.location, "MLOPS_TRAINING_DATA")
        if path.is_dir():
            return read_table_directory(path)
        if not path.exists():
            raise DataSourceError(
                f"{path}: no such file or directory (MLOPS_TRAINING_DATA). Give a CSV/Parquet "
                "file, a directory of them, or a SQLAlchemy URL."
            )
        return read_table_file(path)


class ScoringDataSource(dg.ConfigurableResource):
    """Where each day's batch to score comes from.

    `location` empty means the built-in generator, whose drift scenario starts on `drift_start`;
    otherwise a directory of daily files `YYYY-MM-DD.csv` / `.parquet` (or day directories
    `YYYY-MM-DD/` of Parquet parts, as the serving request log writes them), or a SQLAlchemy URL
    with `table` and `date_column`. Labels are optional: when the target column is present it
    is kept, for performance monitoring and retraining.
    """

    location: str = ""  # MLOPS_SCORING_DATA
    table: str = ""  # MLOPS_SCORING_TABLE
    date_column: str = ""  # MLOPS_SCORING_DATE_COLUMN, for a SQL table
    rows_per_day: int = 1000
    drift_scenario: str = "both"  # MLOPS_DRIFT_SCENARIO: none, covariate, concept, both
    # MLOPS_DRIFT_START: first drifted day (built-in data; `make demo` moves it, see
    # BuiltinCalendar)
    drift_start: str = DEFAULT_DRIFT_START
    seed: int = 0
    # MLOPS_LABEL_DELAY_DAYS (built-in data): 0 keeps the labels in each day's batch; N > 0
    # leaves them out, to be delivered as their own file N days later (`labels_of_day`).
    label_delay_days: int = 0
    # MLOPS_SHADOW_SHARE: the share of each day's rows the challenger scores beside the
    # champion in batch_predictions, sampled by their ids' hash; 1 scores every row.
    shadow_share: float = 1.0

    @field_validator("shadow_share")
    @classmethod
    def _checked_share(cls, share: float) -> float:
        if not 0 < share <= 1:
            raise ValueError(f"shadow_share={share} must be above 0 and at most 1")
        return share

    @field_validator("table")
    @classmethod
    def _checked_table(cls, table: str) -> str:
        return _table_name(table, "MLOPS_SCORING_TABLE")

    def describe(self, day: date) -> str:
        if not self.location:
            return (
                f"built-in batch for {day} (scenario {self.drift_scenario} from {self.drift_start})"
            )
        if is_sql_url(self.location):
            return (
                f"{redact_url(self.location)} table {self.table} where {self.date_column} = {day}"
            )
        return str(self.daily_file(day) or Path(self.location) / f"{day}.*")

    def write_builtin_labels(self, directory: Path, day: date) -> Path:
        """Deliver the built-in batch's labels of `day` as `directory/<day>.parquet` (what a
        label source would receive `label_delay_days` after the day)."""
        if self.location:
            raise DataSourceError(
                f"{self.location}: labels are only generated for the built-in batches; deliver "
                "your own label files to MLOPS_LABELS_DATA."
            )
        return synthetic.write_daily_labels(
            directory,
            day,
            n_rows=self.rows_per_day,
            scenario=self.drift_scenario,  # type: ignore[arg-type]
            drift_start=date.fromisoformat(self.drift_start),
            seed=self.seed,
        )

    def daily_file(self, day: date) -> Path | None:
        try:
            return daily_file(Path(self.location).expanduser(), day)
        except DataSourceError:
            return None

    def load_day(self, day: date, text_columns: Sequence[str] = ()) -> pd.DataFrame:
        """The day's batch; `text_columns` (the model's categorical features) are read as
        text from a CSV, so codes like "01" keep their text."""
        if not self.location:
            return synthetic.generate_daily_batch(
                day,
                n_rows=self.rows_per_day,
                scenario=self.drift_scenario,  # type: ignore[arg-type]
                drift_start=date.fromisoformat(self.drift_start),
                seed=self.seed,
                with_labels=self.label_delay_days <= 0,
            )
        if is_sql_url(self.location):
            url = check_sql_url(self.location, "MLOPS_SCORING_DATA")
            return read_sql_day(url, self.table, self.date_column, day)
        directory = check_data_path(self.location, "MLOPS_SCORING_DATA")
        return read_daily(daily_file(directory, day), text_columns)


class LabelsDataSource(dg.ConfigurableResource):
    """Where each day's labels come from when they arrive after the features.

    `location` empty means labels arrive with the features: a day's labels are the target
    column of its scoring file, which batch_predictions keeps beside each prediction.
    Otherwise a directory of daily files `YYYY-MM-DD.csv` / `.parquet`, or a SQLAlchemy URL with
    `table` and `date_column` (the day the labelled rows were *scored*, not delivered). Each
    delivery carries the id columns (MLOPS_ID_COLUMNS) and the model's target.
    """

    location: str = ""  # MLOPS_LABELS_DATA
    table: str = ""  # MLOPS_LABELS_TABLE
    date_column: str = ""  # MLOPS_LABELS_DATE_COLUMN, for a SQL table
    request_log: str = ""
    """The online service's request log (MLOPS_SERVE_LOG_DIR, for the default model
    `$MLOPS_HOME/requests` when unset): its logged shadow pairs are judged on these labels by
    challenger_comparison; a declared model's YAML `serve.log_dir`. Empty: none (a declared
    model without it)."""

    @field_validator("table")
    @classmethod
    def _checked_table(cls, table: str) -> str:
        return _table_name(table, "MLOPS_LABELS_TABLE")

    @property
    def with_features(self) -> bool:
        return not self.location

    def describe(self, day: date) -> str:
        if self.with_features:
            return f"the target column of the scoring data of {day}"
        if is_sql_url(self.location):
            return (
                f"{redact_url(self.location)} table {self.table} where {self.date_column} = {day}"
            )
        return str(self.daily_file(day) or Path(self.location).expanduser() / f"{day}.*")

    def daily_file(self, day: date) -> Path | None:
        try:
            return daily_file(Path(self.location).expanduser(), day)
        except DataSourceError:
            return None

    def load_day(self, day: date) -> pd.DataFrame:
        if is_sql_url(self.location):
            url = check_sql_url(self.location, "MLOPS_LABELS_DATA")
            return read_sql_day(url, self.table, self.date_column, day, source="MLOPS_LABELS")
        directory = check_data_path(self.location, "MLOPS_LABELS_DATA")
        return read_table_file(daily_file(directory, day))

    def served_day(self, day: date) -> pd.DataFrame | None:
        """The rows the online service logged on `day` (every part of its directory), or None
        when there is no request log or the service logged nothing that day."""
        if not self.request_log:
            return None
        directory = Path(self.request_log).expanduser() / day.isoformat()
        if not directory.is_dir() or not any(directory.glob("*.parquet")):
            return None
        return read_daily(directory)

    def fingerprints(self, days: list[date]) -> dict[date, str]:
        """A fingerprint per delivered day, which changes when the delivery does: for a
        directory every daily file's name, size and modification time (no file read); for SQL,
        a hash of each of `days`' rows. Days with no delivery are left out."""
        if self.with_features:
            return {}
        if is_sql_url(self.location):
            from mlops_assets.domain.data import content_hash

            url = check_sql_url(self.location, "MLOPS_LABELS_DATA")
            found = {}
            for day in days:
                rows = read_sql_day(
                    url, self.table, self.date_column, day, source="MLOPS_LABELS", allow_empty=True
                )
                if len(rows):
                    found[day] = f"{len(rows)}-{content_hash(rows)[:16]}"
            return found
        directory = check_data_path(self.location, "MLOPS_LABELS_DATA")
        found = {}
        for path in directory.iterdir() if directory.is_dir() else ():
            match = DAILY_FILE_NAME.match(path.name)
            if match is None:
                continue
            try:
                day = date.fromisoformat(match.group(1))
            except ValueError:  # 2026-13-01.csv is not a day
                continue
            stat = path.stat()
            found[day] = f"{path.name}-{stat.st_size}-{stat.st_mtime_ns}"
        return found


# A daily scoring file: `YYYY-MM-DD.csv` or `.parquet` (scoring_start and the demo list them).
DAILY_FILE_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(csv|parquet)$")
# A day's directory of Parquet parts `YYYY-MM-DD/` (the serving request log).
DAILY_DIRECTORY_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})$")


# Where `make demo` records the built-in data's days, in MLOPS_HOME (see BuiltinCalendar).
BUILTIN_CALENDAR_FILE = "builtin_calendar.json"


@dataclass(frozen=True)
class BuiltinCalendar:
    """The built-in generator's days: the first daily partition and the first drifted day.

    The generator can make any day, so its days are a choice. `make demo` lays them out to end
    yesterday (the UI's partition views and plots open on the latest days) and records them in
    MLOPS_HOME, so every process with that home (the webserver, the daemon, each run) draws the
    same drifted days. Only the drift start is read back (settings.py): the daily partitions
    start at DEFAULT_SCORING_START whatever a demo recorded, and reach today, so the demo's
    days are always among them. Without the file, the fixed defaults; MLOPS_DRIFT_START
    overrides it.
    """

    scoring_start: str = DEFAULT_SCORING_START
    drift_start: str = DEFAULT_DRIFT_START

    @classmethod
    def ending(cls, last_day: date, days: int, drift_day: int) -> BuiltinCalendar:
        """`days` days ending on `last_day`, drifted from the `drift_day`-th (1-based) on."""
        first = last_day - timedelta(days=days - 1)
        return cls(first.isoformat(), (first + timedelta(days=drift_day - 1)).isoformat())

    @classmethod
    def read(cls, env: Mapping[str, str]) -> BuiltinCalendar:
        """The calendar recorded in MLOPS_HOME (./.mlops when unset), else the defaults."""
        path = _home(env) / BUILTIN_CALENDAR_FILE
        try:
            raw = json.loads(path.read_text())
            calendar = cls(str(raw["scoring_start"]), str(raw["drift_start"]))
            date.fromisoformat(calendar.scoring_start), date.fromisoformat(calendar.drift_start)
        except FileNotFoundError:
            return cls()
        except (ValueError, KeyError, TypeError) as error:
            raise DataSourceError(
                f"{path}: not a built-in calendar ({error}); expected "
                '{"scoring_start": "YYYY-MM-DD", "drift_start": "YYYY-MM-DD"}. Delete it to use '
                "the defaults, or run `make demo` again."
            ) from None
        return calendar

    def write(self, env: Mapping[str, str]) -> Path:
        path = _home(env) / BUILTIN_CALENDAR_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_text_atomic(json.dumps(self.__dict__, indent=2) + "\n", path)


def _home(env: Mapping[str, str]) -> Path:
    # MLOPS_HOME as ProjectStorage resolves it (resources/project.py), from `env`.
    return Path(env.get("MLOPS_HOME") or Path.cwd() / ".mlops").expanduser()


def scoring_start(env: Mapping[str, str]) -> str:
    """The first daily partition (YYYY-MM-DD): MLOPS_SCORING_START when set; else, when
    MLOPS_SCORING_DATA is a directory, the date of its earliest daily file; else (the built-in
    data, a SQL source) DEFAULT_SCORING_START. Settings only: no file in MLOPS_HOME.

    Read when the code location loads (Dagster fixes partitions then), so it costs one
    directory listing and never reads a file: a directory that does not exist yet, or a SQL
    source, starts at the default, and the scoring run names what is wrong.
    """
    if env.get("MLOPS_SCORING_START"):
        return env["MLOPS_SCORING_START"]
    location = env.get("MLOPS_SCORING_DATA", "")
    directory = Path(location).expanduser()
    if not location or is_sql_url(location) or not directory.is_dir():
        return DEFAULT_SCORING_START
    days = []
    for path in directory.iterdir():
        match = DAILY_FILE_NAME.match(path.name) or (
            DAILY_DIRECTORY_NAME.match(path.name) if path.is_dir() else None
        )
        if match is None:
            continue
        try:
            days.append(date.fromisoformat(match.group(1)))
        except ValueError:  # 2026-13-01.csv is not a day; scoring names such files
            continue
    return min(days).isoformat() if days else DEFAULT_SCORING_START
