#!/usr/bin/env bash
# Regenerates link/symbol-order.txt: the functions stagedoor runs when it starts and serves its
# common requests, which the release link (build.rs) places side by side at the front of .text.
# The kernel maps an executable's code 64 KiB around each page first run, so code that runs
# scattered over the binary keeps most of .text resident; packed together it keeps a fraction
# (README, "Memory"). Run it after large changes; a stale list only packs less, it never breaks
# the build (names it no longer finds are skipped).
#   scripts/link-order.sh            # needs valgrind (apt-get install valgrind), curl, python3
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v valgrind >/dev/null || { echo "link-order: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
# The same profile as the release, so the same symbol names, with the symbols kept.
STAGEDOOR_KEEP_SYMBOLS=1 cargo build --release --quiet
BIN=target/release/stagedoor
WORK="$(mktemp -d)"
PID=
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'stagedoor:\n  listen: { host: 127.0.0.1, port: %s }\n  database: %s/train.sqlite\n' \
  "$PORT" "$WORK" >"$WORK/train.yaml"
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$WORK/callgrind.out" \
  "$BIN" serve --config app-config.example.yaml --config "$WORK/train.yaml" 2>"$WORK/server.log" &
PID=$!
BASE="http://127.0.0.1:$PORT/api/auth"
until curl -sf -o /dev/null "$BASE/.well-known/jwks.json"; do
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.2
done
# Start-up so far goes in a part of its own; what follows is what requests run.
callgrind_control --dump=startup "$PID" >/dev/null 2>&1
# The requests of a running deployment: sign-in, refresh, the keys, user info, health, errors.
for _ in $(seq 1 20); do
  token=$(curl -sf -H 'X-Requested-With: XMLHttpRequest' "$BASE/guest/refresh" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["backstageIdentity"]["token"])')
  curl -sf -o /dev/null -X POST -H 'X-Requested-With: XMLHttpRequest' "$BASE/guest/refresh"
  curl -sf -o /dev/null "$BASE/.well-known/jwks.json"
  curl -sf -o /dev/null "$BASE/.well-known/openid-configuration"
  curl -sf -o /dev/null -H "Authorization: Bearer $token" "$BASE/v1/userinfo"
  curl -s -o /dev/null -H "Authorization: Bearer x$token" "$BASE/v1/userinfo"
  curl -s -o /dev/null "$BASE/nope/start"
  curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"
  curl -s -o /dev/null "http://127.0.0.1:$PORT/readyz"
  curl -s -o /dev/null -X POST -H 'X-Requested-With: XMLHttpRequest' "$BASE/guest/logout"
done
kill -TERM "$PID"
wait "$PID" || true
PID=
# What requests run first, the busiest first (their instructions on the fewest pages), then
# what only start-up runs.
python3 - "$WORK"/callgrind.out.*[0-9] "$WORK/callgrind.out" >link/symbol-order.txt <<'PY'
import re, sys
from collections import Counter

def functions(path):
    """Every function a callgrind part names (called or run), with its own instruction count."""
    names, own, current, skip = {}, Counter(), None, False
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        named = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if named:
            kind, ident, name = named.groups()
            if name:
                names[ident] = name
            if kind == "fn":
                current = names.get(ident)
            own[names.get(ident)] += 0
        elif line.startswith("calls="):
            skip = True  # the next line is the call's inclusive cost
        elif re.match(r"[-+*0-9]", line) and current:
            if not skip:
                own[current] += int(line.split()[-1])
            skip = False
    own.pop(None, None)
    return own

*startup, requests = sys.argv[1:]
served = functions(requests)
order = [name for name, _ in served.most_common()]
for part in startup:
    order += sorted(functions(part).keys() - served.keys())
for name in dict.fromkeys(order):
    if not name.startswith("0x"):
        print(name)
PY
echo "link-order: $(wc -l <link/symbol-order.txt) functions in link/symbol-order.txt"
