#!/usr/bin/env bash
# All tests: the Rust workspace, then the Python front on CPython 3.10-3.13
# (pytest and CPython's asyncio conformance modules).
set -euo pipefail
cd "$(dirname "$0")/.."
# PostgreSQL (the tokio-postgres test starts a server of its own) and wrk.
scripts/ensure-services.sh
cargo test --workspace --all-features
# The HTTP example serves, asks itself, and shuts down gracefully.
cargo run -q -p corio --features http --example http_serve -- --self-test
cargo run -q -p corio --features http --example websocket -- --self-test
cargo run -q -p corio --features http --example http_get -- --self-test | tail -1
cargo run -q -p corio --example per_core -- --self-test
cargo run -q -p corio --example channels | tail -1
scripts/test-python.sh
