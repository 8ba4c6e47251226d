#!/usr/bin/env bash
# A private Redis Cluster on loopback for tests and benchmarks: six redis-server processes
# in cluster mode (three masters, each with a replica) under DIR, on free ports from BASE.
# A node also listens on its port + 10000 (the cluster bus). Both stay below the kernel's
# ephemeral range (32768 up): a client's own port there can collide with a node's, and a
# client reconnecting to a killed node's port can even connect to itself.
#   redis-cluster.sh start DIR [BASE]   prints the first node's host:port once every slot is
#                                       served and every replica is attached
#   redis-cluster.sh stop DIR           stops what start started there and removes DIR
# Debian's redis-server and redis-cli (deploy/dev/install-deps.sh installs them).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/dev/lib.sh
. "$here/lib.sh"
cmd=${1:?usage: redis-cluster.sh start|stop DIR [BASE]} dir=${2:?usage: redis-cluster.sh start|stop DIR [BASE]}

stop() {
  local pids=() pidfile pid
  for pidfile in "$dir"/*/redis.pid; do
    pid=$(cat "$pidfile" 2>/dev/null) && pids+=("$pid")
  done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$dir"
}

# Every replica has finished its first sync (CLUSTER SLOTS lists a replica only then).
replicas_synced() {
  local port info
  for port in "$@"; do
    info=$(redis-cli -p "$port" INFO replication | tr -d '\r')
    if grep -q '^role:slave' <<<"$info" && ! grep -q '^master_link_status:up' <<<"$info"; then return 1; fi
  done
}

case "$cmd" in
  stop) stop ;;
  start)
    stop
    mkdir -p "$dir"
    ports=() p=${3:-21100}
    while [ ${#ports[@]} -lt 6 ]; do
      p=$(free_port "$p")
      [ $((p + 10000)) -lt 32768 ] || { echo "no free ports for a cluster below 22768" >&2; exit 1; }
      [ "$(free_port $((p + 10000)))" = $((p + 10000)) ] && ports+=("$p")
      p=$((p + 1))
    done
    for port in "${ports[@]}"; do
      mkdir -p "$dir/$port"
      # A short node timeout: a killed master's replica takes over within seconds in tests.
      redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$dir/$port" \
        --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log" --save '' --appendonly no \
        --cluster-enabled yes --cluster-config-file "$dir/$port/nodes.conf" --cluster-node-timeout 2000
    done
    for port in "${ports[@]}"; do
      for _ in $(seq 100); do [ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ] && break; sleep 0.1; done
    done
    nodes=()
    for port in "${ports[@]}"; do nodes+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1
    first=${ports[0]}
    for _ in $(seq 300); do
      if redis-cli --cluster check "127.0.0.1:$first" >/dev/null 2>&1 &&
         [ "$(redis-cli -p "$first" CLUSTER NODES | grep -c slave)" = 3 ] && replicas_synced "${ports[@]}" &&
         [ "$(redis-cli -p "$first" CLUSTER INFO | tr -d '\r' | sed -n 's/^cluster_state://p')" = ok ]; then
        echo "127.0.0.1:$first"
        exit 0
      fi
      sleep 0.1
    done
    echo "the cluster under $dir did not come up; see $dir/create.log and $dir/*/redis.log" >&2
    exit 1
    ;;
  *) echo "usage: redis-cluster.sh start|stop DIR [BASE]" >&2; exit 2 ;;
esac
