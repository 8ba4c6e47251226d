# shellcheck shell=bash disable=SC2034  # sourced: the variables set here are read by the sourcing script
# Shared by the bench/ scripts (sourced after .dev/env).

# free_port PORT: the first port from PORT up that nothing listens on.
# shellcheck source=deploy/dev/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../deploy/dev/lib.sh"

# wait_ready PORT: returns once chatd on PORT reports ready; after 10 s says so and fails.
wait_ready() {
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$1/actuator/health/readiness" >/dev/null && return 0; sleep 0.1; done
  echo "chatd on port $1 did not become ready" >&2
  return 1
}

# The value of key=value in a chat-bench result line read from stdin.
kv() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p"; }

# psql on the private database.
export PGPASSWORD="$SPRING_DATASOURCE_PASSWORD"
PSQL=(psql -X -qAt -h 127.0.0.1 -p "$(sed 's/.*:\([0-9]*\)\/.*/\1/' <<<"$SPRING_DATASOURCE_URL")"
      -U "$SPRING_DATASOURCE_USERNAME" chat)

# seed_rooms ROOMS MEMBERS LABEL [PSQL COMMAND...]: fresh rooms with MEMBERS members in all,
# member i in room FIRST + i % ROOMS, as chat-bench's persisted mode expects, in chatd's
# database or in the one the given psql command reaches (the original's). Sets FIRST (the
# first room id) and MEMBER_BASE (member i is MEMBER_BASE + i).
seed_rooms() {
  local rooms=$1 members=$2 label=$3 base=$(( (RANDOM * 32768 + RANDOM) * 1000 ))
  shift 3
  local psql=("$@")
  [ ${#psql[@]} -gt 0 ] || psql=("${PSQL[@]}")
  MEMBER_BASE=$(( RANDOM * 100000 + 7 ))
  FIRST=$("${psql[@]}" -c "WITH r AS (INSERT INTO chat_rooms (study_id, name, is_active, created_at)
      SELECT $base + g, '$label ' || g, true, now() FROM generate_series(0, $rooms - 1) g RETURNING id, study_id),
    m AS (INSERT INTO chat_room_members (chat_room_id, member_id, sender_nickname, joined_at)
      SELECT r.id, $MEMBER_BASE + i, '$label', now() FROM r JOIN generate_series(0, $members - 1) i ON i % $rooms = r.study_id - $base)
    SELECT min(id) FROM r")
}

# Pinning, bench/run's default: every server process (chatd, RabbitMQ's Erlang VM,
# Centrifugo, the original's JVM) on core SERVER_CORE, every load generator (chat-bench,
# wrk) on core CLIENT_CORE, so a server's figures are what one core of it gives and the
# client never competes with it. PostgreSQL and Redis are not pinned: they take whatever is
# left of both cores. set_pinning on|off sets PIN_SERVER and PIN_CLIENT (command prefixes,
# empty when off or with fewer than two cores).
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
set_pinning() {
  PIN_SERVER=()
  PIN_CLIENT=()
  if [ "$1" = on ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    PIN_SERVER=(taskset -c "$SERVER_CORE")
    PIN_CLIENT=(taskset -c "$CLIENT_CORE")
  fi
}

# quiesce PID...: returns once the processes together use under 10% of a core, at most 60 s
# later: a server still working off the previous run's backlog would slow the next one.
quiesce() {
  local hz before after
  hz=$(getconf CLK_TCK)
  for _ in $(seq 120); do
    before=$(cpu_ticks "$@")
    sleep 0.5
    after=$(cpu_ticks "$@")
    [ $(( (after - before) * 100 )) -lt $(( hz * 5 )) ] && return 0
  done
  echo "quiesce: still busy after 60 s: $*" >&2
}
# cpu_ticks PID...: user + system clock ticks the processes have used.
cpu_ticks() {
  local total=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] && total=$(( total + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}') ))
  done
  echo "$total"
}
# pg_pids PORT: the PostgreSQL server listening on PORT and its processes (the backends of
# the pools already open), for chat-bench --db-pid.
pg_pids() {
  local pm
  pm=$(ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1)
  # Where ss may not name another user's sockets (a sandbox without ptrace rights), the
  # postmaster is the oldest postgres started with that port.
  [ -n "$pm" ] || pm=$(pgrep -o -f "bin/postgres .*-p $1( |$)" || true)
  [ -n "$pm" ] && { echo "$pm"; pgrep -P "$pm"; }
  return 0
}
CHAT_PG_PORT=$(sed 's/.*:\([0-9]*\)\/.*/\1/' <<<"$SPRING_DATASOURCE_URL")
