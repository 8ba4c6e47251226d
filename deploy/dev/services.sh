#!/usr/bin/env bash
# Private PostgreSQL and Redis for development and tests, under the git-ignored .dev/
# folder of this checkout, listening on free loopback ports only.
#   deploy/dev/services.sh start|stop|status|env|stop-pg|start-pg
# `start` is idempotent and writes .dev/env with the variables chatd reads.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEV="$ROOT/.dev"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
PGDATA="$DEV/pg/data"
PGSOCK="$DEV/pg/run"
REDIS_DIR="$DEV/redis"
# PostgreSQL refuses to run as root; a dedicated system user owns the private cluster.
PGUSER_OS=chatd-dev

# shellcheck source=deploy/dev/lib.sh
. "$ROOT/deploy/dev/lib.sh"

as_pg() { runuser -u "$PGUSER_OS" -- "$@"; }

pg_port() { cat "$DEV/pg/port" 2>/dev/null || true; }
redis_port() { cat "$REDIS_DIR/port" 2>/dev/null || true; }

start_pg() {
  id -u "$PGUSER_OS" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PGUSER_OS"
  mkdir -p "$DEV/pg" "$PGSOCK"
  # The cluster's user must be able to reach its folder through the checkout's path.
  local d="$DEV"
  while [ "$d" != "/" ]; do chmod o+x "$d" 2>/dev/null || true; d="$(dirname "$d")"; done
  chown -R "$PGUSER_OS" "$DEV/pg"
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then return; fi
  local port
  port="$(pg_port)"
  if [ -z "$port" ] || ss -Hltn "sport = :$port" | grep -q .; then port="$(free_port 55432)"; fi
  echo "$port" >"$DEV/pg/port"
  # Trust on loopback: a private, throwaway cluster reachable only from this machine.
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$DEV/pg/server.log" -w -t 30 \
    -o "-p $port -k $PGSOCK -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  as_pg "$PGBIN/psql" -h "$PGSOCK" -p "$port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
SELECT 'CREATE ROLE chat LOGIN PASSWORD ''chat''' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chat')\gexec
SELECT 'CREATE DATABASE chat OWNER chat' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'chat')\gexec
SQL
}

start_redis() {
  mkdir -p "$REDIS_DIR"
  if [ -f "$REDIS_DIR/redis.pid" ] && kill -0 "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null; then return; fi
  local port
  port="$(redis_port)"
  if [ -z "$port" ] || ss -Hltn "sport = :$port" | grep -q .; then port="$(free_port 56379)"; fi
  echo "$port" >"$REDIS_DIR/port"
  cat >"$REDIS_DIR/redis.conf" <<CONF
bind 127.0.0.1
port $port
daemonize yes
dir $REDIS_DIR
pidfile $REDIS_DIR/redis.pid
logfile $REDIS_DIR/redis.log
save ""
appendonly no
CONF
  redis-server "$REDIS_DIR/redis.conf"
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis did not start; see $REDIS_DIR/redis.log" >&2
  exit 1
}

write_env() {
  cat >"$DEV/env" <<ENV
export SPRING_DATASOURCE_URL=jdbc:postgresql://127.0.0.1:$(pg_port)/chat?currentSchema=public
export SPRING_DATASOURCE_USERNAME=chat
export SPRING_DATASOURCE_PASSWORD=chat
export SPRING_DATA_REDIS_HOST=127.0.0.1
export SPRING_DATA_REDIS_PORT=$(redis_port)
ENV
}

stop_all() {
  if [ -f "$PGDATA/PG_VERSION" ]; then as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true; fi
  if [ -f "$REDIS_DIR/redis.pid" ]; then
    redis-cli -p "$(redis_port)" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null || true
  fi
}

case "${1:-}" in
  start) start_pg; start_redis; write_env; echo "PostgreSQL on 127.0.0.1:$(pg_port), Redis on 127.0.0.1:$(redis_port) (.dev/env)" ;;
  # For fault tests: PostgreSQL alone, on the same port.
  stop-pg) as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null ;;
  start-pg) start_pg ;;
  stop) stop_all ;;
  status)
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1 && echo "PostgreSQL up on $(pg_port)" || echo "PostgreSQL down"
    redis-cli -p "$(redis_port)" ping >/dev/null 2>&1 && echo "Redis up on $(redis_port)" || echo "Redis down" ;;
  env) cat "$DEV/env" ;;
  *) echo "usage: $0 start|stop|status|env|stop-pg|start-pg" >&2; exit 2 ;;
esac
