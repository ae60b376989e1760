#!/usr/bin/env bash
# Runs once, when PostgreSQL starts on an empty data volume (docker-entrypoint-initdb.d):
# creates the role and the database Gatehouse uses. Gatehouse creates its schema and tables
# itself (`gatehouse migrate`, or `serve` on start). ZITADEL creates its own role and database
# with the admin credentials.
set -euo pipefail

: "${GH_DB_PASSWORD:?GH_DB_PASSWORD must be set (see .env.example)}"

# The password travels as a psql variable and is quoted by psql (:'password'), never spliced
# into the SQL text by the shell.
psql --set=ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    --set=password="$GH_DB_PASSWORD" <<'SQL'
CREATE ROLE gatehouse LOGIN PASSWORD :'password';
CREATE DATABASE gatehouse OWNER gatehouse;
SQL
echo "created role and database gatehouse"
