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

# seed_rooms ROOMS MEMBERS LABEL: fresh rooms with MEMBERS members in all, member i in room
# FIRST + i % ROOMS, as chat-bench's persisted mode expects. Sets FIRST (the first room id)
# and MEMBER_BASE (member i is MEMBER_BASE + i).
seed_rooms() {
  local rooms=$1 members=$2 label=$3 base=$(( (RANDOM * 32768 + RANDOM) * 1000 ))
  MEMBER_BASE=$(( RANDOM * 100000 + 7 ))
  FIRST=$("${PSQL[@]}" -c "WITH r AS (INSERT INTO chat_rooms (study_id, name, is_active, created_at)
      SELECT $base + g, '$label ' || g, true, now() FROM generate_series(0, $rooms - 1) g RETURNING id, study_id),
    m AS (INSERT INTO chat_room_members (chat_room_id, member_id, sender_nickname, joined_at)
      SELECT r.id, $MEMBER_BASE + i, '$label', now() FROM r JOIN generate_series(0, $members - 1) i ON i % $rooms = r.study_id - $base)
    SELECT min(id) FROM r")
}
