#!/usr/bin/env bash
# Token exchanges per second (POST /api/auth/v1/token) with a warm JWKS cache, for an RS256
# client-credentials token of the real test OpenID Provider (tests/api/bench_token_exchange.rs,
# release build). Load generator and server share the machine; loopback only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tests/idp/setup.sh >/dev/null
cargo test --release --quiet --test api bench_token_exchange -- --ignored --nocapture 2>&1 | grep -v '^running\|^test \|^$'
