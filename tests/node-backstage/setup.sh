#!/usr/bin/env bash
# Idempotent one-time install of the Node Backstage test backend (catalog, and the real auth
# plugin with its provider modules for the differential tests).
#  1. npm ci (exact versions from package-lock.json) if node_modules is missing or was installed
#     from another package-lock.json (its sha256 is kept in node_modules/.stagedoor-lock). Install scripts
#     are skipped on purpose: npm 11 skips them anyway, and on older npm better-sqlite3's script
#     would try to download a prebuilt binary / Node headers from the internet.
#  2. Compile better-sqlite3 with npm's bundled node-gyp against the local Node headers if its
#     native module is missing (no prebuilt binary download).
#  3. Smoke check: load better-sqlite3 and the Backstage packages.
# Needs: node 20+, npm, python3, make, g++. Writes only under this folder.
set -euo pipefail
H="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$H"
mkdir -p "$H/run"

LOCK_SUM="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat "$H/node_modules/.stagedoor-lock" 2>/dev/null || true)" != "$LOCK_SUM" ]; then
  echo "setup: npm ci"
  t0=$SECONDS
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  echo "$LOCK_SUM" >"$H/node_modules/.stagedoor-lock"
  echo "setup: npm ci took $((SECONDS - t0)) s"
fi

BSQ="$H/node_modules/better-sqlite3"
if [ ! -f "$BSQ/build/Release/better_sqlite3.node" ]; then
  # Node headers: the prefix of the running node (e.g. /usr for Debian's nodejs, whose headers
  # are in /usr/include/node). Without them node-gyp would try to download them.
  NODE_PREFIX="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  NODEDIR=""
  for d in "${NODEDIR_OVERRIDE:-}" "$NODE_PREFIX" /usr /usr/local; do
    if [ -n "$d" ] && [ -f "$d/include/node/node.h" ]; then NODEDIR="$d"; break; fi
  done
  [ -n "$NODEDIR" ] || echo "setup: warning: Node headers not found locally; node-gyp will try to download them" >&2
  # node-gyp bundled with npm (npm/node_modules/node-gyp); fall back to one on PATH.
  NPM_DIR="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  NG="$NPM_DIR/node_modules/node-gyp/bin/node-gyp.js"
  if [ -f "$NG" ]; then NG_CMD=(node "$NG"); elif command -v node-gyp >/dev/null; then NG_CMD=(node-gyp);
  else echo "setup: node-gyp not found (expected $NG)" >&2; exit 1; fi
  echo "setup: building better-sqlite3 (node-gyp, nodedir=${NODEDIR:-<download>}, log: run/better-sqlite3-build.log)"
  t0=$SECONDS
  if ! (cd "$BSQ" && "${NG_CMD[@]}" rebuild --release ${NODEDIR:+--nodedir="$NODEDIR"} \
          --jobs="$(nproc 2>/dev/null || echo 2)" >"$H/run/better-sqlite3-build.log" 2>&1); then
    tail -n 30 "$H/run/better-sqlite3-build.log" >&2
    echo "setup: better-sqlite3 build failed" >&2
    exit 1
  fi
  echo "setup: better-sqlite3 build took $((SECONDS - t0)) s"
fi

node -e "
  new (require('better-sqlite3'))(':memory:').prepare('select 1').get();
  require.resolve('@backstage/backend-defaults');
  require.resolve('@backstage/plugin-catalog-backend');
  require.resolve('@backstage/plugin-auth-backend');
  for (const m of Object.keys(require('./package.json').dependencies)) require.resolve(m);
" && echo "setup ok: node $(node --version), better-sqlite3 $(node -p "require('better-sqlite3/package.json').version")"
