"""``python -m corio.demo``, run as a user runs it (a child process), small."""

from __future__ import annotations

import re
import subprocess
import sys


def run_demo(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corio.demo", *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=timeout,
    )


def seconds(text: str) -> float:
    value = float(text[:-2] if text.endswith("ms") else text[:-1])
    return value / 1000 if text.endswith("ms") else value


def test_the_demo_shows_both_lessons_with_every_answer_checked():
    done = run_demo(
        "--requests", "20", "--concurrency", "10", "--min-delay", "0.05",
        "--max-delay", "0.1", "--jobs", "2", "--limit", "100000", "--bars",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "(loop: corio._loop)" in out
    rows = {
        m.group(1).strip(): (seconds(m.group(2)), m.group(3))
        for m in re.finditer(r"^(\S.{35})\s*([\d.]+m?s)\s+(.*)$", out, re.MULTILINE)
    }
    seq, seq_note = rows["requests one after another"]
    con, con_note = rows["requests 10 at a time"]
    assert seq_note == "20/20 ok" and con_note.startswith("20/20 ok")
    # 20 answers of at least 50 ms one after another; two waves of 10 at once.
    assert seq >= 1.0 and con < seq / 2
    for row in ("CPU jobs one after another", "CPU jobs on threads", "CPU jobs on processes"):
        assert row in rows
    assert "20/20 00:00:0" in done.stderr  # the progress bars


def test_bad_arguments_get_a_usage_error():
    done = run_demo("--requests", "0")
    assert done.returncode == 2 and "--requests" in done.stderr
