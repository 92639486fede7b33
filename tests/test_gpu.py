"""The GPU path (device="cuda"): runs only where CUDA is available, skipped with a reason elsewhere."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from seqae import AnomalyDetector, LSTMAutoencoder, SequenceAnomalyDetector, load
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


# ---------------------------------------------------------------------------------------------- serving and scale
def _series(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    x = np.sin(np.arange(n) / 6) + 0.1 * rng.standard_normal(n)
    x[1100:1106] += 3.0
    return x.astype(np.float32)


def test_sequence_detector_neighbors_on_the_gpu_load_on_the_cpu(collection, tmp_path):
    det = SequenceAnomalyDetector(hidden_size=16, latent_dim=4, epochs=2, min_steps=20, random_state=0,
                                  device="cuda").fit(collection)
    assert next(det.autoencoder_.module_.parameters()).device.type == "cuda"
    new = [np.cos(x * 3.0) for x in collection[:8]]           # not in the training collection: distances well above 0
    scores = det.decision_function(new)
    assert np.isfinite(scores).all() and scores.min() > 0.1 and det.reference_embeddings_.shape[0] == len(collection)
    det.save(tmp_path / "d.seqae")
    cpu = load(tmp_path / "d.seqae", device="cpu")
    # the same weights on the CPU kernel, measured against the training embeddings made on the GPU
    np.testing.assert_allclose(cpu.decision_function(new), scores, rtol=1e-2)


@pytest.fixture(scope="module")
def gpu_detector():
    return AnomalyDetector(window=32, epochs=2, random_state=0, threshold="quantile", device="cuda").fit(_series()[:800])


def test_a_stream_on_a_gpu_fitted_detector_gives_its_batch_scores(gpu_detector):
    x = _series()
    stream = gpu_detector.stream()
    final = np.full(len(x), np.nan)
    for i in range(0, len(x), 50):
        r = stream.update(x[i:i + 50])
        final[r.positions] = r.scores
    r = stream.finish()
    final[r.positions] = r.scores
    # Bit for bit is promised on the CPU; cuDNN may sum a lone window in another order than a batch.
    np.testing.assert_allclose(final, gpu_detector.decision_function(x), rtol=1e-4, atol=1e-6)


def test_onnx_export_of_a_gpu_fitted_model_leaves_it_on_the_gpu(gpu_detector, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    pytest.importorskip("onnx", reason="the onnx extra is not installed")
    from seqae.export import onnx_inputs, to_onnx

    to_onnx(gpu_detector, tmp_path / "det.onnx")
    assert next(gpu_detector.autoencoder_.module_.parameters()).device.type == "cuda"
    windows = np.lib.stride_tricks.sliding_window_view(_series()[:, None], 32, axis=0).transpose(0, 2, 1)[:64].copy()
    rec, _ = gpu_detector.autoencoder_.step_errors(windows)
    session = ort.InferenceSession(str(tmp_path / "det.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, onnx_inputs(windows))[0], rec, rtol=1e-3, atol=1e-5)


def test_detect_many_fits_each_series_on_the_gpu():
    import pandas as pd

    from seqae.many import detect_many

    table = pd.concat([pd.DataFrame({"sid": f"m{i}", "value": _series(600, seed=i)}) for i in range(3)],
                      ignore_index=True)
    result = detect_many(table, by="sid", window=16, hidden_size=8, latent_dim=4, epochs=2, device="cuda")
    assert result.n_failed == 0 and len(result.scores) == len(table)
    assert np.isfinite(result.scores["score"]).all()


def _nccl_rank(rank, port, folder):
    import os

    import torch.distributed as dist

    from seqae.training.distributed import fit_distributed

    os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    ae = LSTMAutoencoder(hidden_size=16, latent_dim=4, epochs=3, batch_size=16, patience=None,
                         validation_fraction=0.0, random_state=0, device="cuda")
    fit_distributed(ae, _collection_for_nccl(), output=f"{folder}/model.seqae")
    dist.destroy_process_group()


def _collection_for_nccl():
    rng = np.random.default_rng(0)
    return [np.sin(np.arange(n)[:, None] / 4 + rng.uniform(0, 6, (1, 2))).astype(np.float32)
            for n in rng.integers(10, 40, 48)]


def test_data_parallel_training_runs_on_nccl(tmp_path):
    import socket

    import torch.multiprocessing as mp

    from seqae import load

    # One GPU here, and NCCL refuses two ranks on one device: one rank checks the NCCL path (all-reduce of the
    # flat gradient on the GPU, rank 0 writing the model) against the one-process fit.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_nccl_rank, args=(port, str(tmp_path)), nprocs=1, join=True)
    single = LSTMAutoencoder(hidden_size=16, latent_dim=4, epochs=3, batch_size=16, patience=None,
                             validation_fraction=0.0, random_state=0, device="cuda").fit(_collection_for_nccl())
    model = load(tmp_path / "model.seqae", device="cuda")
    X = _collection_for_nccl()[:5]
    # cuDNN's LSTM backward is not deterministic: two one-process GPU fits differ by ~1e-4 after three epochs.
    np.testing.assert_allclose(model.transform(X), single.transform(X), rtol=1e-2, atol=1e-3)
