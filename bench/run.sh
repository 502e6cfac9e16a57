#!/usr/bin/env bash
# Load benchmark of stagedoor on loopback: guest refresh and JWKS at 2 and 16 connections
# (wrk), RSS after the load, and cold start from spawn to the first JWKS 200.
# Usage: bench/run.sh [seconds per run, default 10]. Needs wrk (apt-get install wrk) and curl.
# All traffic goes to 127.0.0.1 only; every run is bounded in time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DURATION="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
BIN=target/release/stagedoor
WORK="$(mktemp -d)"
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/bench.yaml" <<YAML
stagedoor:
  listen: { host: 127.0.0.1, port: $PORT }
  database: $WORK/bench.sqlite
YAML
BASE="http://127.0.0.1:$PORT/api/auth"

# Cold start: spawn to the first 200 from the JWKS endpoint.
t0=$(date +%s%N)
RUST_LOG=warn "$BIN" serve --config app-config.example.yaml --config "$WORK/bench.yaml" 2>"$WORK/server.log" &
PID=$!
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/.well-known/jwks.json" || true)" = 200 ]; do
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
  sleep 0.001
done
t1=$(date +%s%N)
echo "cold start to first JWKS 200: $(( (t1 - t0) / 1000000 )) ms"
echo "RSS idle: $(awk '/VmRSS/ {print $2, $3}' /proc/$PID/status)"
curl -s "$BASE/guest/refresh" >/dev/null   # first token: creates and publishes the key

run() { # name path connections
  local threads=$(( $3 < 2 ? 1 : 2 ))
  local out
  out=$(wrk -t"$threads" -c"$3" -d"${DURATION}s" --latency "$BASE$2")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  local errors
  errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
  printf '%-14s c=%-3s %10s req/s   p50 %-9s p99 %-9s %s\n' "$1" "$3" "$rps" "$p50" "$p99" "$errors"
}
for connections in 2 16; do
  run "guest refresh" /guest/refresh "$connections"
  run "jwks" /.well-known/jwks.json "$connections"
done
echo "RSS after load: $(awk '/VmRSS/ {print $2, $3}' /proc/$PID/status)"
