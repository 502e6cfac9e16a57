#!/usr/bin/env bash
# OIDC /refresh latency against the real test OpenID Provider, with the IdP's own round trip
# measured separately (tests/api/bench_oidc_refresh.rs, release build). Loopback only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tests/idp/setup.sh >/dev/null
cargo test --release --quiet --test api bench_oidc_refresh -- --ignored --nocapture 2>&1 | grep -v '^running\|^test \|^$'
