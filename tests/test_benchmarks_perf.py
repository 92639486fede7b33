"""Smoke test of benchmarks/perf.py: the quick seqae-only run of case A finishes and prints its table, with a
row for seqae's default (one thread) and one for two threads."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PERF = Path(__file__).resolve().parents[1] / "benchmarks" / "perf.py"


def test_perf_quick_prints_a_table(tmp_path):
    # One torch thread, as in conftest.py: the suite runs two tests at a time on two cores.
    cmd = [sys.executable, str(PERF), "--quick", "--only", "A", "--no-keras", "--torch-threads", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| case"))
    assert "s/epoch wall" in lines[header] and "peak RSS MB" in lines[header]
    assert set(lines[header + 1]) <= set("|-")
    row = [c.strip() for c in lines[header + 2].strip("|").split("|")]
    assert row[0].startswith("A train") and row[1] == "seqae"
    assert float(row[2]) > 0 and float(row[3]) > 0          # seconds per epoch, wall and CPU
    assert float(row[5]) > 0                                  # peak RSS of the child
    assert re.search(r"Training A: seqae [\d.]+ s/epoch", proc.stdout)
    assert re.search(r"\| A train [^|]+\| seqae-2t +\| [\d.]+ ", proc.stdout)
    assert re.search(r"Training A: seqae-2t [\d.]+ s/epoch", proc.stdout)
    assert not list(tmp_path.iterdir())                       # --quick writes no report
