#!/usr/bin/env bash
# The Python loop benchmarks in one command: builds corio (release) into its
# venv, uvloop, rloop and rsloop into a separate one (rsloop from its source
# package with a nightly Rust, installed by rustup: it uses allocator_api,
# and its wheels need a newer glibc than this machine's), then runs
# bench/python/run.py (the loop's own work, one core) and
# bench/python/echo_rate.py (echo servers under corio-bench's load
# generator, one core each) and bench/python/aiohttp_rate.py (aiohttp's
# hello world under wrk, one core each).
#
#   bench/python/run.sh [3.11] [--rounds 5]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
v=${1:-3.11}
shift || true
venv=$(scripts/release-venv.sh "$v")
py=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python3 | sort -V | tail -1)
uvenv="$root/target/py-venvs/$v-uvloop"
[ -x "$uvenv/bin/python" ] || "$py" -m venv "$uvenv"
"$uvenv/bin/pip" install -q "uvloop==0.23.0" "rloop==0.5.0" "aiohttp==3.14.5"
if ! "$uvenv/bin/python" -c "import rsloop" 2>/dev/null; then
    rustup toolchain install nightly --profile minimal >&2
    RUSTUP_TOOLCHAIN=nightly "$uvenv/bin/pip" install -q --no-binary rsloop "rsloop==0.1.9"
fi
"$venv/bin/pip" install -q "aiohttp==3.14.5"
command -v wrk >/dev/null || scripts/ensure-services.sh
cargo build --release -q -p corio-bench
peers=(--python asyncio="$uvenv/bin/python" --python uvloop="$uvenv/bin/python"
    --python rloop="$uvenv/bin/python" --python rsloop="$uvenv/bin/python"
    --python corio="$venv/bin/python" --python corio-uring="$venv/bin/python")
"$venv/bin/python" bench/python/run.py "${peers[@]}" "$@"
"$venv/bin/python" bench/python/echo_rate.py "${peers[@]}"
"$venv/bin/python" bench/python/aiohttp_rate.py "${peers[@]}"
