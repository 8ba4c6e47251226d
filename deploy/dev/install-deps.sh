#!/usr/bin/env bash
# Installs what building, running and testing chatd needs: Debian packages, and the
# npm test clients. Quick when everything is already there (no apt-get at all).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev liblua5.4-dev lua5.4 lua-dkjson lua-busted lua-check
  # fuzz_json's reference decoder (tests only; chatd does not link it).
  libjansson-dev
  libhiredis-dev libpq-dev libssl-dev librdkafka-dev libcurl4-openssl-dev kcat
  postgresql redis-server iproute2 curl ca-certificates python3-yaml
  # The fuzz build (tests/fuzz): Debian's clang 14; libFuzzer's runtime
  # (libclang_rt.fuzzer-x86_64.a) is in libclang-rt-14-dev, which clang does not pull in.
  clang libclang-rt-14-dev
)
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
command -v mvn >/dev/null 2>&1 || PACKAGES+=(maven default-jre-headless)
# The browser test drives Debian's Chromium (never a downloaded browser).
[ "${1:-}" = "--with-browser" ] && PACKAGES+=(chromium fonts-noto-cjk)

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
if ! command -v kustomize >/dev/null 2>&1 && command -v go >/dev/null 2>&1; then
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
