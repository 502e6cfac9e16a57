#!/usr/bin/env bash
# Refresh and userinfo throughput on PostgreSQL versus embedded SQLite (wrk on loopback).
# Guest refresh signs a token and keeps the user_info row current (written only when it
# changes); userinfo reads that row on every request, so it shows the store's own cost.
# Usage: bench/postgres.sh [seconds per run, default 10]. Needs wrk, curl, python3 and
# PostgreSQL's server binaries (apt-get install postgresql wrk); a throwaway cluster is made
# in a temporary directory (as user postgres when run as root) and removed afterwards.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DURATION="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
PG_BIN="${STAGEDOOR_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL is missing: apt-get install postgresql" >&2; exit 1; }
cargo build --release --quiet
BIN=target/release/stagedoor
WORK="$(mktemp -d)"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A cluster with default durability settings (fsync on), as a real deployment has.
PG_PORT=$(free_port)
[ "$(id -u)" = 0 ] && chown postgres "$WORK"
echo bench-password >"$WORK/pw"
as_pg "$PG_BIN/initdb" -D "$WORK/pg" -U stagedoor --pwfile="$WORK/pw" --auth-host=scram-sha-256 --auth-local=trust >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w \
  -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$WORK" start >/dev/null

run() { # label path connections [header]
  local out rps p50 p99 errors
  out=$(wrk -t2 -c"$3" -d"${DURATION}s" --latency ${4:+-H "$4"} "$BASE$2")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
  printf '%-8s %-14s c=%-3s %10s req/s   p50 %-9s p99 %-9s %s\n' "$STORE" "$1" "$3" "$rps" "$p50" "$p99" "$errors"
}

bench_store() { # label database
  STORE="$1"
  local port
  port=$(free_port)
  cat >"$WORK/bench.yaml" <<YAML
stagedoor:
  listen: { host: 127.0.0.1, port: $port }
  database: $2
YAML
  BASE="http://127.0.0.1:$port/api/auth"
  RUST_LOG=warn "$BIN" serve --config app-config.example.yaml --config "$WORK/bench.yaml" 2>"$WORK/server-$1.log" &
  PID=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)" = 200 ]; do
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/server-$1.log"; exit 1; }
    sleep 0.01
  done
  local token
  token=$(curl -s "$BASE/guest/refresh" | python3 -c 'import json,sys; print(json.load(sys.stdin)["backstageIdentity"]["token"])')
  for connections in 2 16; do
    run "guest refresh" /guest/refresh "$connections"
    run "userinfo" /v1/userinfo "$connections" "Authorization: Bearer $token"
  done
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
}

bench_store sqlite "$WORK/bench.sqlite"
bench_store postgres "postgres://stagedoor:bench-password@127.0.0.1:$PG_PORT/stagedoor"
