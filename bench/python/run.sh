#!/usr/bin/env bash
# The Python loop benchmark in one command: builds corio (release) into its
# venv, uvloop into a separate one, and runs bench/python/run.py.
#
#   bench/python/run.sh [3.11] [--rounds 5]
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
uvenv="$root/target/py-venvs/$v-uvloop"
[ -x "$uvenv/bin/python" ] || "$py" -m venv "$uvenv"
"$uvenv/bin/pip" install -q "uvloop==0.23.0"
"$venv/bin/python" bench/python/run.py --python asyncio="$uvenv/bin/python" \
    --python uvloop="$uvenv/bin/python" --python corio="$venv/bin/python" "$@"
