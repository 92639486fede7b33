"""seqae._runtime: thread count, garbage collector and inference batch sizes around fit and scoring."""
from __future__ import annotations

import gc

import numpy as np
import pytest
import torch

from seqae import LSTMAutoencoder
from seqae._runtime import (CPU_ROWS_PER_THREAD, INFERENCE_STEPS, MAX_INFERENCE_ROWS, cyclic_gc_paused,
                            inference_batches, torch_threads)

CPU = torch.device("cpu")


def _sizes(batches) -> list[int]:
    return [len(b) for b in batches]


@pytest.mark.parametrize("threads, rows", [(1, CPU_ROWS_PER_THREAD), (2, 2 * CPU_ROWS_PER_THREAD),
                                           (64, MAX_INFERENCE_ROWS)])
def test_cpu_inference_batches_grow_with_the_threads_in_force(threads, rows):
    lengths = np.full(3000, 30)
    with torch_threads(threads, CPU):
        batches = inference_batches(lengths, CPU)
    assert max(_sizes(batches)) == rows
    assert sorted(np.concatenate(batches)) == list(range(3000))      # every sequence exactly once


def test_gpu_batches_are_large_whatever_the_cpu_threads():
    with torch_threads(1, CPU):
        batches = inference_batches(np.full(3000, 30), torch.device("cuda"))  # a device object, no GPU needed
    assert max(_sizes(batches)) == MAX_INFERENCE_ROWS


def test_long_sequences_are_capped_in_rows_times_steps():
    lengths = np.full(100, 1000)
    with torch_threads(2, CPU):
        batches = inference_batches(lengths, CPU)
    assert max(_sizes(batches)) * 1000 <= INFERENCE_STEPS


def test_torch_threads_restores_the_callers_setting_even_on_error():
    torch.set_num_threads(1)
    with pytest.raises(RuntimeError, match="inside"):
        with torch_threads(2, CPU):
            assert torch.get_num_threads() == 2
            raise RuntimeError("inside")
    assert torch.get_num_threads() == 1
    with torch_threads(None, CPU):                                     # None: the caller's setting stays
        assert torch.get_num_threads() == 1


@pytest.mark.parametrize("enabled", [True, False])
def test_cyclic_gc_paused_restores_the_collector_state(enabled):
    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(ValueError):
            with cyclic_gc_paused():
                assert not gc.isenabled()
                raise ValueError
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_scoring_pauses_the_collector_and_restores_it():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 12, 2)).astype(np.float32)
    ae = LSTMAutoencoder(hidden_size=8, latent_dim=4, epochs=1, random_state=0, device="cpu").fit(X)
    seen = []
    handle = ae.module_.register_forward_hook(lambda *_: seen.append(gc.isenabled()))
    try:
        ae.reconstruction_error(X)
        ae.transform(X)
    finally:
        handle.remove()
    assert seen and not any(seen)            # off during every batch
    assert gc.isenabled()                    # and back on afterwards
