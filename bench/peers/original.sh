# shellcheck shell=bash disable=SC2034  # sourced: the variables set here are read by the sourcing script
# The original: the Spring Boot chat-service chatd replaces, run by the peer scripts of
# the project (start.sh, stop.sh and build.sh in ORIGINAL_DIR; its README says how to build
# the jar from the public source). Sourced by bench/run and bench/smoke-peers; needs
# bench/lib.sh and PIN_SERVER.
#   original_find    fails with the reason in ORIGINAL_SKIP when the scripts or the jar are absent
#   original_start   its private PostgreSQL, Redis and the jar; sets ORIGINAL_PID (the java
#                    process), ORIGINAL_PORT, ORIGINAL_REDIS_PORT, ORIGINAL_PSQL (psql on its database)
#   original_stop    stops what original_start started (an original already running is left alone)
# STOMP is SockJS-only there: the raw WebSocket is /ws-chat/websocket. Its simple broker
# sends no RECEIPT (chat-bench --no-receipt). Two settings differ from its own
# configuration, as an operator would set them for this load: its SQL log is off
# (SPRING_JPA_SHOW_SQL=false) and Tomcat's accept queue holds 1,024 connections like chatd's
# listen backlog (SERVER_TOMCAT_ACCEPTCOUNT; Tomcat's default of 100 drops the SYNs of a
# burst of connections, which then wait for the client's retransmits, 1 s, 3 s, 7 s...).

ORIGINAL_DIR="${ORIGINAL_DIR:-/work/shared/peers/spring-original}"
export PEER_DIR="${PEER_DIR:-${TMPDIR:-/tmp}/spring-original}"
ORIGINAL_PORT="${PEER_APP_PORT:-28084}"
ORIGINAL_REDIS_PORT="${PEER_REDIS_PORT:-56380}"
ORIGINAL_PG_PORT="${PEER_PG_PORT:-56432}"
ORIGINAL_PSQL=(psql -X -qAt -h 127.0.0.1 -p "$ORIGINAL_PG_PORT" -U postgres chat)
ORIGINAL_PID=""
ORIGINAL_OURS=0

original_find() {
  if [ ! -x "$ORIGINAL_DIR/start.sh" ]; then
    ORIGINAL_SKIP="original not available: no $ORIGINAL_DIR/start.sh (--original-dir DIR)"
  elif [ ! -f "$PEER_DIR/chat-service.jar" ]; then
    ORIGINAL_SKIP="original not built: no $PEER_DIR/chat-service.jar ($ORIGINAL_DIR/build.sh GIT_DIR, see its README.md)"
  elif ! command -v java >/dev/null; then
    ORIGINAL_SKIP="original not runnable: no java"
  else
    return 0
  fi
  return 1
}

original_start() { # [log file]
  local pid
  pid="$(cat "$PEER_DIR/app.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then ORIGINAL_OURS=0; else ORIGINAL_OURS=1; fi
  # A pinned JVM sizes its GC and pools for one processor, as it would in a one-CPU container.
  local java_opts="${JAVA_OPTS:-}"
  [ ${#PIN_SERVER[@]} -gt 0 ] && java_opts="$java_opts -XX:ActiveProcessorCount=1"
  if ! JAVA_OPTS="$java_opts" SPRING_JPA_SHOW_SQL=false SERVER_TOMCAT_ACCEPTCOUNT="${SERVER_TOMCAT_ACCEPTCOUNT:-1024}" \
    "$ORIGINAL_DIR/start.sh" >>"${1:-/dev/null}" 2>&1; then
    echo "the original did not start (see ${1:-its log in $PEER_DIR})" >&2
    return 1
  fi
  ORIGINAL_PID="$(cat "$PEER_DIR/app.pid")"
  # start.sh also starts PostgreSQL and Redis, which stay unpinned: only the java process is.
  if [ ${#PIN_SERVER[@]} -gt 0 ]; then taskset -a -p -c "$SERVER_CORE" "$ORIGINAL_PID" >/dev/null; fi
}

original_stop() { # [log file]
  if [ "$ORIGINAL_OURS" = 1 ] && [ -n "$ORIGINAL_PID" ]; then "$ORIGINAL_DIR/stop.sh" >>"${1:-/dev/null}" 2>&1 || true; fi
  ORIGINAL_PID=""
  ORIGINAL_OURS=0
}
