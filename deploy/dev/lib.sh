# Shell helpers shared by the dev and test scripts (services.sh, kafka.sh, the Eureka
# fixture, bench/). Sourced, never run.

# The first port from $1 upwards that nothing listens on.
free_port() {
  local p=$1
  while ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done
  echo "$p"
}

# pid_alive FILE: the process whose pid FILE holds is running.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid FILE: TERM to that process, then up to 15 s for it to go.
stop_pid() {
  pid_alive "$1" || return 0
  kill "$(cat "$1")"
  for _ in $(seq 60); do pid_alive "$1" || return 0; sleep 0.25; done
}
