#!/usr/bin/env bash
# The app's private servers, owned by an unprivileged OS user: a PostgreSQL + PostGIS cluster
# under var/pg, and Redis under var/redis (the rate limits' store, shared by every gunicorn
# worker; a Unix socket, no TCP port, nothing written to disk).
# Usage: scripts/db.sh start|stop|url
# When DATABASE_URL is set, the private cluster is not used; when REDIS_URL is set, nor is
# the private Redis.
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

case "${1:-}" in
  start)
    if [ -n "${DATABASE_URL:-}" ]; then echo "db: using DATABASE_URL"; else start; fi
    if [ -n "${REDIS_URL:-}" ]; then echo "db: using REDIS_URL"; else start_redis; fi ;;
  stop) stop; stop_redis ;;
  url) url ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
