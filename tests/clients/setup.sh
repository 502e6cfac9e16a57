#!/usr/bin/env bash
# Idempotent install of the real OAuth clients that the integration tests drive (README.md):
# @backstage/cli-module-auth (the Backstage CLI's `auth` commands) and @modelcontextprotocol/sdk,
# exact versions from package-lock.json. `npm ci` runs only when node_modules does not hold the
# pinned versions. Install scripts are skipped and optional dependencies left out (keytar, a
# native keychain binding: without it the CLI keeps its tokens in files under XDG_DATA_HOME,
# which is what the driver reads). About 10-30 s with a warm npm cache. Needs node 20+ and npm.
# Writes only under this folder.
set -euo pipefail
H="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$H"

pinned() { node -p "const p=require('./package.json').dependencies; Object.entries(p).map(([n,v])=>n+'@'+v).join(' ')"; }
installed() {
  node -p "const p=require('./package.json').dependencies; Object.keys(p).map(n=>{try{return n+'@'+require('./node_modules/'+n+'/package.json').version}catch{return n+'@none'}}).join(' ')" 2>/dev/null || true
}
if [ "$(pinned)" != "$(installed)" ] || [ ! -f "$H/node_modules/.package-lock.json" ]; then
  echo "setup: npm ci ($(pinned))"
  t0=$SECONDS
  npm ci --no-audit --no-fund --ignore-scripts --omit=optional --loglevel=error
  echo "setup: npm ci took $((SECONDS - t0)) s"
fi

node --input-type=module -e "
  await import('@modelcontextprotocol/sdk/client/auth.js');
  await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
" && node node_modules/@backstage/cli-module-auth/bin/backstage-cli-module-auth --version >/dev/null \
  && echo "setup ok: node $(node --version), $(installed)"
