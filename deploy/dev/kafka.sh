#!/usr/bin/env bash
# A real Apache Kafka broker (KRaft, single node) for development and tests, under the
# git-ignored .dev/kafka, on a free loopback port. The jars come from Maven Central once.
#   deploy/dev/kafka.sh start|stop|status|fresh
# `start` writes .dev/kafka/env with SPRING_KAFKA_BOOTSTRAP_SERVERS.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="$ROOT/.dev/kafka"
LIBS="$DIR/libs"

# shellcheck source=deploy/dev/lib.sh
. "$ROOT/deploy/dev/lib.sh"

running() { pid_alive "$DIR/pid"; }

start() {
  mkdir -p "$DIR"
  if [ ! -f "$LIBS/.complete" ]; then
    echo "fetching the Kafka broker from Maven Central (once)"
    mvn -q -f "$ROOT/deploy/dev/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$LIBS"
    touch "$LIBS/.complete"
  fi
  if running; then return; fi
  # The same ports as last time when free, so a restarted broker is the same broker to
  # its clients (the restart test relies on it).
  local port cport
  port="$(cat "$DIR/port" 2>/dev/null || true)"
  if [ -z "$port" ] || ss -Hltn "sport = :$port" | grep -q . || ss -Hltn "sport = :$((port + 1))" | grep -q .; then
    port="$(free_port 59092)"
  fi
  cport="$(free_port $((port + 1)))"
  echo "$port" >"$DIR/port"
  cat >"$DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DIR/data
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
  # Formatted once; a restart keeps topics, records and committed offsets, as a real
  # broker restart does. `fresh` wipes it.
  if [ ! -f "$DIR/data/meta.properties" ]; then
    local id
    id="$(python3 -c 'import uuid,base64;print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')"
    java -cp "$LIBS/*" kafka.tools.StorageTool format -t "$id" -c "$DIR/server.properties" >/dev/null 2>&1
  fi
  nohup java -Xmx512m -cp "$LIBS/*" -Dlog4j.configuration=file:/dev/null kafka.Kafka "$DIR/server.properties" \
    >"$DIR/server.log" 2>&1 &
  echo $! >"$DIR/pid"
  for _ in $(seq 120); do
    if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "export SPRING_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$port" >"$DIR/env"
      echo "Kafka on 127.0.0.1:$port (.dev/kafka/env)"
      return
    fi
    sleep 0.5
  done
  echo "Kafka did not start; see $DIR/server.log" >&2
  exit 1
}

stop() {
  stop_pid "$DIR/pid"
  rm -f "$DIR/pid" "$DIR/env"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  fresh) stop; rm -rf "$DIR/data"; start ;;
  status) running && echo "Kafka up ($(cat "$DIR/env" 2>/dev/null))" || echo "Kafka down" ;;
  *) echo "usage: $0 start|stop|status|fresh" >&2; exit 2 ;;
esac
