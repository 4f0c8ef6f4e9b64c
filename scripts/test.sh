#!/usr/bin/env bash
# All tests: the Rust workspace, then the Python front on CPython 3.10-3.13
# (pytest and CPython's asyncio conformance modules), each on both I/O
# backends (epoll, io_uring).
set -euo pipefail
cd "$(dirname "$0")/.."
# PostgreSQL (the tokio-postgres test starts a server of its own) and wrk.
scripts/ensure-services.sh
cargo test --workspace --all-features
# Every Rust test again on the io_uring backend (tests/io_backend.rs asserts
# that it is the one running).
CORIO_IO_BACKEND=io_uring cargo test --workspace --all-features
# The task reference-count tests once more under valgrind's memcheck, where
# a cell freed early or twice is an invalid access.
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
waker_refs=$(cargo test -q -p corio --all-features --test waker_refs --no-run --message-format=json |
    python3 -c 'import json, sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable")][0])')
valgrind -q --tool=memcheck --error-exitcode=9 "$waker_refs" --test-threads=1 | grep "test result"
# The HTTP example serves, asks itself, and shuts down gracefully.
cargo run -q -p corio --features http --example http_serve -- --self-test
cargo run -q -p corio --features http --example websocket -- --self-test
cargo run -q -p corio --features http --example http_get -- --self-test | tail -1
cargo run -q -p corio --example per_core -- --self-test
cargo run -q -p corio --example channels | tail -1
scripts/test-python.sh
