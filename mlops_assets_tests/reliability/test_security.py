"""Security: no secret in any configuration file of the repo (passwords and credentials come
from the environment only), data paths from configuration stay inside the allowed roots,
configured table and column names never reach SQL as text, and every service binds to
127.0.0.1 by default. (Containers running as non-root users: deployment/test_docker_files.py.)"""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from mlops_assets.domain.data import (
    DataSourceError,
    check_data_path,
    check_sql_url,
    read_sql_day,
    read_sql_table,
)
from mlops_assets.resources.data_source import ScoringDataSource, TrainingDataSource

REPO = Path(__file__).resolve().parents[2]
CONFIG_FILE = re.compile(
    r"(\.ya?ml|\.toml|\.cfg|\.ini|\.conf|\.json|\.sh|(^|/)\.env[^/]*|(^|/)Dockerfile[^/]*"
    r"|(^|/)Makefile|(^|/)\.ci/run)$"
)
# References to values set elsewhere, in every syntax the repo's files use: {env: NAME}
# (Dagster), ${NAME}, ${NAME:-default}, ${NAME:?message}, $NAME, $1 (compose, shell), $$NAME,
# $(NAME) (make), :'name' and :"name" (psql variables).
ENV_REFERENCE = re.compile(
    r"\{env:\s*\w+\}|\$\$?\{[^}]*\}|\$\$?([A-Za-z_]\w*|\d)|\$\([A-Za-z_]\w*\)"
    r"|:'\w+'|:\"\w+\""
)
SECRET_SETTING = re.compile(
    r"(?i)\b[\w.-]*(password|passwd|secret|token|api[_-]?key|access[_-]?key)[\w.-]*\b\"?"
    r"\s*(:\s*|=)(?P<value>\S+)"
)
CREDENTIALS_IN_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s@:]*:(?P<value>[^/\s@]+)@")
KNOWN_FORMATS = {
    "AWS access key": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
}
EMPTY = {"", '""', "''", "null", "~", "none", "None"}


def literal_secrets(text: str) -> list[str]:
    """The lines of a configuration file that hold a literal secret (not an env reference)."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        cleaned = ENV_REFERENCE.sub("", line)
        for pattern in (SECRET_SETTING, CREDENTIALS_IN_URL):
            for match in pattern.finditer(cleaned):
                value = match.group("value").strip("\"',")
                if value not in EMPTY and not value.startswith(("#", "{", "(")):
                    found.append(f"{number}: {line.strip()}")
        for name, pattern in KNOWN_FORMATS.items():
            if pattern.search(line):
                found.append(f"{number}: {name}")
    return found


def _config_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return [REPO / name for name in listed if CONFIG_FILE.search(name) and (REPO / name).is_file()]


def test_the_secret_scanner_finds_literal_secrets_and_accepts_references():
    bad = "\n".join(
        [
            "password: hunter2",
            "  DAGSTER_PG_PASSWORD: s3cr3t-value",
            'MLFLOW_TRACKING_TOKEN="abc123"',
            "url: postgresql://dagster:letmein@db:5432/dagster",
            "key: AKIAABCDEFGHIJKLMNOP",
        ]
    )
    assert len(literal_secrets(bad)) == 5
    good = "\n".join(
        [
            "password: {env: DAGSTER_PG_PASSWORD}",
            "  DAGSTER_PG_PASSWORD: ${DAGSTER_PG_PASSWORD:?set DAGSTER_PG_PASSWORD in .env}",
            "POSTGRES_PASSWORD=",
            "MLFLOW_BACKEND_STORE_URI: postgresql+psycopg2://${U:-mlflow}:${P:?set P}@pg:5432/m",
            "# password: only in a comment",
            "DSN=postgresql://$$USER:$$PASSWORD@localhost/db",
            "local user=$1 password=$2 db=$3",
            "CREATE ROLE :\"user\" LOGIN PASSWORD :'password';",
        ]
    )
    assert literal_secrets(good) == []


def test_no_configuration_file_in_the_repo_holds_a_literal_secret():
    files = _config_files()
    assert any(path.name == "dagster.yaml" for path in files)
    found = {
        str(path.relative_to(REPO)): hits
        for path in files
        if (hits := literal_secrets(path.read_text(encoding="utf-8", errors="replace")))
    }
    assert found == {}


def test_production_instance_reads_its_database_password_from_the_environment():
    import yaml

    storage = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["storage"]["postgres"]
    assert storage["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}


def test_services_bind_to_localhost_by_default():
    makefile = (REPO / "Makefile").read_text()
    assert "-m mlops_assets.tools.ui -h 127.0.0.1" in makefile  # dg dev
    assert "--host 127.0.0.1" in makefile  # mlflow ui
    stack = (REPO / "scripts" / "stack.py").read_text()
    assert 'HOST = "127.0.0.1"' in stack
    compose = (REPO / "docker" / "docker-compose.yml").read_text()
    published = re.findall(r"^\s*-\s*\"([^\"]+:\d+)\"\s*$", compose, flags=re.MULTILINE)
    assert published and all(port.startswith("127.0.0.1:") for port in published), published


@pytest.fixture
def roots(tmp_path, monkeypatch):
    allowed = tmp_path / "allowed"
    (allowed / "data").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("a,b\n1,2\n")
    monkeypatch.setenv("MLOPS_DATA_ROOTS", str(allowed))
    return allowed, outside


def test_data_paths_outside_the_allowed_roots_are_refused(roots):
    allowed, outside = roots
    inside = allowed / "data" / "train.csv"
    assert check_data_path(inside, "MLOPS_TRAINING_DATA") == inside.resolve()
    (allowed / "data" / "link.csv").symlink_to(outside / "secret.csv")
    for path in (
        allowed / ".." / "outside" / "secret.csv",  # traversal
        allowed / "data" / "link.csv",  # a symlink that leaves the root
        outside / "secret.csv",
        "/etc/passwd",
    ):
        with pytest.raises(DataSourceError, match="outside the allowed data roots"):
            check_data_path(path, "MLOPS_TRAINING_DATA")
    with pytest.raises(DataSourceError, match="outside the allowed data roots"):
        check_sql_url(f"sqlite:///{outside / 'warehouse.db'}", "MLOPS_TRAINING_DATA")
    with pytest.raises(DataSourceError, match="outside the allowed data roots"):
        ScoringDataSource(location=str(allowed / ".." / "outside")).load_day(date(2026, 1, 2))


def test_a_training_source_outside_the_roots_fails_at_raw_data_without_reading_it(project, roots):
    allowed, _ = roots
    traversal = allowed / ".." / "outside" / "secret.csv"
    result = project.train(data_source=TrainingDataSource(location=str(traversal)))
    assert not result.success
    (check,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    assert (check.check_name, check.passed) == ("source_readable", False)
    assert "allowed_path" in check.metadata["failure_cases"].value
    assert "outside the allowed data roots" in check.description
    assert "MLOPS_DATA_ROOTS" in check.description
    assert not result.get_asset_materialization_events()


def test_table_and_column_names_never_reach_sql_as_text(tmp_path):
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    engine = sa.create_engine(url)
    rows = pd.DataFrame({"x": [1.0, 2.0], "day": pd.to_datetime(["2026-01-02", "2026-01-03"])})
    rows.to_sql("customers", engine, index=False)
    rows.to_sql('odd "name"; --', engine, index=False)
    try:
        for hostile in (
            "customers; DROP TABLE customers",
            "customers WHERE 1=1; DELETE FROM customers",
            'x" ; DROP TABLE customers; --',
        ):
            with pytest.raises(DataSourceError, match="does not exist"):
                read_sql_table(url, hostile)
        with pytest.raises(DataSourceError, match="has no column"):
            read_sql_day(url, "customers", "day = day; DROP TABLE customers; --", date(2026, 1, 2))
        # Nothing was executed: the table is intact, and an odd but real name is quoted.
        assert len(read_sql_table(url, "customers")) == 2
        assert len(read_sql_table(url, 'odd "name"; --')) == 2
        assert len(read_sql_day(url, "customers", "day", date(2026, 1, 3))) == 1
    finally:
        engine.dispose()
