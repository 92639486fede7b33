"""Shared fixtures. Tests that need ../shared data skip with a reason when it is absent."""
from __future__ import annotations

import errno
import itertools
import os

import numpy as np
import pytest
import torch

from seqae.autoencoder import PARAMS_BEFORE_ISSUE_16

# Every model variant of the core issue: (variational, pooling, decoder, bidirectional, num_layers).
VARIANTS = [
    dict(variational=v, pooling=p, decoder=d, bidirectional=b, num_layers=n)
    for v, p, d, (b, n) in itertools.product(
        (False, True), ("last", "mean", "attention"), ("repeat", "autoregressive"), ((False, 1), (True, 2)))
]


# LSTMAutoencoder's parameters as they were before issue #16 changed its defaults (the epoch rule, whole clean
# sequences, the latent code as the embedding): tests written for that model's mechanics (epoch counts, the fused
# loss, checkpoints, threads, transform's width) pass these; tests/test_training_budget.py tests the new ones.
BEFORE_16 = {k: v for k, v in PARAMS_BEFORE_ISSUE_16.items() if k != "latent_dim"}


def variant_id(v: dict) -> str:
    return "-".join([("vae" if v["variational"] else "ae"), v["pooling"], v["decoder"][:4],
                     ("bi" if v["bidirectional"] else "uni") + str(v["num_layers"])])


@pytest.fixture(autouse=True)
def _torch_threads():
    # Tests are run two at a time (pytest -n 2) on 2 cores: one thread each avoids oversubscription.
    torch.set_num_threads(1)
    yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def sine_collection(rng: np.random.Generator, n: int, lo: int = 20, hi: int = 80) -> list[np.ndarray]:
    out = []
    for _ in range(n):
        length = int(rng.integers(lo, hi + 1))
        t = np.arange(length)
        x = np.sin(2 * np.pi * t / rng.uniform(10, 30) + rng.uniform(0, 2 * np.pi))
        out.append((x + 0.1 * rng.standard_normal(length))[:, None].astype(np.float32))
    return out


def disk_full() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class HalfWriter:
    """Wraps an open file so that ``write`` really stores half the bytes, then raises ``make_error()``.

    Used to make a save fail half-way for real (disk full, Ctrl-C) and check nothing saved is lost.
    """

    def __init__(self, f, make_error):
        self._f, self._make_error, self.written = f, make_error, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()
        return False

    def write(self, data):
        self.written = len(data) // 2
        self._f.write(data[: self.written])
        self._f.flush()
        raise self._make_error()

    def __getattr__(self, name):
        return getattr(self._f, name)
