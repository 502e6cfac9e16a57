#!/usr/bin/env bash
# The whole test suite: installs the Node Backstage test backend, the test OpenID Provider and
# the real OAuth clients (the Backstage CLI's auth module, the MCP SDK) once (npm, ~3 min the
# first time), then runs every Rust test (unit, integration, interop with the real Backstage
# catalog, a real OpenID Provider and the real CLI and MCP clients).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tests/node-backstage/setup.sh
tests/idp/setup.sh
tests/clients/setup.sh
# A failing test's message first: a backtrace (RUST_BACKTRACE=1 from the caller) is long enough
# to push it out of a CI log's excerpt. STAGEDOOR_TEST_BACKTRACE=1 brings backtraces back.
RUST_BACKTRACE="${STAGEDOOR_TEST_BACKTRACE:-0}" cargo test --all-targets "$@"
