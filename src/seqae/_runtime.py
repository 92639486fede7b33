"""How seqae runs on the machine: intra-op threads, Python's garbage collector, the size of inference batches."""
from __future__ import annotations

import contextlib
import gc
import numbers

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
def torch_threads(num_threads: int | str | None, device: torch.device, scoring: bool = False):
    """Run a block with ``num_threads`` intra-op CPU threads, then restore the caller's setting.

    ``num_threads``: an int; None keeps torch's setting; ``"auto"`` (the estimators' default) means one thread
    for training (``scoring=False``) and torch's setting, normally one thread per core, for scoring.

    Why one thread for training: its batches are small (32 rows), so threads gain little, and when other
    processes share the cores they wait for each other. With torch's own LSTM a training step of case A took
    4,161 ms on 2 threads against 14.9 ms on 1 on a busy 2-core machine (``benchmarks/perf.py --probe threads``,
    first session); with the fused kernel, which splits a batch's rows over the threads once per layer call,
    it still took 25.9 ms against 7.9 ms with one other process busy (a session script). Why all cores for
    scoring: its batches are large (1024 rows), two threads scored 1.6-1.9x faster than one on an idle machine
    (``benchmarks/results/perf.md``), and only 1.3x slower (312 against 243 ms for 7,752 windows) with another
    process busy.
    """
    if num_threads == "auto":
        num_threads = None if scoring else 1
    if num_threads is None or device.type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def check_num_threads(value) -> None:
    """``num_threads`` of the estimators: ``"auto"``, an int >= 1 or None."""
    if value == "auto" or value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"num_threads must be 'auto', an integer >= 1 or None, got {value!r}")


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
