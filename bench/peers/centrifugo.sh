# shellcheck shell=bash disable=SC2034  # sourced: the variables set here are read by the sourcing script
# Centrifugo v6, the self-hosted real-time server a team would pick instead of writing one
# (sourced by bench/run and bench/smoke-peers; needs bench/lib.sh, PIN_SERVER and
# SPRING_DATA_REDIS_PORT from .dev/env).
#   centrifugo_find   sets CENTRIFUGO_BIN, or fails with the reason in CENTRIFUGO_SKIP
#   centrifugo_install_cached   go install, only from a module cache that already holds it
#   centrifugo_start  sets CENTRIFUGO_PORT (WebSocket /connection/websocket, server API /api)
#                     and CENTRIFUGO_PID
#   centrifugo_stop
# How it is set up, as a chat would use it: connections without a token (anonymous, as
# chatd runs with CHAT_AUTH=none here) may subscribe to channels without a namespace
# (allow_subscribe_for_client and allow_subscribe_for_anonymous); the backend publishes
# through the server HTTP API (no API key: loopback only). The engine is Redis
# (CENTRIFUGO_ENGINE=redis, the default: the dev Redis), what a fleet of nodes needs, as
# chatd's and the original's messages cross Redis; CENTRIFUGO_ENGINE=memory for one node.

CENTRIFUGO_VERSION=v6.9.1
CENTRIFUGO_PID=""

centrifugo_find() {
  local gobin=""
  if [ -z "${CENTRIFUGO:-}" ] && command -v go >/dev/null; then gobin="$(go env GOPATH)/bin/centrifugo"; fi
  for c in "${CENTRIFUGO:-}" "$(command -v centrifugo || true)" "$gobin" "$HOME/go/bin/centrifugo"; do
    if [ -n "$c" ] && [ -x "$c" ]; then CENTRIFUGO_BIN="$c"; return 0; fi
  done
  CENTRIFUGO_SKIP="centrifugo not installed (go install github.com/centrifugal/centrifugo/v6@$CENTRIFUGO_VERSION, or CENTRIFUGO=/path/to/centrifugo)"
  return 1
}

# A go install from a module cache that holds the release already took 9 s here; from a
# cold cache it took 2 min 47 s and downloaded 1.1 GB of modules, which no smoke test should
# do unasked: then it fails and centrifugo_find's reason stands.
centrifugo_install_cached() {
  command -v go >/dev/null || return 1
  [ -d "$(go env GOMODCACHE)/github.com/centrifugal/centrifugo/v6@$CENTRIFUGO_VERSION" ] || return 1
  GOPROXY=off go install "github.com/centrifugal/centrifugo/v6@$CENTRIFUGO_VERSION" && centrifugo_find
}

# The release from the Go module proxy (network; a cold module cache: about 3 minutes and
# 1.1 GB here). deploy/dev/test calls it so that CI's peers smoke runs a real Centrifugo.
centrifugo_install() {
  command -v go >/dev/null || return 1
  timeout 900 go install "github.com/centrifugal/centrifugo/v6@$CENTRIFUGO_VERSION" && centrifugo_find
}

centrifugo_start() {
  local dir engine
  dir="$(mktemp -d)"
  CENTRIFUGO_DIR="$dir"
  CENTRIFUGO_PORT="$(free_port 18600)"
  engine='"type": "memory"'
  if [ "${CENTRIFUGO_ENGINE:-redis}" = redis ]; then
    engine="\"type\": \"redis\", \"redis\": {\"address\": [\"redis://127.0.0.1:$SPRING_DATA_REDIS_PORT\"], \"prefix\": \"chatdbench$CENTRIFUGO_PORT\"}"
  fi
  cat >"$dir/config.json" <<JSON
{
  "http_server": {"address": "127.0.0.1", "port": $CENTRIFUGO_PORT},
  "log": {"level": "error"},
  "health": {"enabled": true},
  "client": {"allow_anonymous_connect_without_token": true},
  "channel": {"without_namespace": {"allow_subscribe_for_client": true, "allow_subscribe_for_anonymous": true}},
  "http_api": {"insecure": true},
  "engine": {$engine}
}
JSON
  "${PIN_SERVER[@]}" "$CENTRIFUGO_BIN" -c "$dir/config.json" >"$dir/log" 2>&1 &
  CENTRIFUGO_PID=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$CENTRIFUGO_PORT/health" >/dev/null && return 0
    kill -0 "$CENTRIFUGO_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "centrifugo did not start; its log:" >&2
  cat "$dir/log" >&2
  return 1
}

centrifugo_stop() {
  if [ -n "$CENTRIFUGO_PID" ]; then
    kill "$CENTRIFUGO_PID" 2>/dev/null || true
    wait "$CENTRIFUGO_PID" 2>/dev/null || true
    CENTRIFUGO_PID=""
    rm -rf "$CENTRIFUGO_DIR"
  fi
}
