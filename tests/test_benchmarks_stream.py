"""Smoke test of benchmarks/stream.py: the quick run finishes and prints one row per rule and update size."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

STREAM = Path(__file__).resolve().parents[1] / "benchmarks" / "stream.py"


def test_stream_benchmark_quick_prints_a_table(tmp_path):
    proc = subprocess.run([sys.executable, str(STREAM), "--quick", "--out", str(tmp_path / "stream.md")],
                          capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ") and line[2].isalpha()][1:]
    assert [r.split("|")[1:3] for r in rows] == [[" dynamic ", " 1 "], [" dynamic ", " 100 "],
                                                 [" quantile ", " 1 "], [" quantile ", " 100 "]]
    assert all(float(r.split("|")[4]) > 0 for r in rows)          # median ms
    report = (tmp_path / "stream.md").read_text()
    assert report.startswith("Command: ") and "| quantile | 100 |" in report
