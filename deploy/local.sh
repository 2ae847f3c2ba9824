#!/usr/bin/env bash
# The department's topology on one machine, natively (no container runtime needed): PostgreSQL, Redis, two app
# replicas, one explanation worker and HAProxy, all on loopback, from Debian's packages and this checkout's Python.
#
#   deploy/local.sh up     start everything, wait until all of it is healthy, and say where the app is
#   deploy/local.sh down   stop exactly what `up` started (by the process ids it recorded) and remove its data
#
# Run it in the environment where `pip install -r requirements.txt` was run. Settings (environment):
#   XRAY_PORT               the balancer's port on 127.0.0.1 (default 8500)
#   XRAY_LOCAL_DIR          where the topology keeps its process ids, logs, ports and secrets (default
#                           ~/.xray_review/local)
#   XRAY_WORKER_PROCESSES   the worker's pool processes (default: one per core)
# Sign-in is on only where .streamlit/secrets.toml has an [auth] section; both replicas read the same file.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
state="$(realpath -m "${XRAY_LOCAL_DIR:-$HOME/.xray_review/local}")"
port="${XRAY_PORT:-8500}"
workers="${XRAY_WORKER_PROCESSES:-$(nproc)}"
python="${PYTHON:-python3}"
host=127.0.0.1
startup_seconds=180

say() { printf '%s\n' "$*"; }
fail() { say "error: $*" >&2; exit 1; }

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

secret() {
    "$python" -c 'import secrets; print(secrets.token_urlsafe(32))'
}

postgres_bin() {
    local found
    found="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$found" ] || fail "PostgreSQL's server is not installed (Debian: apt-get install postgresql)."
    printf '%s' "$found"
}

# PostgreSQL refuses to run as root: there it runs as the package's postgres user.
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Start a command in its own process group, its output in logs/NAME.log and its id in pids/NAME.
start() {
    local name="$1"; shift
    setsid "$@" >"$state/logs/$name.log" 2>&1 </dev/null &
    printf '%s\n' "$!" >"$state/pids/$name"
}

wait_for() {
    local what="$1" log="$2"; shift 2
    local deadline=$((SECONDS + startup_seconds))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "error: $what did not become healthy in ${startup_seconds} s; the end of its log:" >&2
            tail -n 40 "$log" >&2 || true
            return 1
        fi
        sleep 0.5
    done
    say "  $what: healthy"
}

healthy() {
    [ "$("$python" -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())' "$1")" = ok ]
}

# Worker processes that beat in the shared store (review.jobs.store says how they are counted).
workers_alive() {
    [ "$(env -C "$root" XRAY_BROKER_URL="$broker_url" "$python" -c 'import os
from review.jobs.store import ResultStore
print(ResultStore(os.environ["XRAY_BROKER_URL"]).workers())')" -ge "$workers" ]
}

up() {
    [ ! -e "$state/pids" ] || fail "a topology is already recorded in $state: run '$0 down' first."
    command -v redis-server >/dev/null || fail "Redis is not installed (Debian: apt-get install redis-server)."
    command -v haproxy >/dev/null || fail "HAProxy is not installed (Debian: apt-get install haproxy)."
    mkdir -p "$state/pids" "$state/logs"
    chmod 700 "$state"
    trap 'say "error: up failed; stopping what it started" >&2; down >/dev/null' ERR

    local pg_port app1_port app2_port
    pg_port="$(free_port)"; redis_port="$(free_port)"; app1_port="$(free_port)"; app2_port="$(free_port)"
    local owner_password app_password cookie_secret
    owner_password="$(secret)"; app_password="$(secret)"; redis_password="$(secret)"; cookie_secret="$(secret)"

    # PostgreSQL: a new cluster in a folder its server user can reach (not under root's home).
    local pg_dir bin
    pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/xray-local-postgres.XXXXXX")"
    printf '%s\n' "$pg_dir" >"$state/postgres_dir"
    printf '%s' "$owner_password" >"$pg_dir/owner-password"
    [ "$(id -u)" -ne 0 ] || chown -R postgres: "$pg_dir"
    bin="$(postgres_bin)"
    say "Starting PostgreSQL on $host:$pg_port, Redis on $host:$redis_port, replicas on $host:$app1_port and" \
        "$host:$app2_port, the balancer on $host:$port"
    (cd "$pg_dir" && as_postgres "$bin/initdb" --pgdata "$pg_dir/data" --username xray_owner \
        --pwfile "$pg_dir/owner-password" --auth scram-sha-256 --encoding UTF8 --locale C >/dev/null)
    (cd "$pg_dir" && as_postgres "$bin/pg_ctl" start --pgdata "$pg_dir/data" --log "$pg_dir/server.log" --wait \
        -o "-p $pg_port -k $pg_dir -c listen_addresses=$host" >/dev/null)
    say "  PostgreSQL: healthy"
    local owner_url app_url
    owner_url="postgresql+psycopg://xray_owner:$owner_password@$host:$pg_port/xray_audit"
    app_url="postgresql+psycopg://xray_app:$app_password@$host:$pg_port/xray_audit"
    PGPASSWORD="$owner_password" psql -q -h "$host" -p "$pg_port" -U xray_owner -d postgres \
        -c "CREATE DATABASE xray_audit" -c "CREATE ROLE xray_app LOGIN PASSWORD '$app_password'" >/dev/null
    # The audit tables, as the role that owns them; then the app's role may only add and read reads (README).
    (cd "$root" && XRAY_DATABASE_URL="$owner_url" "$python" -m review.audit migrate)
    PGPASSWORD="$owner_password" psql -q -h "$host" -p "$pg_port" -U xray_owner -d xray_audit \
        -c "GRANT USAGE ON SCHEMA public TO xray_app" -c "GRANT SELECT, INSERT ON reads TO xray_app" \
        -c "GRANT USAGE ON SEQUENCE reads_id_seq TO xray_app" -c "GRANT SELECT ON xray_audit_version TO xray_app" \
        >/dev/null

    # Redis: the queue, its results and the explanation cache; a password, nothing saved to disk.
    # Results and inputs expire on their own; when memory runs short the oldest of them go, never the queue.
    start redis redis-server --bind "$host" --port "$redis_port" --requirepass "$redis_password" --save "" \
        --appendonly no --dir "$state" --maxmemory 1gb --maxmemory-policy volatile-lru
    wait_for Redis "$state/logs/redis.log" env REDISCLI_AUTH="$redis_password" redis-cli -h "$host" \
        -p "$redis_port" ping
    local broker_url="redis://:$redis_password@$host:$redis_port/0"

    cat >"$state/environment" <<EOF
XRAY_PORT=$port
XRAY_BROKER_URL=$broker_url
XRAY_DATABASE_URL=$app_url
XRAY_OWNER_DATABASE_URL=$owner_url
POSTGRES_PORT=$pg_port
REDIS_PORT=$redis_port
APP1_PORT=$app1_port
APP2_PORT=$app2_port
EOF
    chmod 600 "$state/environment"

    # The two replicas share this machine's cores, as the worker's pool processes do: TensorFlow's own threads per
    # replica (each took every core, and under a burst of uploads the calls waited on each other's threads).
    local replica replica_port replica_threads=$(( $(nproc) / 2 ))
    [ "$replica_threads" -ge 1 ] || replica_threads=1
    for replica in app1 app2; do
        replica_port="$app1_port"; [ "$replica" = app1 ] || replica_port="$app2_port"
        start "$replica" env -C "$root" XRAY_BROKER_URL="$broker_url" XRAY_DATABASE_URL="$app_url" \
            STREAMLIT_SERVER_COOKIE_SECRET="$cookie_secret" TF_NUM_INTRAOP_THREADS="$replica_threads" \
            "$python" -m streamlit run app.py --server.address "$host" --server.port "$replica_port" \
            --server.headless true --server.fileWatcherType none --client.showErrorDetails none
    done
    start worker env -C "$root" XRAY_BROKER_URL="$broker_url" \
        "$python" -m celery --app review.jobs.worker worker --concurrency "$workers" --loglevel INFO \
        --hostname "local@%h"
    start balancer env XRAY_BALANCER_BIND="$host:$port" XRAY_REPLICA_1="$host:$app1_port" \
        XRAY_REPLICA_2="$host:$app2_port" haproxy -db -f "$root/deploy/haproxy.cfg"

    wait_for "replica app1" "$state/logs/app1.log" healthy "http://$host:$app1_port/_stcore/health"
    wait_for "replica app2" "$state/logs/app2.log" healthy "http://$host:$app2_port/_stcore/health"
    wait_for "worker ($workers processes)" "$state/logs/worker.log" workers_alive
    wait_for balancer "$state/logs/balancer.log" healthy "http://$host:$port/_stcore/health"
    trap - ERR
    local sign_in="off (no [auth] in .streamlit/secrets.toml)"
    if grep -qs '^\[auth\]' "$root/.streamlit/secrets.toml"; then sign_in="on ([auth] in .streamlit/secrets.toml)"; fi
    say "All healthy. The app is at http://$host:$port (2 replicas, $workers worker processes); sign-in $sign_in."
    say "Logs and settings: $state. Stop it all with: $0 down"
}

stop_group() {
    local name="$1" pid
    pid="$(cat "$state/pids/$name")"
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
        kill -0 -- "-$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
}

down() {
    local name pg_dir
    if [ -d "$state/pids" ]; then
        for name in balancer app1 app2 worker redis; do
            [ ! -f "$state/pids/$name" ] || stop_group "$name"
        done
    fi
    if [ -f "$state/postgres_dir" ]; then
        pg_dir="$(cat "$state/postgres_dir")"
        if [ -d "$pg_dir/data" ]; then
            (cd "$pg_dir" && as_postgres "$(postgres_bin)/pg_ctl" stop --pgdata "$pg_dir/data" --mode fast --wait \
                >/dev/null 2>&1) || true
        fi
        rm -rf "$pg_dir"
    fi
    rm -rf "$state/pids" "$state/postgres_dir" "$state/environment"
    say "Stopped."
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    *) say "usage: $0 up|down"; exit 2 ;;
esac
