#!/usr/bin/env bash
# tests/c/test_redis_cluster_map.c against a real Redis Cluster (three masters, three
# replicas) started for it on free loopback ports and stopped afterwards.
#   redis_cluster_map.sh /path/to/test_redis_cluster_map
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="$(mktemp -d /tmp/chatd-redis-cluster.XXXXXX)"
trap '"$ROOT/deploy/dev/redis-cluster.sh" stop "$DIR"' EXIT
node=$("$ROOT/deploy/dev/redis-cluster.sh" start "$DIR" 47100)
CHAT_TEST_REDIS_CLUSTER="$node" "$1"
