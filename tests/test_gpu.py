"""The GPU path (device="cuda"): runs only where CUDA is available, skipped with a reason elsewhere."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from seqae import AnomalyDetector, LSTMAutoencoder
from conftest import BEFORE_16  # the training and read-out of before issue #16

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


@pytest.fixture(scope="module")
def collection():
    rng = np.random.default_rng(0)
    return [np.sin(np.arange(n)[:, None] / 4 + rng.uniform(0, 6, (1, 2))).astype(np.float32)
            for n in rng.integers(10, 40, 64)]


def test_fit_and_score_on_the_gpu_match_the_cpu_model(collection):
    gpu = LSTMAutoencoder(**BEFORE_16, hidden_size=16, latent_dim=4, epochs=3, random_state=0, device="cuda").fit(collection)
    assert next(gpu.module_.parameters()).device.type == "cuda"
    errors = gpu.reconstruction_error(collection)
    assert errors.shape == (64,) and np.isfinite(errors).all()
    # The same weights on the CPU (our fused kernel there, cuDNN here) give the same scores to float tolerance.
    cpu = copy.deepcopy(gpu)
    cpu.module_ = cpu.module_.cpu()
    np.testing.assert_allclose(cpu.reconstruction_error(collection), errors, rtol=1e-3, atol=1e-5)


def test_auto_device_picks_cuda_and_the_detector_runs(collection):
    series = np.concatenate([np.sin(np.arange(3000) / 8), [4.0], np.sin(np.arange(500) / 8)])
    det = AnomalyDetector(window=32, hidden_size=8, latent_dim=4, epochs=2, random_state=0).fit(series[:2000])
    assert next(det.autoencoder_.module_.parameters()).device.type == "cuda"
    scores = det.decision_function(series)
    assert scores.shape == series.shape and scores.argmax() in range(2990, 3040)
