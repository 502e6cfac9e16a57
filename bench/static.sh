#!/usr/bin/env bash
# The container's static binary (scripts/image.sh: glibc and its allocator linked in) against
# the normal dynamic release build, side by side: guest refresh and JWKS with wrk on loopback,
# RSS after the load. Each binary serves the example config on embedded SQLite.
#   bench/static.sh [seconds] [rounds]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DURATION="${1:-10}"
ROUNDS="${2:-2}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
scripts/image.sh >/dev/null 2>&1
host="$(rustc -vV | sed -n 's/^host: //p')"
WORK="$(mktemp -d)"
PID=
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

measure() { # name binary
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -f "$WORK"/bench.sqlite*
  printf 'stagedoor:\n  listen: { host: 127.0.0.1, port: %s }\n  database: %s/bench.sqlite\n' \
    "$port" "$WORK" >"$WORK/bench.yaml"
  RUST_LOG=warn "$2" serve --config app-config.example.yaml --config "$WORK/bench.yaml" \
    >/dev/null 2>"$WORK/server.log" &
  PID=$!
  local base="http://127.0.0.1:$port/api/auth"
  until curl -sf -o /dev/null "$base/guest/refresh"; do
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
    sleep 0.01
  done
  local line="$1"
  for path in /guest/refresh /.well-known/jwks.json; do
    for connections in 2 16; do
      local rps
      rps=$(wrk -t2 -c"$connections" -d"${DURATION}s" "$base$path" | awk '/Requests\/sec/ {print $2}')
      line+=$(printf ' %10s' "${rps%.*}")
    done
  done
  line+=$(printf ' %8s' "$(awk '/VmRSS/ {print $2}' /proc/$PID/status)")
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  echo "$line"
}

printf '%-8s %10s %10s %10s %10s %8s\n' build "refresh/2" "refresh/16" "jwks/2" "jwks/16" "RSS KiB"
for _ in $(seq "$ROUNDS"); do
  measure "dynamic" target/release/stagedoor
  measure "static " "target/$host/release/stagedoor"
done
