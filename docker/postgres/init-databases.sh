#!/usr/bin/env bash
# Runs once, when the Postgres data volume is new (docker-entrypoint-initdb.d): one role with a
# password and one database per consumer, Dagster and MLflow, from the environment.
set -euo pipefail

create() {
    local user=$1 password=$2 db=$3
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
        -v user="$user" -v password="$password" -v db="$db" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"user";
SQL
}

create "$DAGSTER_PG_USER" "$DAGSTER_PG_PASSWORD" "$DAGSTER_PG_DB"
create "$MLFLOW_PG_USER" "$MLFLOW_PG_PASSWORD" "$MLFLOW_PG_DB"
