"""Smoke test of benchmarks/nab.py: two short NAB series with --quick, in a subprocess (issue #3)."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "nab.py"


def _nab_root() -> Path | None:
    base = Path(os.environ.get("SEQAE_DATA") or ROOT.parent / "shared" / "data")
    for cand in (base / "NAB", base):
        if (cand / "labels" / "combined_windows.json").is_file() and (cand / "data").is_dir():
            return cand
    return None


NAB = _nab_root()
SERIES = ("realTraffic/speed_7578.csv", "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv")


@pytest.mark.skipif(NAB is None, reason="NAB data not found (../shared/data/NAB beside the repository, or "
                                        "$SEQAE_DATA): the NAB benchmark smoke test needs it")
def test_nab_quick_two_series(tmp_path):
    if not all((NAB / "data" / s).is_file() for s in SERIES):
        pytest.skip(f"NAB data at {NAB} lacks {SERIES}")
    out = tmp_path / "nab.md"
    cmd = [sys.executable, str(SCRIPT), "--quick", "--methods", "seqae", "--data", str(NAB), "--out", str(out),
           "--threads", "1"]
    for s in SERIES:
        cmd += ["--series", s]
    # ~10 s of CPU; the timeout is generous because the machine may be busy
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

    with (tmp_path / "nab.csv").open() as handle:   # the long table beside the report, one row per method+series
        rows = [r for r in csv.DictReader(handle) if r["method"] == "seqae"]
    assert sorted(r["series"] for r in rows) == sorted(SERIES)
    for r in rows:
        assert not r["error"], r["error"]
        n, n_train = int(r["n"]), int(r["n_train"])
        assert n_train == max(int(0.15 * n), 256) and int(r["n_eval"]) == n - n_train
        for key in ("auc_pr", "vus_pr", "roc_auc", "vus_roc"):
            assert 0.0 <= float(r[key]) <= 1.0, (key, r[key])
        assert float(r["fit_s"]) > 0 and float(r["score_s"]) > 0
    report = out.read_text()
    assert "| seqae AnomalyDetector (library defaults) | 2 of 52 (partial) |" in report
    assert "benchmarks/nab.py --quick" in report
    # the peers were not run in this test, so their published figures appear as a labelled reference
    assert "Reference: peers not run here" in report
