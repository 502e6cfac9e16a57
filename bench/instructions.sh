#!/usr/bin/env bash
# User-space instructions per JWKS request, stagedoor against the bare server of bench/jwks.sh,
# counted by valgrind's callgrind: a figure the machine's load does not move, for comparing
# changes to the request path (throughput on a shared 2-core machine drifts by 10-20 %).
# The kernel's share (loopback TCP) is not counted.
#   bench/instructions.sh [seconds of load, default 3]      # needs valgrind, wrk, curl
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECONDS_EACH="${1:-3}"
for tool in valgrind wrk; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install $tool" >&2; exit 1; }
done
# Apart, as in bench/jwks.sh: the example's dev-dependencies would change the binary's features.
cargo build --release --quiet --example bare_jwks
cargo build --release --quiet --bin stagedoor
WORK="$(mktemp -d)"
PID=
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts one server under callgrind, loads it, prints the instructions per request.
measure() {
  local name="$1" port="$2" ready="$3"; shift 3
  valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.out" "$@" >/dev/null 2>"$WORK/$name.log" &
  PID=$!
  until curl -sf -o /dev/null "$ready"; do
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  local url="http://127.0.0.1:$port/api/auth/.well-known/jwks.json"
  wrk -t1 -c4 -d1s "$url" >/dev/null
  callgrind_control --zero "$PID" >/dev/null 2>&1
  local requests
  requests=$(wrk -t1 -c4 -d"${SECONDS_EACH}s" "$url" | awk '/requests in/ {print $1}')
  callgrind_control --dump=load "$PID" >/dev/null 2>&1
  curl -sf "$url" >"$WORK/$name.body"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  local instructions
  instructions=$(awk '/^(summary|totals):/ {print $2; exit}' "$WORK/$name.out".*)
  echo "$name: $((instructions / requests)) instructions per request ($requests requests)"
}

PORT=$(free_port)
printf 'stagedoor:\n  listen: { host: 127.0.0.1, port: %s }\n  database: %s/bench.sqlite\n' \
  "$PORT" "$WORK" >"$WORK/bench.yaml"
# Access logs on, as in bench/jwks.sh.
export RUST_LOG=info
measure stagedoor "$PORT" "http://127.0.0.1:$PORT/api/auth/guest/refresh" \
  target/release/stagedoor serve --config app-config.example.yaml --config "$WORK/bench.yaml"
BARE_PORT=$(free_port)
# The same body as stagedoor served.
measure bare "$BARE_PORT" "http://127.0.0.1:$BARE_PORT/" \
  target/release/examples/bare_jwks "$BARE_PORT" "$WORK/stagedoor.body"
