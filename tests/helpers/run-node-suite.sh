#!/usr/bin/env bash
# Runs a Node suite (tests/<suite>/*.test.mjs), or one file of it, against the private services:
#   run-node-suite.sh integration|e2e /path/to/chatd [file]
# file is a path, or a name inside tests/<suite>/ (rest.test.mjs); ctest runs one file per
# entry (integration.rest, e2e.stomp, ...; see tests/CMakeLists.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SUITE="$1"
export CHATD_BIN="$2"
FILE="${3:-}"
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
if [ -z "$FILE" ]; then
  exec node --test --test-concurrency=1 "$ROOT"/tests/"$SUITE"/*.test.mjs
fi
[ -f "$FILE" ] || FILE="$ROOT/tests/$SUITE/$FILE"
if [ ! -f "$FILE" ]; then
  echo "no such test file: $FILE" >&2
  exit 1
fi
exec node --test --test-concurrency=1 "$FILE"
