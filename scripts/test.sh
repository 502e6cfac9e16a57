#!/usr/bin/env bash
# The whole test suite: installs the Node Backstage test backend and the test OpenID Provider
# once (npm, ~3 min the first time), then runs every Rust test (unit, integration, interop
# with the real Backstage catalog and a real OpenID Provider).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tests/node-backstage/setup.sh
tests/idp/setup.sh
cargo test --all-targets "$@"
