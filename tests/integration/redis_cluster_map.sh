#!/usr/bin/env bash
# tests/c/test_redis_cluster_map.c and tests/c/test_redis_cluster.c against a real Redis
# Cluster (three masters, three replicas) started for them on free loopback ports and
# stopped afterwards (the second kills a master: it runs last).
#   redis_cluster_map.sh /path/to/test_redis_cluster_map /path/to/test_redis_cluster
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="$(mktemp -d /tmp/chatd-redis-cluster.XXXXXX)"
trap '"$ROOT/deploy/dev/redis-cluster.sh" stop "$DIR"' EXIT
node=$("$ROOT/deploy/dev/redis-cluster.sh" start "$DIR" 21100)
CHAT_TEST_REDIS_CLUSTER="$node" "$1"
CHAT_TEST_REDIS_CLUSTER="$node" CHAT_TEST_REDIS_CLUSTER_DIR="$DIR" "$2"
