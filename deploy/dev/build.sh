#!/usr/bin/env bash
# Configures and builds one tree: deploy/dev/build.sh [build-dir] [extra cmake args...]
# A tree is configured when it has not been yet or when cmake arguments are given (they
# change its cache: deploy/dev/run builds `build` without the tests, deploy/dev/test with
# them). CHAT_BUILD_TARGET builds one target (deploy/dev/run: chatd) instead of all.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${1:-build}"
shift || true
if [ ! -f "$ROOT/$DIR/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S "$ROOT" -B "$ROOT/$DIR" -G Ninja "$@" >/dev/null
fi
cmake --build "$ROOT/$DIR" -j"$(nproc)" ${CHAT_BUILD_TARGET:+--target "$CHAT_BUILD_TARGET"}
