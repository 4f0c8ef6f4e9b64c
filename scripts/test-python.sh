#!/usr/bin/env bash
# The Python front on every supported CPython: build the extension into a
# fresh virtual environment per version, run its pytest tests, then CPython's
# own asyncio tests on corio's loop, held to the stock loop's pass list;
# all of it once on epoll and once on io_uring (CORIO_IO_BACKEND).
#
#   scripts/test-python.sh            # 3.10, 3.11, 3.12, 3.13
#   scripts/test-python.sh 3.11       # one version (the fast subset)
set -euo pipefail
cd "$(dirname "$0")/.."
versions=("$@")
[ ${#versions[@]} -eq 0 ] && versions=(3.10 3.11 3.12 3.13)
root=$(pwd)
for v in "${versions[@]}"; do
    py=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python3 2>/dev/null | sort -V | tail -1 || true)
    if [ -z "$py" ]; then
        echo "error: CPython $v is not installed (pyenv install $v); corio's Python front is tested on 3.10-3.13" >&2
        exit 1
    fi
    venv="$root/target/py-venvs/$v"
    if [ ! -x "$venv/bin/python" ]; then
        "$py" -m venv "$venv"
        "$venv/bin/pip" install -q --upgrade pip
    fi
    # uvloop is deliberately absent: libraries would prefer it to corio.
    "$venv/bin/pip" install -q "maturin>=1.5,<2" pytest
    (cd corio-py && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop -q)
    # The example extension that awaits across Rust and Python (built on its
    # own, against corio-ext, as a user's extension is).
    (cd corio-py/examples/rust_ext && CARGO_TARGET_DIR="$root/target" \
        VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop -q)
    # The libraries people run on asyncio, on corio's loop, with real
    # servers (PostgreSQL, wrk): pinned per version, tested on 3.11 and 3.13.
    libs=false
    if [ "$v" = 3.11 ] || [ "$v" = 3.13 ]; then
        libs=true
        scripts/ensure-services.sh
        "$venv/bin/pip" install -q -r corio-py/tests/libs/requirements.txt \
            -c "corio-py/tests/libs/constraints-$v.txt"
    fi
    # Everything runs on each I/O backend (test_io_backend.py asserts which).
    for backend in epoll io_uring; do
        export CORIO_IO_BACKEND=$backend
        echo "== Python $v ($backend): pytest"
        (cd "$root/target" && "$venv/bin/python" -m pytest -q -p no:cacheprovider \
            --ignore="$root/corio-py/tests/libs" "$root/corio-py/tests")
        if $libs; then
            echo "== Python $v ($backend): aiohttp, httpx, hypercorn, websockets, asyncpg, uvicorn, dask on corio"
            (cd "$root/target" && "$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/corio-py/tests/libs")
        fi
        echo "== Python $v ($backend): CPython's test_asyncio on corio"
        out="$root/target/conformance-$v.json"
        [ "$backend" = epoll ] || out="$root/target/conformance-$v-$backend.json"
        (cd "$root/target" && "$venv/bin/python" "$root/corio-py/conformance/run.py" --json "$out")
        "$venv/bin/python" corio-py/conformance/compare.py "$out" "corio-py/conformance/expected/stock-$v.json"
    done
    unset CORIO_IO_BACKEND
done
