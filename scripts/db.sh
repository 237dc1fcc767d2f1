#!/usr/bin/env bash
# The app's private servers, owned by an unprivileged OS user: a PostgreSQL + PostGIS cluster
# under var/pg, and Redis under var/redis (the rate limits' store, shared by every gunicorn
# worker; a Unix socket, no TCP port, nothing written to disk).
# Usage: scripts/db.sh start|stop|url|pgbouncer|pgbouncer-stop
# When DATABASE_URL is set, the private cluster is not used; when REDIS_URL is set, nor is
# the private Redis. `pgbouncer` starts PgBouncer (Debian's package) in transaction pooling in
# front of the private cluster, under var/pgbouncer, and writes its URL to var/pgbouncer_url:
#   DATABASE_URL=$(cat var/pgbouncer_url) DATABASE_POOLER=pgbouncer make serve
# (README, "Deploying"). `stop` stops it too.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PGDATA=$ROOT/var/pg
PGBIN=/usr/lib/postgresql/15/bin
PORT_FILE=$ROOT/var/pg.port
PGUSER_OS=postgres

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$PGUSER_OS" -- "$@"; else "$@"; fi
}

port() { cat "$PORT_FILE"; }

free_port() {
  local p=55433
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

# PostgreSQL runs as $PGUSER_OS: it must be able to reach var/ through every parent directory
# (a clone under `mktemp -d` is mode 700).
open_path() {
  [ "$(id -u)" = 0 ] || return 0
  local d=$ROOT
  while [ "$d" != / ]; do
    if ! runuser -u "$PGUSER_OS" -- test -x "$d"; then
      echo "db: granting o+x on $d so that $PGUSER_OS can reach var/pg" >&2
      chmod o+x "$d"
    fi
    d=$(dirname "$d")
  done
}

start() {
  mkdir -p "$ROOT/var"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    open_path
    mkdir -p "$PGDATA"
    [ "$(id -u)" = 0 ] && chown "$PGUSER_OS:" "$PGDATA"
    chmod 700 "$PGDATA"
    as_owner "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    free_port >"$PORT_FILE"
    cat >>"$PGDATA/postgresql.conf" <<CONF
# Cartagora development cluster
listen_addresses = '127.0.0.1'
port = $(port)
unix_socket_directories = '$PGDATA'
max_connections = 100
shared_buffers = 1GB
work_mem = 64MB
maintenance_work_mem = 512MB
effective_cache_size = 8GB
random_page_cost = 1.1
jit = off
synchronous_commit = off
max_wal_size = 4GB
CONF
  fi
  if ! as_owner "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_owner "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 start >/dev/null
  fi
  psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname='cartagora'" | grep -q 1 ||
    psql_admin -qc "CREATE ROLE cartagora LOGIN SUPERUSER"
  psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname='cartagora'" | grep -q 1 ||
    psql_admin -qc "CREATE DATABASE cartagora OWNER cartagora"
  url >"$ROOT/var/database_url"
}

psql_admin() { psql -X -h 127.0.0.1 -p "$(port)" -U postgres -d postgres "$@"; }

stop() {
  if [ -s "$PGDATA/PG_VERSION" ]; then
    as_owner "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

url() { echo "postgresql+psycopg://cartagora@127.0.0.1:$(port)/cartagora"; }

REDIS_DIR=$ROOT/var/redis

start_redis() {
  open_path
  mkdir -p "$REDIS_DIR"
  [ "$(id -u)" = 0 ] && chown "$PGUSER_OS:" "$REDIS_DIR"
  if ! as_owner redis-cli -s "$REDIS_DIR/redis.sock" ping >/dev/null 2>&1; then
    as_owner redis-server --port 0 --unixsocket "$REDIS_DIR/redis.sock" --unixsocketperm 770 \
      --dir "$REDIS_DIR" --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" \
      --save "" --appendonly no --maxmemory 256mb --maxmemory-policy volatile-ttl --daemonize yes
    for _ in $(seq 50); do
      as_owner redis-cli -s "$REDIS_DIR/redis.sock" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
  fi
  echo "redis+unix://$REDIS_DIR/redis.sock" >"$ROOT/var/redis_url"
}

stop_redis() {
  if [ -S "$REDIS_DIR/redis.sock" ]; then
    as_owner redis-cli -s "$REDIS_DIR/redis.sock" shutdown nosave >/dev/null 2>&1 || true
  fi
}

PGB_DIR=$ROOT/var/pgbouncer

# The app's connection defaults (app/db.py server_defaults), set on each server connection by
# PgBouncer's connect_query: behind it, the app sends no startup options.
connect_query() {
  .venv/bin/python -c 'from app.config import Config; from app.db import connect_query, server_defaults
print(connect_query(server_defaults(Config.STATEMENT_TIMEOUT_MS["read"])))'
}

start_pgbouncer() {
  command -v pgbouncer >/dev/null || { echo "db: pgbouncer is not installed (scripts/install.sh)" >&2; exit 1; }
  start
  open_path
  mkdir -p "$PGB_DIR"
  [ "$(id -u)" = 0 ] && chown "$PGUSER_OS:" "$PGB_DIR"
  if [ -s "$PGB_DIR/pgbouncer.pid" ] && kill -0 "$(cat "$PGB_DIR/pgbouncer.pid")" 2>/dev/null; then
    echo "db: pgbouncer already running"
  else
    local p; p=$(free_port)
    echo '"cartagora" ""' >"$PGB_DIR/userlist.txt"
    cat >"$PGB_DIR/pgbouncer.ini" <<INI
[databases]
cartagora = host=127.0.0.1 port=$(port) dbname=cartagora connect_query='$(connect_query)'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $p
unix_socket_dir =
auth_type = trust
auth_file = $PGB_DIR/userlist.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = 200
logfile = $PGB_DIR/pgbouncer.log
pidfile = $PGB_DIR/pgbouncer.pid
INI
    as_owner pgbouncer -d "$PGB_DIR/pgbouncer.ini"
    echo "postgresql+psycopg://cartagora@127.0.0.1:$p/cartagora" >"$ROOT/var/pgbouncer_url"
  fi
  cat "$ROOT/var/pgbouncer_url"
}

stop_pgbouncer() {
  if [ -s "$PGB_DIR/pgbouncer.pid" ]; then
    kill "$(cat "$PGB_DIR/pgbouncer.pid")" 2>/dev/null || true
    rm -f "$PGB_DIR/pgbouncer.pid" "$ROOT/var/pgbouncer_url"
  fi
}

case "${1:-}" in
  start)
    if [ -n "${DATABASE_URL:-}" ]; then echo "db: using DATABASE_URL"; else start; fi
    if [ -n "${REDIS_URL:-}" ]; then echo "db: using REDIS_URL"; else start_redis; fi ;;
  stop) stop_pgbouncer; stop; stop_redis ;;
  url) url ;;
  pgbouncer) start_pgbouncer ;;
  pgbouncer-stop) stop_pgbouncer ;;
  *) echo "usage: $0 start|stop|url|pgbouncer|pgbouncer-stop" >&2; exit 2 ;;
esac
