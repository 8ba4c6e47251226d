#!/usr/bin/env bash
# Installs what chatd needs, Debian packages and npm packages, in two sets, so the first
# README command does no work that only the tests need:
#   install-deps.sh --run [--with-kafka]   building and running chatd (and its chat page)
#   install-deps.sh [--with-browser]       everything the test suites need besides (default)
# Quick when everything is already there (no apt-get at all).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

MODE=test
WITH_BROWSER=0
WITH_KAFKA=0
for arg in "$@"; do
  case "$arg" in
    --run) MODE=run ;;
    --with-browser) WITH_BROWSER=1 ;;
    --with-kafka) WITH_KAFKA=1 ;;
    *) echo "usage: $0 [--run [--with-kafka] | --with-browser]" >&2; exit 2 ;;
  esac
done

# Building and running chatd, and the private PostgreSQL and Redis it runs against.
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev liblua5.4-dev lua-dkjson
  libhiredis-dev libpq-dev libssl-dev librdkafka-dev libcurl4-openssl-dev
  postgresql redis-server iproute2 curl ca-certificates tzdata
)
# The chat page's STOMP and SockJS clients come from npm (see the end).
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
if [ "$MODE" = test ]; then
  PACKAGES+=(
    lua5.4 lua-busted lua-check kcat python3-yaml
    # A real Prometheus (and promtool) for the alerting rules and the dashboard's queries.
    prometheus
    # fuzz_json's reference decoder (tests only; chatd does not link it).
    libjansson-dev
    # The fuzz build (tests/fuzz): Debian's clang 14; libFuzzer's runtime
    # (libclang_rt.fuzzer-x86_64.a) is in libclang-rt-14-dev, which clang does not pull in.
    clang libclang-rt-14-dev
  )
fi
# Java and Maven: the Kafka broker's jars (deploy/dev/kafka.sh) and the Spring test fixtures.
if [ "$MODE" = test ] || [ "$WITH_KAFKA" = 1 ]; then
  command -v mvn >/dev/null 2>&1 || PACKAGES+=(maven default-jre-headless)
fi
# The browser test drives Debian's Chromium (never a downloaded browser).
[ "$WITH_BROWSER" = 1 ] && PACKAGES+=(chromium fonts-noto-cjk)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# kustomize renders deploy/k3s for tests/k3s/check_manifests.py (kubectl's built-in copy
# would do, but kubectl is no Debian package): built once from the Go module proxy.
if [ "$MODE" = test ] && ! command -v kustomize >/dev/null 2>&1 && command -v go >/dev/null 2>&1; then
  echo "installing kustomize (Go module sigs.k8s.io/kustomize/kustomize/v5)"
  GOBIN=/usr/local/bin GOFLAGS=-mod=mod go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0
fi

# Debian starts the system-wide servers on install; chatd's own private ones run under
# .dev/ on other ports, so the system ones are left alone.

# The JavaScript clients (npm packages) also serve the chat page: copy the browser builds
# chatd serves at /js/ (git-ignored; nothing fetched is committed).
if [ -f "$ROOT/tests/package.json" ]; then
  if [ ! -d "$ROOT/tests/node_modules" ] || [ "$ROOT/tests/package.json" -nt "$ROOT/tests/node_modules" ]; then
    (cd "$ROOT/tests" && npm install --no-audit --no-fund --silent && touch node_modules)
  fi
fi
mkdir -p "$ROOT/web/js"
cp "$ROOT/tests/node_modules/sockjs-client/dist/sockjs.min.js" "$ROOT/web/js/sockjs.min.js"
cp "$ROOT/tests/node_modules/stompjs/lib/stomp.min.js" "$ROOT/web/js/stomp.min.js"
