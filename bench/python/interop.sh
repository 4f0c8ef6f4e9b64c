#!/usr/bin/env bash
# The interop benchmark in one command: builds corio and the example
# extension (release) into target/py-venvs/<version>, then runs
# bench/python/interop.py.
#
#   bench/python/interop.sh [3.11] [--rounds 5]
set -euo pipefail
cd "$(dirname "$0")/../.."
v=${1:-3.11}
shift || true
venv=$(scripts/release-venv.sh "$v" --with-example)
"$venv/bin/python" bench/python/interop.py "$@"
