# shellcheck shell=bash disable=SC2034  # sourced: the variables set here are read by the sourcing script
# RabbitMQ with its Web-STOMP plugin, the broker the Spring service would relay to: a private
# node on loopback (sourced by bench/run; needs bench/lib.sh and ROOT, PIN_SERVER).
#   rabbit_find      fails with the reason in RABBIT_SKIP when rabbitmq-server is absent
#   start_rabbit     a fresh node; sets RABBIT_PORT (Web-STOMP, path /ws) and RABBIT_PID (its Erlang VM)
#   stop_rabbit

RABBIT_DIR="$ROOT/.dev/rabbitmq"
RABBIT_PID=""

rabbit_find() {
  RABBIT_SKIP="rabbitmq-server not installed (apt-get install rabbitmq-server)"
  command -v rabbitmq-server >/dev/null
}

start_rabbit() {
  mkdir -p "$RABBIT_DIR"
  RABBIT_PORT="$(free_port 15674)"
  # vm_memory_calculation_strategy: RabbitMQ's default reader of /proc crashes on this machine.
  cat >"$RABBIT_DIR/rabbitmq.conf" <<CONF
vm_memory_calculation_strategy = allocated
listeners.tcp.default = 127.0.0.1:$(free_port 56720)
web_stomp.tcp.port = $RABBIT_PORT
web_stomp.tcp.ip = 127.0.0.1
# Its WebSocket idle timeout (60 s) would drop subscribers that wait, silent, for the
# others to connect; chatd drops nobody for that, so neither may the reference.
web_stomp.ws_opts.idle_timeout = 3600000
web_stomp.tcp.backlog = 4096
loopback_users = none
CONF
  echo '[rabbitmq_web_stomp].' >"$RABBIT_DIR/enabled_plugins"
  rm -rf "$RABBIT_DIR/mnesia"
  chown -R rabbitmq "$RABBIT_DIR"
  # Pinned like every server: the Erlang VM inherits the affinity and runs one scheduler.
  # As the rabbitmq user through setpriv, not the package's wrapper: the wrapper's `su` (PAM)
  # drops the open-file limit to 1,024, which capped it at ~830 connections in earlier runs.
  (cd /var/lib/rabbitmq && HOME=/var/lib/rabbitmq \
    RABBITMQ_CONFIG_FILE="$RABBIT_DIR/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_DIR/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$RABBIT_DIR/mnesia" RABBITMQ_LOG_BASE="$RABBIT_DIR/log" \
    RABBITMQ_NODENAME=chatdbench@localhost RABBITMQ_DIST_PORT="$(free_port 25673)" \
    exec "${PIN_SERVER[@]}" setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
    /usr/lib/rabbitmq/bin/rabbitmq-server) >"$RABBIT_DIR/out.log" 2>&1 &
  local launcher=$!
  # The Erlang VM's command line does not name the node: it is found by its Web-STOMP port,
  # or, where ss cannot name a socket's process, as the newest VM under our launcher's user.
  for _ in $(seq 120); do
    if (echo >"/dev/tcp/127.0.0.1/$RABBIT_PORT") 2>/dev/null; then
      RABBIT_PID="$(ss -Hltnp "sport = :$RABBIT_PORT" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1)"
      [ -n "$RABBIT_PID" ] || RABBIT_PID="$(pgrep -n -u rabbitmq beam.smp || true)"
      [ -n "$RABBIT_PID" ] && return 0
    fi
    kill -0 "$launcher" 2>/dev/null || break
    sleep 0.5
  done
  RABBIT_PID=""
  echo "rabbitmq did not start; the end of its output and log:" >&2
  tail -n 20 "$RABBIT_DIR/out.log" "$RABBIT_DIR"/log/*.log 2>/dev/null >&2 || true
  return 1
}

stop_rabbit() {
  if [ -n "${RABBIT_PID:-}" ]; then
    RABBITMQ_NODENAME=chatdbench@localhost rabbitmqctl stop >/dev/null 2>&1 || kill "$RABBIT_PID" 2>/dev/null || true
    RABBIT_PID=""
  fi
}
