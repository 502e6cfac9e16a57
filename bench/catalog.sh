#!/usr/bin/env bash
# Guest refresh resolving through the real Backstage catalog (tests/node-backstage) with a
# warm cache: req/s, latency, and how many catalog requests the load caused (counted from
# the catalog's own request log). Usage: bench/catalog.sh [seconds, default 10].
# Needs wrk, and tests/node-backstage/setup.sh to have run. Loopback only, bounded in time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DURATION="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
[ -d tests/node-backstage/node_modules ] || { echo "run tests/node-backstage/setup.sh first" >&2; exit 1; }
cargo build --release --quiet
WORK="$(mktemp -d)"
trap 'kill $SD_PID $NODE_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SD_PORT=$(free_port); NODE_PORT=$(free_port)
cat >"$WORK/bench.yaml" <<YAML
stagedoor:
  listen: { host: 127.0.0.1, port: $SD_PORT }
  database: $WORK/bench.sqlite
  catalog: { baseUrl: "http://127.0.0.1:$NODE_PORT/api/catalog", cacheTtl: 30s }
YAML
RUST_LOG=warn target/release/stagedoor serve --config app-config.example.yaml --config "$WORK/bench.yaml" 2>"$WORK/stagedoor.log" &
SD_PID=$!
(cd tests/node-backstage && LOG_LEVEL=info BACKEND_PORT=$NODE_PORT STAGEDOOR_AUTH_URL="http://127.0.0.1:$SD_PORT/api/auth" \
  exec node index.js --config app-config.yaml >"$WORK/node.log" 2>&1) &
NODE_PID=$!
for _ in $(seq 1 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer interop-static-token-0123456789abcdef' \
      "http://127.0.0.1:$NODE_PORT/api/catalog/entities/by-name/user/development/guest" || true)" = 200 ] && break
  sleep 0.1
done
BASE="http://127.0.0.1:$SD_PORT/api/auth"
curl -s "$BASE/guest/refresh" | grep -q '"group:default/team-a"' || { echo "guest did not resolve through the catalog" >&2; exit 1; }
lookups() { grep -c 'entities/by-name/user/development/guest' "$WORK/node.log" || true; }
before=$(lookups)
echo "catalog lookups before the load (warm-up): $before"
for connections in 2 16; do
  out=$(wrk -t2 -c"$connections" -d"${DURATION}s" --latency "$BASE/guest/refresh")
  printf 'guest refresh via catalog c=%-3s %10s req/s   p50 %-9s p99 %-9s\n' "$connections" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
    "$(awk '$1 == "99%" {print $2}' <<<"$out")"
  total=$(awk '/requests in/ {print $1}' <<<"$out"); echo "  requests: $total"
done
sleep 1
echo "catalog lookups caused by the load: $(( $(lookups) - before ))"
