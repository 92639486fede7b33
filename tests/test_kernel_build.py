"""The fused kernels' build: a failure is remembered for the installation (one line of warning, no retry per run),
``seqae build-kernels`` retries, ``seqae info`` says which LSTM path runs and why, and a fit records its path."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from seqae import LSTMAutoencoder, load
from seqae.cli import main
from seqae.nn import fused_lstm, kernels
from seqae.nn.fused_lstm import fused_lstm_available, run_lstm


@pytest.fixture
def failing_build(monkeypatch, tmp_path):
    """torch's loader raising as it does without a compiler, in an empty extension folder; counts its calls."""
    from torch.utils import cpp_extension

    calls = []

    def no_compiler(**kwargs):
        calls.append(kwargs["build_directory"])
        raise RuntimeError("Error building extension 'seqae_lstm_cpu': c++: command not found")

    monkeypatch.setattr(cpp_extension, "load", no_compiler)
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    kernels.extension.cache_clear()
    yield calls
    monkeypatch.undo()
    kernels.extension.cache_clear()


def test_a_failed_build_is_remembered_and_not_retried_by_later_processes(failing_build):
    with pytest.warns(RuntimeWarning, match="command not found.*nn.LSTM.*seqae build-kernels"):
        assert not fused_lstm_available()
    assert len(failing_build) == 1
    marker = kernels.build_dir() / kernels.BUILD_FAILED
    assert "command not found" in json.loads(marker.read_text())["reason"]
    # A new process (the cache cleared) reads the remembered failure: one line, no build attempt.
    kernels.extension.cache_clear()
    with pytest.warns(RuntimeWarning, match="did not build on this installation earlier.*seqae build-kernels"):
        assert not fused_lstm_available()
    assert len(failing_build) == 1
    status = kernels.kernel_status()
    assert status.path == "nn.LSTM" and "command not found" in status.reason
    lstm = nn.LSTM(2, 3, batch_first=True)
    x = torch.randn(2, 4, 2)
    torch.testing.assert_close(run_lstm(lstm, x)[0], lstm(x)[0], atol=0, rtol=0)


def test_build_kernels_retries_a_remembered_failure(failing_build, capsys):
    with pytest.warns(RuntimeWarning):
        fused_lstm_available()
    assert main(["build-kernels", "--quiet"]) == 1            # retried (and failed again), exit code 1
    assert len(failing_build) == 2
    out = capsys.readouterr().out
    assert "LSTM path: nn.LSTM (the build failed: " in out and "command not found" in out


def test_switched_off_kernels_are_reported_as_such(monkeypatch, capsys):
    monkeypatch.setenv("SEQAE_FUSED_LSTM", "0")
    kernels.extension.cache_clear()
    try:
        assert kernels.kernel_status().reason == "switched off by SEQAE_FUSED_LSTM=0"
        assert main(["info"]) == 0
        out = capsys.readouterr().out
        assert "LSTM path (CPU)  nn.LSTM" in out and "SEQAE_FUSED_LSTM=0" in out
        assert f"torch            {torch.__version__}" in out
        assert main(["build-kernels"]) == 1
    finally:
        monkeypatch.delenv("SEQAE_FUSED_LSTM")
        kernels.extension.cache_clear()


def test_a_fit_records_its_lstm_path_and_the_file_keeps_it(tmp_path):
    X = [np.random.default_rng(i).normal(size=(12, 2)) for i in range(8)]
    ae = LSTMAutoencoder(hidden_size=8, latent_dim=4, epochs=2, min_steps=None, random_state=0).fit(X)
    want = kernels.path_name() if fused_lstm_available() else "nn.LSTM"
    assert ae.lstm_path_ == want
    ae.save(tmp_path / "ae.seqae")
    assert load(tmp_path / "ae.seqae").lstm_path_ == want


# A real build without a compiler, in fresh processes: torch's own loader, seqae's warning once, correct results.
_FIT = textwrap.dedent("""
    import sys, warnings
    import numpy as np
    from seqae import LSTMAutoencoder
    X = [np.random.default_rng(i).normal(size=(10, 2)) for i in range(6)]
    ae = LSTMAutoencoder(hidden_size=6, latent_dim=3, epochs=2, min_steps=None, random_state=0).fit(X)
    print("PATH", ae.lstm_path_)
    print("ERR", repr(float(ae.reconstruction_error(X).sum())))
""")


def _run(tmp_path, **env):
    full = {**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path / "ext"), **env}
    full.pop("SEQAE_REQUIRE_FUSED_LSTM", None)
    done = subprocess.run([sys.executable, "-c", _FIT], capture_output=True, text=True, env=full, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def test_no_compiler_warns_once_gives_nn_lstm_results_and_is_not_rebuilt(tmp_path):
    out, err = _run(tmp_path, CXX=str(tmp_path / "no-such-compiler"))
    assert "PATH nn.LSTM" in out
    assert err.count("could not be built") == 1 and "!! WARNING !!" not in err
    assert "no-such-compiler: not found" in err and "seqae build-kernels" in err
    out2, err2 = _run(tmp_path, CXX=str(tmp_path / "no-such-compiler"))
    assert "did not build on this installation earlier" in err2 and err2.count("RuntimeWarning") == 1
    assert "building the fused CPU LSTM kernel" not in err2            # no second build attempt
    reference, _ = _run(tmp_path / "off", SEQAE_FUSED_LSTM="0")
    assert "PATH nn.LSTM" in reference
    assert out.splitlines()[-1] == out2.splitlines()[-1] == reference.splitlines()[-1]


def test_ninja_comes_from_the_python_package_where_path_has_none(monkeypatch, tmp_path):
    """torch runs `ninja --version` on PATH; a console script run outside its activated environment has the
    package's binary nowhere on PATH, so the build puts it there."""
    pytest.importorskip("ninja")
    monkeypatch.setenv("PATH", str(tmp_path))                    # an empty folder: no ninja anywhere
    with kernels._ninja_on_path():
        done = subprocess.run(["ninja", "--version"], capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout.strip()
    assert os.environ["PATH"] == str(tmp_path)                   # restored after the build


def test_each_checkout_of_seqae_builds_in_its_own_folder(monkeypatch):
    # torch rebuilds an extension whose source paths changed: two checkouts sharing one folder would rebuild in turn.
    first = kernels.build_dir()
    monkeypatch.setattr(kernels, "__file__", "/elsewhere/seqae/nn/kernels.py")
    other = kernels.build_dir()
    assert other != first and other.parent == first.parent


def test_a_lock_left_by_a_killed_build_is_removed_and_a_fresh_one_is_kept(tmp_path, caplog):
    # torch's loader sleeps while the build folder's "lock" exists: one left by a killed build made every later
    # fit wait for ever without a word.
    lock = tmp_path / "lock"
    lock.touch()
    assert not kernels._clear_stale_lock(tmp_path)                   # another process may be building now
    assert lock.exists() and "waiting for another process's build" in caplog.text
    old = lock.stat().st_mtime - kernels.STALE_LOCK_S - 1
    os.utime(lock, (old, old))
    assert kernels._clear_stale_lock(tmp_path)
    assert not lock.exists() and "did not finish" in caplog.text
    assert not kernels._clear_stale_lock(tmp_path)                   # no lock: nothing to say
