"""Where reading, writing and preprocessing live: seqae.io reads and writes every file, seqae.preprocessing checks
and prepares the data, the names they had before (seqae.datasets, seqae.data) still import, and the CLI reads,
checks and writes through the library rather than beside it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import seqae.io
import seqae.preprocessing
from seqae.cli import main


# =========================================================================================== old import paths
def test_seqae_datasets_names_are_those_of_seqae_io():
    import seqae.datasets

    for name in seqae.datasets.__all__ + ["AUTO"]:
        assert getattr(seqae.datasets, name) is getattr(seqae.io, name), name


def test_seqae_data_modules_are_the_preprocessing_modules():
    import seqae.data
    import seqae.data.batching
    import seqae.data.scaling
    import seqae.data.series
    import seqae.data.validation
    import seqae.data.windows
    from seqae.data import FeatureScaler, check_sequences, pad_sequences
    from seqae.data.series import MISSING, check_series

    assert seqae.data.series is seqae.preprocessing.series_validation
    for name in ("batching", "scaling", "validation", "windows"):
        assert getattr(seqae.data, name) is getattr(seqae.preprocessing, name)
    assert FeatureScaler is seqae.preprocessing.FeatureScaler and check_sequences is seqae.preprocessing.check_sequences
    assert pad_sequences is seqae.preprocessing.pad_sequences and check_series is seqae.preprocessing.check_series
    assert MISSING == ("raise", "interpolate")


def test_the_shipped_data_is_found():
    assert seqae.io.list_demo_series() == ["art_daily_jumpsup", "nyc_taxi"]


@pytest.mark.parametrize("module, must_not", [("seqae.io", ("seqae.cli", "seqae.detection", "seqae.autoencoder")),
                                              ("seqae.preprocessing", ("seqae.io", "seqae.cli"))])
def test_io_and_preprocessing_import_no_layer_above(module, must_not):
    code = f"import sys, {module}\nprint(sorted(m for m in sys.modules if m.startswith('seqae.')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout
    assert not [m for m in must_not if f"'{m}'" in loaded or f"'{m}." in loaded], loaded


def test_reading_files_does_not_load_torch():
    code = "import sys, seqae.io\nprint('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# =========================================================================================== the CLI uses seqae.io
@pytest.fixture
def calls(monkeypatch):
    """Every call of the library functions the CLI should go through, by name (the real function still runs)."""
    seen: list[str] = []

    def spy(module, name):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            seen.append(name)
            return real(*args, **kwargs)
        monkeypatch.setattr(module, name, wrapper)

    for name in ("read_table", "read_frame", "read_windows", "write_table"):
        spy(seqae.io, name)
    spy(seqae.preprocessing, "check_series")
    return seen


def _series(tmp_path: Path, n: int = 120) -> Path:
    path = tmp_path / "series.csv"
    pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=n, freq="h"),
                  "value": np.sin(np.arange(n) / 4.0)}).to_csv(path, index=False)
    return path


def test_evaluate_reads_scores_and_windows_with_seqae_io(tmp_path, calls, capsys):
    scores = tmp_path / "scores.csv"
    times = pd.date_range("2024-01-01", periods=50, freq="h")
    pd.DataFrame({"timestamp": times, "score": np.linspace(0, 1, 50),
                  "label": (np.arange(50) > 40).astype(int)}).to_csv(scores, index=False)
    windows = tmp_path / "windows.json"
    windows.write_text(json.dumps([[str(times[40]), str(times[45])]]))
    assert main(["evaluate", str(scores), "--windows", str(windows)]) == 0, capsys.readouterr().err
    assert calls == ["read_frame", "read_windows"]


def test_detect_reads_and_checks_the_series_with_the_library(tmp_path, calls, capsys):
    series = _series(tmp_path)
    code = main(["detect", str(series), "-o", str(tmp_path / "out.csv"), "--window", "500"])
    assert code == 2 and "fewer than the window (500 points)" in capsys.readouterr().err
    assert calls == ["read_table", "check_series"]


def test_detect_says_where_a_value_is_missing_in_its_own_words(tmp_path, calls, capsys):
    path = tmp_path / "gap.csv"
    df = pd.read_csv(_series(tmp_path))
    df.loc[99, "value"] = np.nan
    df.to_csv(path, index=False)
    assert main(["detect", str(path), "-o", str(tmp_path / "out.csv")]) == 2
    err = capsys.readouterr().err
    assert "column 'value', row 100 (2024-01-05 03:00:00): missing value; 1 in all. Pass --missing interpolate" in err
    assert calls == ["read_table", "check_series"]
