#!/usr/bin/env bash
# JWKS throughput against its ceiling: stagedoor's /.well-known/jwks.json (access logs on, at
# the default info level, written to a file) and a bare axum server (examples/bare_jwks.rs)
# answering the same JSON body, on the same machine, in turns (stagedoor, bare, stagedoor, ...)
# so drifting machine load hits both alike. Prints each pair and its ratio.
#   bench/jwks.sh [seconds per run, default 10] [rounds, default 3] [connections, default 16]
# Needs wrk (apt-get install wrk) and curl. Loopback only; every run is bounded in time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DURATION="${1:-10}"
ROUNDS="${2:-3}"
CONNECTIONS="${3:-16}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
# Apart: built together, the example's dev-dependencies would change the features, and so the
# code and the link order (build.rs), of the stagedoor binary measured here.
cargo build --release --quiet --example bare_jwks
cargo build --release --quiet --bin stagedoor
WORK="$(mktemp -d)"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
BARE_PORT=$(free_port)
printf 'stagedoor:\n  listen: { host: 127.0.0.1, port: %s }\n  database: %s/bench.sqlite\n' \
  "$PORT" "$WORK" >"$WORK/bench.yaml"
RUST_LOG=info target/release/stagedoor serve --config app-config.example.yaml \
  --config "$WORK/bench.yaml" >/dev/null 2>"$WORK/server.log" &
PIDS+=($!)
BASE="http://127.0.0.1:$PORT/api/auth"
until curl -sf -o /dev/null "$BASE/guest/refresh"; do sleep 0.01; done   # the first key
curl -sf "$BASE/.well-known/jwks.json" >"$WORK/jwks.json"
target/release/examples/bare_jwks "$BARE_PORT" "$WORK/jwks.json" &
PIDS+=($!)
until curl -sf -o /dev/null "http://127.0.0.1:$BARE_PORT/"; do sleep 0.01; done

rps() { wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "$1" | awk '/Requests\/sec/ {print int($2)}'; }
echo "wrk -t1 -c$CONNECTIONS -d${DURATION}s; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %12s %12s %7s\n' round stagedoor bare ratio
total_ours=0
total_bare=0
ratios=()
for round in $(seq "$ROUNDS"); do
  ours=$(rps "$BASE/.well-known/jwks.json")
  bare=$(rps "http://127.0.0.1:$BARE_PORT/api/auth/.well-known/jwks.json")
  printf '%-6s %12s %12s %6s%%\n' "$round" "$ours" "$bare" "$(( 100 * ours / bare ))"
  total_ours=$(( total_ours + ours ))
  total_bare=$(( total_bare + bare ))
  ratios+=("$(( 1000 * ours / bare ))")
done
# The whole run (every request of both) and the median round: single rounds swing by 10-20
# points on a shared machine.
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{r[NR]=$1} END {m = NR % 2 ? r[(NR+1)/2] : (r[NR/2] + r[NR/2+1]) / 2; printf "%.1f", m / 10}')
printf 'whole run: %s%% of the bare server; median round: %s%%\n' \
  "$(awk -v o="$total_ours" -v b="$total_bare" 'BEGIN {printf "%.1f", 100 * o / b}')" "$median"
lines=$(grep -c 'stagedoor::access' "$WORK/server.log" || true)
echo "access log lines written: $lines; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
