#!/usr/bin/env bash
# Configures and builds one tree: deploy/dev/build.sh [build-dir] [extra cmake args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${1:-build}"
shift || true
[ -f "$ROOT/$DIR/build.ninja" ] || cmake -S "$ROOT" -B "$ROOT/$DIR" -G Ninja "$@" >/dev/null
cmake --build "$ROOT/$DIR" -j"$(nproc)"
