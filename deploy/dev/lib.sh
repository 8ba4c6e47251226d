# Shell helpers shared by the dev and test scripts (services.sh, kafka.sh, the Eureka
# fixture, bench/). Sourced, never run.

# The first port from $1 upwards that nothing listens on.
free_port() {
  local p=$1
  while ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done
  echo "$p"
}
