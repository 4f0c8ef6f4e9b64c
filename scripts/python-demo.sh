#!/usr/bin/env bash
# The Python demo: builds corio into target/py-venvs/<version> (3.11 unless
# CORIO_PYTHON says otherwise) and runs `python -m corio.demo` with the
# arguments given (`--help` lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/release-venv.sh "${CORIO_PYTHON:-3.11}")
exec "$venv/bin/python" -m corio.demo "$@"
