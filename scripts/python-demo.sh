#!/usr/bin/env bash
# The Python demo: builds corio into target/py-venvs/<version> (3.11 unless
# CORIO_PYTHON says otherwise) and runs `python -m corio.demo` with the
# arguments given (`--help` lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
v=${CORIO_PYTHON:-3.11}
py=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python3 2>/dev/null | sort -V | tail -1 || true)
[ -n "$py" ] || { echo "error: CPython $v is not installed (pyenv install $v)" >&2; exit 1; }
venv="$(pwd)/target/py-venvs/$v"
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
"$venv/bin/pip" install -q "maturin>=1.5,<2"
(cd corio-py && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop -q --release) >&2
exec "$venv/bin/python" -m corio.demo "$@"
