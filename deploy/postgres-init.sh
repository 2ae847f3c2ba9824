#!/usr/bin/env bash
# The audit database's roles, created by the postgres image on its first start only (an empty data volume), from
# /docker-entrypoint-initdb.d (deploy/compose.yaml mounts this file there). Passwords come from the environment:
#   XRAY_OWNER_PASSWORD  xray_owner: owns the database xray_audit and its tables; only the migration signs in as it
#   XRAY_APP_PASSWORD    xray_app: the replicas' role; it reads the trail and appends to it, never changes or drops
# The tables do not exist yet (the migrate service creates them), so xray_app gets its rights as default privileges:
# SELECT and INSERT on every table xray_owner creates in public, and USAGE on its sequences (the reads id). The audit
# tables are append-only and guarded by triggers, so INSERT on all of them grants nothing more.
set -euo pipefail

: "${XRAY_OWNER_PASSWORD:?set XRAY_OWNER_PASSWORD}"
: "${XRAY_APP_PASSWORD:?set XRAY_APP_PASSWORD}"

# psql's variables, quoted by psql itself (:'name'), so no password is ever spliced into SQL by the shell.
psql --variable ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set owner_password="$XRAY_OWNER_PASSWORD" --set app_password="$XRAY_APP_PASSWORD" <<'SQL'
CREATE ROLE xray_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE xray_app LOGIN PASSWORD :'app_password';
CREATE DATABASE xray_audit OWNER xray_owner;
REVOKE ALL ON DATABASE xray_audit FROM PUBLIC;
GRANT CONNECT ON DATABASE xray_audit TO xray_owner, xray_app;
SQL

psql --variable ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname xray_audit <<'SQL'
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO xray_owner;
GRANT USAGE ON SCHEMA public TO xray_app;
ALTER DEFAULT PRIVILEGES FOR ROLE xray_owner IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO xray_app;
ALTER DEFAULT PRIVILEGES FOR ROLE xray_owner IN SCHEMA public GRANT USAGE ON SEQUENCES TO xray_app;
SQL
