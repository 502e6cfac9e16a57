#!/usr/bin/env bash
# Idempotent one-time install of the test OpenID Provider (oidc-provider 9.13.3).
# npm ci (exact versions from package-lock.json, install scripts skipped) only when
# node_modules does not already hold the pinned version; then a smoke check (import).
# Needs: node 20+, npm. Writes only under this folder.
set -euo pipefail
H="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$H"

want="$(node -p "require('./package.json').dependencies['oidc-provider']")"
have="$(node -p "try { require('./node_modules/oidc-provider/package.json').version } catch { '' }" 2>/dev/null || true)"
if [ "$have" != "$want" ] || [ ! -f "$H/node_modules/.package-lock.json" ]; then
  echo "setup: npm ci (oidc-provider $want)"
  t0=$SECONDS
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  echo "setup: npm ci took $((SECONDS - t0)) s"
fi

node --input-type=module -e "
  const warn = console.warn; console.warn = (m, ...r) => { if (!String(m).includes('Unsupported runtime')) warn(m, ...r); };
  const { default: Provider } = await import('oidc-provider');
  if (typeof Provider !== 'function') throw new Error('oidc-provider did not load');
" && echo "setup ok: node $(node --version), oidc-provider $want"
