#!/usr/bin/env bash
# Guest-refresh throughput of two builds, in pairs (farm-bench alternates A and B, so a drift in
# machine load hits both): A is this tree's release build, B a baseline binary, e.g. main's:
#   git worktree add /tmp/main main && (cd /tmp/main && cargo build --release)
#   bench/refresh.sh /tmp/main/target/release/stagedoor [runs, default 5] [seconds, default 5]
# TRACING=1 also runs A with OTLP export on (to a bare local sink, examples/bare_jwks.rs) against
# A with export off. Prints req/s at 2 and 16 connections and RSS after the load, per run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BASELINE="$1"; RUNS="${2:-5}"; SECONDS_EACH="${3:-5}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v farm-bench >/dev/null || { echo "farm-bench is missing" >&2; exit 1; }
cargo build --release --quiet --bin stagedoor --example bare_jwks
WORK="$(mktemp -d)"
SINK=
trap 'kill "$SINK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
ours="$PWD/target/release/stagedoor"
timeout=$(( RUNS * 2 * (2 * SECONDS_EACH + 8) + 60 ))
summary() { # label file
  awk -v label="$1" '{ c2[NR]=$1; c16[NR]=$2; rss[NR]=$3 }
    END { printf "%-22s c=2: %s   c=16: %s   RSS KiB: %s\n", label, join(c2), join(c16), join(rss) }
    function join(a,   s, i) { s = ""; for (i = 1; i <= NR; i++) s = s (i > 1 ? " " : "") a[i]; return s }' "$2"
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
farm-bench -n "$RUNS" --warmup 0 --timeout "$timeout" \
  --vs "bench/refresh_once.sh $BASELINE $WORK/base $SECONDS_EACH" \
  -- bench/refresh_once.sh "$ours" "$WORK/ours" "$SECONDS_EACH" >/dev/null
summary "this tree" "$WORK/ours"
summary "baseline" "$WORK/base"
if [ "${TRACING:-0}" = 1 ]; then
  : >"$WORK/empty"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  target/release/examples/bare_jwks "$port" "$WORK/empty" &
  SINK=$!
  farm-bench -n "$RUNS" --warmup 0 --timeout "$timeout" \
    --vs "bench/refresh_once.sh $ours $WORK/off $SECONDS_EACH" \
    -- bench/refresh_once.sh "$ours" "$WORK/on" "$SECONDS_EACH" \
       OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$port" >/dev/null
  summary "tracing on (OTLP)" "$WORK/on"
  summary "tracing off" "$WORK/off"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
