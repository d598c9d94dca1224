#!/bin/sh
# Creates one role and one database per service (each service owns its tables).
# Run once by the postgres image from /docker-entrypoint-initdb.d on an empty data directory.
# Names and passwords come from the environment (defaults suit local use only):
#   TRIAGE_DB_PASSWORD, ROUTER_DB_PASSWORD
set -eu

create() {
    name="$1"
    password="$2"
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
        -v name="$name" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'name')\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name')\gexec
SQL
}

create triage "${TRIAGE_DB_PASSWORD:-triage}"
create router "${ROUTER_DB_PASSWORD:-router}"
