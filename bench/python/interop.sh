#!/usr/bin/env bash
# The interop benchmark in one command: builds corio and the example
# extension (release) into target/py-venvs/<version>, then runs
# bench/python/interop.py.
#
#   bench/python/interop.sh [3.11] [--rounds 5]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
v=${1:-3.11}
shift || true
py=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python3 2>/dev/null | sort -V | tail -1 || true)
[ -n "$py" ] || { echo "error: CPython $v is not installed" >&2; exit 1; }
venv="$root/target/py-venvs/$v"
[ -x "$venv/bin/python" ] || { "$py" -m venv "$venv"; "$venv/bin/pip" install -q "maturin>=1.5,<2"; }
(cd corio-py && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop -q --release)
(cd corio-py/examples/rust_ext && CARGO_TARGET_DIR="$root/target" \
    VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop -q --release)
"$venv/bin/python" bench/python/interop.py "$@"
