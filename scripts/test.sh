#!/usr/bin/env bash
# The whole test suite: installs the Node Backstage test backend once (npm, ~2 min the first
# time), then runs every Rust test (unit, integration, interop with the real Backstage catalog).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tests/node-backstage/setup.sh
cargo test --all-targets "$@"
