#!/usr/bin/env bash
# Makes (or reuses) target/py-venvs/VERSION, builds corio into it with
# --release (and, with --with-example, the example extension too), and
# prints the venv's path; build output goes to standard error. Used by the
# Python demo and benchmarks.
#
#   venv=$(scripts/release-venv.sh 3.11 [--with-example])
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
v=$1
py=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python3 2>/dev/null | sort -V | tail -1 || true)
[ -n "$py" ] || { echo "error: CPython $v is not installed (pyenv install $v)" >&2; exit 1; }
venv="$root/target/py-venvs/$v"
{
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    "$venv/bin/pip" install -q "maturin>=1.5,<2"
    (cd corio-py && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop -q --release)
    if [ "${2:-}" = --with-example ]; then
        (cd corio-py/examples/rust_ext && CARGO_TARGET_DIR="$root/target" \
            VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop -q --release)
    fi
} >&2
echo "$venv"
