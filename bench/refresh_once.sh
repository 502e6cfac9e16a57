#!/usr/bin/env bash
# One measurement for bench/refresh.sh: starts BINARY on the example config (embedded SQLite,
# RUST_LOG=warn as bench/run.sh), one guest sign-in, then guest refresh with wrk at 2 and 16
# connections for SECONDS each; appends "c2 c16" (req/s) and the RSS after the load (KiB) to OUT.
#   bench/refresh_once.sh BINARY OUT [SECONDS] [extra environment, e.g. OTEL_EXPORTER_OTLP_ENDPOINT=...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN="$1"; OUT="$2"; SECONDS_EACH="${3:-5}"; shift 3 || shift $#
WORK="$(mktemp -d)"
PID=
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'stagedoor:\n  listen: { host: 127.0.0.1, port: %s }\n  database: %s/bench.sqlite\n' \
  "$PORT" "$WORK" >"$WORK/bench.yaml"
env RUST_LOG=warn "$@" "$BIN" serve --config app-config.example.yaml --config "$WORK/bench.yaml" \
  >/dev/null 2>"$WORK/server.log" &
PID=$!
BASE="http://127.0.0.1:$PORT/api/auth"
until curl -sf -o /dev/null "$BASE/guest/refresh"; do
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.01
done
line=""
for connections in 2 16; do
  threads=$(( connections < 2 ? 1 : 2 ))
  rps=$(wrk -t"$threads" -c"$connections" -d"${SECONDS_EACH}s" "$BASE/guest/refresh" | awk '/Requests\/sec/ {print int($2)}')
  line+="$rps "
done
echo "$line$(awk '/VmRSS/ {print $2}' /proc/$PID/status)" >>"$OUT"
