"""Reliability of training (issue #6): non-finite losses, Ctrl-C, checkpoints that survive SIGKILL and resume
bit for bit, and determinism. Every fault is real: a real SIGINT in the main thread, a real SIGKILL of a
process, a real OSError from a half-written file, a real non-finite loss computed by the real model. Nothing
in seqae is mocked; the non-finite loss mid-training comes from a checkpoint whose current weights were
scaled (a diverged state, as a file), the first-epoch one from validation data that overflows float32.
"""
from __future__ import annotations

import _thread
import errno
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import HalfWriter, disk_full

import seqae.tensorfile
from seqae import InputError, LSTMAutoencoder, ModelFileError, TrainingError
from seqae.training.checkpoint import load_checkpoint, save_checkpoint
from conftest import BEFORE_16  # the training and read-out of before issue #16

# Sized so that an epoch takes a few tenths of a second on one thread: long enough to land a Ctrl-C inside
# epoch 3 reliably, short enough for the whole file to run in seconds.
PARAMS = dict(**BEFORE_16, hidden_size=16, latent_dim=4, epochs=7, batch_size=16, patience=None, random_state=0,
              device="cpu")


def _data() -> np.ndarray:
    rng = np.random.default_rng(42)
    t = np.arange(30)
    phase = rng.uniform(0, 2 * np.pi, size=(96, 1))
    x = np.stack([np.sin(0.3 * t + phase), np.cos(0.2 * t + phase)], axis=-1)
    return (x + 0.1 * rng.standard_normal(x.shape)).astype(np.float32)


def _checkpoint_epoch(path: Path) -> int:
    """Epochs recorded in a checkpoint, read from its JSON header only (cheap enough to poll)."""
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            return int(json.loads(json.loads(f.read(n))["__metadata__"]["seqae"])["epoch"])
    except (OSError, ValueError, KeyError, struct.error):
        return 0


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@pytest.fixture(scope="module")
def X():
    return _data()


@pytest.fixture(scope="module")
def reference(X):
    """An uninterrupted run without a checkpoint: what every resumed run must reproduce exactly."""
    torch.set_num_threads(1)  # module fixtures run before conftest's per-test setting
    ae = LSTMAutoencoder(**PARAMS).fit(X)
    assert ae.stop_reason_ == "max_epochs" and ae.n_epochs_ == PARAMS["epochs"]
    return ae


@contextmanager
def ctrl_c_when_checkpoint_reaches(path: Path, epoch: int):
    """Deliver a real SIGINT to the main thread as soon as the checkpoint at ``path`` records ``epoch``.

    The epoch ``epoch + 1`` is then running: the interrupt lands inside it.
    """
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals can only be delivered to the main thread")
    # interrupt_main does nothing if SIGINT is ignored or left to the OS (some runners do that).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    stop, lock, fired = threading.Event(), threading.Lock(), []

    def watch():
        while not stop.is_set():
            if _checkpoint_epoch(path) >= epoch:
                with lock:
                    if not stop.is_set():
                        fired.append(_checkpoint_epoch(path))
                        _thread.interrupt_main(signal.SIGINT)
                return
            time.sleep(0.002)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield fired
    finally:
        with lock:
            stop.set()
        watcher.join()
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="module")
def interrupted(X, reference, tmp_path_factory):
    """A fit interrupted by Ctrl-C inside its 3rd epoch; returns the estimator, the exception and the checkpoint."""
    folder = tmp_path_factory.mktemp("ctrl_c")
    path = folder / "run.ckpt"
    ae = LSTMAutoencoder(**PARAMS)
    with ctrl_c_when_checkpoint_reaches(path, 2) as fired:
        try:
            ae.fit(X, checkpoint=path)
            caught = None
        except KeyboardInterrupt as exc:
            caught = exc
    assert fired == [2], f"the interrupt was not delivered after epoch 2 (fired at {fired})"
    return ae, caught, path.read_bytes(), _leftovers(folder, {"run.ckpt"})


def _same_model(a, b, X) -> bool:
    return (np.array_equal(a.transform(X), b.transform(X))
            and np.array_equal(a.reconstruction_error(X), b.reconstruction_error(X)))


# ---------------------------------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_in_third_epoch_propagates_and_keeps_the_best_weights(X, interrupted):
    ae, caught, ckpt, leftovers = interrupted
    assert isinstance(caught, KeyboardInterrupt), "fit must re-raise the KeyboardInterrupt"
    assert "interrupted" in str(caught)
    assert ae.stop_reason_ == "interrupted"
    assert ae.n_epochs_ == 2 and len(ae.history_["train_loss"]) == len(ae.history_["val_loss"]) == 2
    assert 1 <= ae.best_epoch_ <= 2
    z = ae.transform(X)
    assert z.shape == (len(X), PARAMS["latent_dim"]) and np.isfinite(z).all()
    assert np.isfinite(ae.reconstruction_error(X)).all()
    # The weights kept are exactly the best of the two completed epochs: those of a run that stopped there.
    two_epochs = LSTMAutoencoder(**{**PARAMS, "epochs": 2}).fit(X)
    assert two_epochs.best_epoch_ == ae.best_epoch_
    assert _same_model(ae, two_epochs, X)
    # The interrupt left the last checkpoint whole and no temporary file behind.
    assert leftovers == []


def test_resume_after_ctrl_c_matches_an_uninterrupted_run(X, reference, interrupted, tmp_path):
    path = tmp_path / "run.ckpt"
    path.write_bytes(interrupted[2])
    assert load_checkpoint(path).epoch == 2
    ae = LSTMAutoencoder(**PARAMS).fit(X, checkpoint=path)
    assert ae.stop_reason_ == "max_epochs" and ae.n_epochs_ == PARAMS["epochs"]
    assert ae.history_ == reference.history_
    assert _same_model(ae, reference, X)


# ------------------------------------------------------------------------------------------ non-finite loss
def test_loss_going_non_finite_mid_training_rolls_back_with_a_warning(X, interrupted, tmp_path):
    # The checkpoint of epoch 2, with its current weights blown up (a diverged state); its best weights are
    # intact. Resuming runs epoch 3 on the real model, whose real loss overflows to inf on the first batch.
    path = tmp_path / "run.ckpt"
    path.write_bytes(interrupted[2])
    ckpt = load_checkpoint(path)
    for name in ("decoder.head.weight", "decoder.head.bias"):
        ckpt.model_state[name] = ckpt.model_state[name] * 1e30
    save_checkpoint(path, ckpt)
    with pytest.warns(RuntimeWarning, match=r"training loss became non-finite in epoch 3; stopped and restored "
                                            r"the weights of epoch [12]\b") as record:
        ae = LSTMAutoencoder(**PARAMS).fit(X, checkpoint=path)
    assert record[0].filename == __file__, "the warning should point at the caller's fit()"
    assert ae.stop_reason_ == "non_finite_loss" and ae.n_epochs_ == 2
    for out in (ae.transform(X), ae.reconstruction_error(X), ae.reconstruct(X)):
        assert np.isfinite(out).all()
    # Rolled back to exactly the best weights of the first two epochs.
    assert _same_model(ae, interrupted[0], X)


def test_validation_loss_non_finite_from_the_first_epoch_raises_training_error(X):
    # A huge-but-finite outlier: valid float32, but its squared error overflows float32 on every epoch.
    V = X[:4].copy()
    V[1, 5, 0] = 3e19
    ae = LSTMAutoencoder(**{**PARAMS, "epochs": 3})
    with pytest.raises(TrainingError, match=r"validation loss became non-finite in epoch 1 before any epoch gave "
                                            r"a finite loss; check that validation_data is on the scale"):
        ae.fit(X, validation_data=V)
    assert not hasattr(ae, "module_"), "a failed fit must not leave a half-fitted estimator"
    # The same outlier is fine once it is within range: the check is about overflow, not about outliers.
    V[1, 5, 0] = 1e3
    ok = LSTMAutoencoder(**{**PARAMS, "epochs": 2}).fit(X, validation_data=V)
    assert all(np.isfinite(ok.history_["val_loss"]))


# -------------------------------------------------------------------------------------------- checkpoints
_CHILD = """
import json, sys
import numpy as np, torch
torch.set_num_threads(1)
from seqae import LSTMAutoencoder
X = np.load(sys.argv[1])
ae = LSTMAutoencoder(**json.loads(sys.argv[2])).fit(X, checkpoint=sys.argv[3])
np.save(sys.argv[4], ae.transform(X))
with open(sys.argv[5], "w") as f:
    json.dump({"history": ae.history_, "stop_reason": ae.stop_reason_, "error": ae.reconstruction_error(X).tolist()}, f)
"""


def _child(tmp_path: Path, X, ckpt: Path, tag: str) -> list[str]:
    np.save(tmp_path / "X.npy", X)
    return [sys.executable, "-c", _CHILD, str(tmp_path / "X.npy"), json.dumps(PARAMS), str(ckpt),
            str(tmp_path / f"z_{tag}.npy"), str(tmp_path / f"out_{tag}.json")]


def test_sigkill_then_resume_in_a_fresh_process_matches_an_uninterrupted_run(X, reference, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_child(tmp_path, X, ckpt, "killed"), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while proc.poll() is None and _checkpoint_epoch(ckpt) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.kill()  # SIGKILL: no cleanup of any kind runs in the child
    out = proc.communicate()[0].decode(errors="replace")
    assert proc.returncode == -signal.SIGKILL, f"the child was not killed mid-run (rc {proc.returncode}):\n{out}"
    killed_at = load_checkpoint(ckpt).epoch
    assert 2 <= killed_at < PARAMS["epochs"]

    done = subprocess.run(_child(tmp_path, X, ckpt, "resumed"), env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    result = json.loads((tmp_path / "out_resumed.json").read_text())
    assert result["stop_reason"] == "max_epochs"
    assert result["history"] == reference.history_
    assert np.array_equal(np.load(tmp_path / "z_resumed.npy"), reference.transform(X))
    assert np.array_equal(np.asarray(result["error"], dtype=np.float32), reference.reconstruction_error(X))


def test_checkpoint_of_another_run_is_refused_and_left_alone(X, interrupted, tmp_path):
    path = tmp_path / "run.ckpt"
    path.write_bytes(interrupted[2])
    for other_X, params in [(X + 1.0, PARAMS), (X, {**PARAMS, "hidden_size": 8}), (X, {**PARAMS, "random_state": 1}),
                            (X[:-1], PARAMS)]:
        with pytest.raises(InputError, match=r"checkpoint .* belongs to another run .*delete it or pass another path"):
            LSTMAutoencoder(**params).fit(other_X, checkpoint=path)
        assert path.read_bytes() == interrupted[2]


def test_damaged_checkpoint_is_refused_with_model_file_error(X, interrupted, tmp_path):
    path = tmp_path / "run.ckpt"
    data = bytearray(interrupted[2])
    data[-100] ^= 0x40  # one bit of one weight
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"corrupted: its checksum does not match"):
        LSTMAutoencoder(**PARAMS).fit(X, checkpoint=path)
    path.write_bytes(interrupted[2][: len(interrupted[2]) // 2])
    with pytest.raises(ModelFileError, match=r"truncated"):
        LSTMAutoencoder(**PARAMS).fit(X, checkpoint=path)
    # A model file is not a checkpoint either.
    LSTMAutoencoder(**{**PARAMS, "epochs": 1}).fit(X[:8]).save(path)
    with pytest.raises(ModelFileError, match=r"not a seqae checkpoint"):
        LSTMAutoencoder(**PARAMS).fit(X, checkpoint=path)


class _FaultyOS:
    """Stands in for the ``os`` module inside ``seqae.tensorfile``: the ``fail_on``-th file written there gets
    half its bytes, then the disk is full. Everything else is the real ``os``."""

    def __init__(self, fail_on: int):
        self.fail_on, self.opened = fail_on, 0

    def __getattr__(self, name):
        return getattr(os, name)

    def fdopen(self, fd, *args, **kwargs):
        f = os.fdopen(fd, *args, **kwargs)
        self.opened += 1
        if self.opened != self.fail_on:
            return f
        self.writer = HalfWriter(f, disk_full)
        return self.writer

    @property
    def partial(self) -> int:
        """Bytes the failed write really stored."""
        return self.writer.written


def test_checkpoint_write_is_atomic_when_the_disk_fills_up(X, reference, tmp_path, monkeypatch):
    path = tmp_path / "run.ckpt"
    faulty = _FaultyOS(fail_on=3)
    monkeypatch.setattr(seqae.tensorfile, "os", faulty)
    with pytest.raises(OSError) as info:
        LSTMAutoencoder(**PARAMS).fit(X, checkpoint=path)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and faulty.partial > 0
    # The epoch-2 checkpoint is whole, and the half-written epoch-3 one is gone.
    assert load_checkpoint(path).epoch == 2
    assert _leftovers(tmp_path, {"run.ckpt"}) == []
    # Once there is space again, the run resumes from it and ends exactly as if nothing had happened.
    ae = LSTMAutoencoder(**PARAMS).fit(X, checkpoint=path)
    assert ae.history_ == reference.history_ and _same_model(ae, reference, X)


@pytest.mark.parametrize("how", ["early_stopping", "max_epochs"])
def test_refit_on_a_finished_checkpoint_reproduces_the_finished_run(X, tmp_path, how):
    # A run killed after writing its last checkpoint but before fit returned must not train further on resume.
    params = {**PARAMS, "epochs": 4, "hidden_size": 8}
    if how == "early_stopping":
        params.update(patience=1, learning_rate=1e-7, epochs=6)  # no relative improvement >= 1e-4: stops at 2
    path = tmp_path / "run.ckpt"
    first = LSTMAutoencoder(**params).fit(X, checkpoint=path)
    assert first.stop_reason_ == how and first.n_epochs_ == (2 if how == "early_stopping" else 4)
    again = LSTMAutoencoder(**params).fit(X, checkpoint=path)
    assert again.stop_reason_ == how
    assert again.history_ == first.history_ and again.best_epoch_ == first.best_epoch_
    assert _same_model(again, first, X)


# ------------------------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("variant", [dict(), dict(variational=True, pooling="attention", decoder="autoregressive")],
                         ids=["ae", "vae"])
def test_same_seed_same_model_different_seed_different_model(X, variant):
    params = {**PARAMS, "hidden_size": 8, "epochs": 3, **variant}
    data = [x[: 10 + i % 7] for i, x in enumerate(X[:24])]  # variable lengths
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    a = LSTMAutoencoder(**params).fit(data)
    b = LSTMAutoencoder(**params).fit(data)
    c = LSTMAutoencoder(**{**params, "random_state": 1}).fit(data)
    assert a.history_ == b.history_
    assert np.array_equal(a.transform(data), b.transform(data))
    assert np.array_equal(a.reconstruction_error(data), b.reconstruction_error(data))
    assert all(np.array_equal(x, y) for x, y in zip(a.reconstruct(data), b.reconstruct(data), strict=True))
    assert not np.array_equal(a.transform(data), c.transform(data))
    assert not np.array_equal(a.reconstruction_error(data), c.reconstruction_error(data))
    # Fitting neither reads nor moves the global random generators.
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(u, v) for u, v in zip(np.random.get_state(), np_state, strict=True))
    # Inference is deterministic too, and independent of what a sequence is batched with.
    assert np.array_equal(a.transform(data), a.transform(data))
    np.testing.assert_allclose(a.transform(data[3:4])[0], a.transform(data)[3], rtol=1e-5, atol=1e-6)


def test_same_seed_on_two_threads_same_model(X):
    """Two threads split each batch's rows and (AVX-512 kernels) add the weights' gradients up per thread, then
    across threads: with the same thread count that order is fixed, so two fits are still bit for bit equal."""
    params = {**PARAMS, "hidden_size": 8, "epochs": 3, "num_threads": 2}
    data = [x[: 10 + i % 7] for i, x in enumerate(X[:24])]
    a = LSTMAutoencoder(**params).fit(data)
    b = LSTMAutoencoder(**params).fit(data)
    assert a.history_ == b.history_
    assert np.array_equal(a.transform(data), b.transform(data))
