#!/usr/bin/env bash
# Re-records the conformance baselines (not part of CI; run it when CPython,
# the module list or uvloop changes): per Python version, the stock loop's
# pass list (three runs: a test counts only if it passes in all three), one
# run of uvloop's loop and one of corio's, then rewrites the table in the
# README from them.
#
#   scripts/record-conformance.sh            # 3.10, 3.11, 3.12, 3.13
#   scripts/record-conformance.sh 3.11
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
conf="$root/corio-py/conformance"
versions=("$@")
[ ${#versions[@]} -eq 0 ] && versions=(3.10 3.11 3.12 3.13)
for v in "${versions[@]}"; do
    py=$(ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python3 2>/dev/null | sort -V | tail -1 || true)
    [ -n "$py" ] || { echo "error: CPython $v is not installed" >&2; exit 1; }
    # corio's venv (made by scripts/test-python.sh) and uvloop's, apart:
    # corio's must never have uvloop installed.
    venv="$root/target/py-venvs/$v"
    [ -x "$venv/bin/python" ] || scripts/test-python.sh "$v"
    (cd corio-py && VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" maturin develop -q --release)
    uvenv="$root/target/py-venvs/$v-uvloop"
    [ -x "$uvenv/bin/python" ] || "$py" -m venv "$uvenv"
    "$uvenv/bin/pip" install -q "uvloop==0.23.0"
    cd "$root/target"
    for i in 1 2 3; do
        "$venv/bin/python" "$conf/run.py" --loop stock --json "stock-$v-$i.json"
    done
    "$venv/bin/python" "$conf/record_stock.py" "$v" stock-"$v"-{1,2,3}.json
    "$uvenv/bin/python" "$conf/run.py" --loop uvloop --json "$conf/expected/uvloop-$v.json"
    "$venv/bin/python" "$conf/run.py" --json "conformance-$v.json"
    cd "$root"
done
python3 "$conf/table.py" README.md
