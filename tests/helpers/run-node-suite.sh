#!/usr/bin/env bash
# Runs one Node suite (tests/<suite>/*.test.mjs) against the private services:
#   run-node-suite.sh integration|e2e /path/to/chatd
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SUITE="$1"
export CHATD_BIN="$2"
if [ ! -f "$ROOT/.dev/env" ]; then
  echo "services are not started: run deploy/dev/services.sh start" >&2
  exit 1
fi
# shellcheck disable=SC1091
. "$ROOT/.dev/env"
# shellcheck disable=SC1091
[ -f "$ROOT/.dev/kafka/env" ] && . "$ROOT/.dev/kafka/env"
export CHAT_REPO="$ROOT"
mkdir -p "$ROOT/tests/out"
cd "$ROOT"
exec node --test --test-concurrency=1 "$ROOT"/tests/"$SUITE"/*.test.mjs
