"""How seqae runs on the machine: intra-op threads, Python's garbage collector, the size of inference batches."""
from __future__ import annotations

import contextlib
import gc

import numpy as np
import torch

from seqae.data.batching import length_grouped_batches

# Inference batches: many rows for short sequences, capped in rows x steps so long ones fit in memory. The step
# cap also keeps a batch's input gates (rows x steps x 4H floats) small: scoring 1M points with windows of 100
# ran at 5,000 points/s with 256k steps per batch (make bench-perf, case L) and at 11,000-12,000 with 64k or
# 32k; the peak memory grew 68-82 MB with 32k against 137-206 MB with 64k (benchmarks/inference_batch_cap.py,
# two runs each).
INFERENCE_STEPS = 1024 * 32
# Rows per batch. Scoring 7,752 windows of 30 steps took 125 ms with 1024 rows against 132-134 with 256 or 512 on
# one thread, and 76 ms with 512 or 1024 against 91 with 256 on two (benchmarks/perf.py --probe rows). Before the
# fused kernel pooled its output buffers, 256 rows were the fastest on one thread, because every batch
# page-faulted its megabytes of outputs in again.
INFERENCE_ROWS = 1024


def inference_batches(lengths: np.ndarray) -> list[np.ndarray]:
    """Indices of each inference batch: grouped by length, at most INFERENCE_ROWS rows and INFERENCE_STEPS
    rows x padded length."""
    return length_grouped_batches(lengths, INFERENCE_ROWS, max_steps=INFERENCE_STEPS)


@contextlib.contextmanager
def torch_threads(num_threads: int | None, device: torch.device):
    """Run a block with ``num_threads`` intra-op CPU threads, then restore the caller's setting.

    Why one by default: when other processes share the cores, threads wait for each other. With torch's own
    LSTM a training step of case A took 4,161 ms on 2 threads against 14.9 ms on 1 on a busy 2-core machine
    (``benchmarks/perf.py --probe threads``, first session); with the fused kernel, which splits a batch's rows
    over the threads once per layer call, it still took 25.9 ms against 7.9 ms with one other process busy
    (a session script), while scoring 7,752 windows took 312 ms against 243 ms. On an idle machine two threads
    score about 1.5x faster (``benchmarks/results/perf.md``).
    """
    if num_threads is None or device.type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def cyclic_gc_paused():
    """Python's cyclic garbage collector off for a block (an epoch, a scoring pass), back on (if it was) after.

    Every training step allocates hundreds of Python objects (tensors, autograd nodes), which keeps triggering
    collections that walk every object of the process (torch, pandas, ...): about 10% of an epoch at small
    batch sizes (perf record of case A), and 4% of scoring windows. The objects are freed by reference counting
    anyway; nothing cyclic builds up within such a block.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
