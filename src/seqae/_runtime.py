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


# Least work per training step, in multiply-adds of the widest layer's recurrent product (rows x 4H x H), at which
# num_threads="auto" trains on all cores: 32 rows of H = 96. On two threads of an idle 2-core machine, 32 rows of
# H = 100 and 128 trained 1.25-1.3x faster; H = 64 gained nothing clear (7.3 against 7.5 ms per step) and H = 32
# lost (4.3 against 3.6 ms; benchmarks/perf.py --probe fit-threads).
FIT_THREADS_MIN_STEP_WORK = 32 * 4 * 96 * 96


def recurrent_step_work(rows: int, hidden_sizes) -> int:
    """Multiply-adds of one time step's recurrent product, ``rows x 4H x H``, for the widest LSTM layer."""
    return rows * max(4 * h * h for h in hidden_sizes)


@contextlib.contextmanager
def torch_threads(num_threads: int | str | None, device: torch.device, scoring: bool = False, step_work: int = 0):
    """Run a block with ``num_threads`` intra-op CPU threads, then restore the caller's setting.

    ``num_threads``: an int; None keeps torch's setting; ``"auto"`` (the estimators' default) means torch's
    setting, normally one thread per core, for scoring (``scoring=True``) and for training a model with enough
    work per step (``step_work``, see :func:`recurrent_step_work`, at least ``FIT_THREADS_MIN_STEP_WORK``), and
    one thread for training a smaller one.

    Why one thread for small models: their steps are short, so threads gain nothing (a step of case A, 32
    windows of H = 32: 3.55 ms on one thread, 4.25 on two, idle), and when other processes share the cores each
    parallel region waits for a descheduled thread (with one other busy process: 15.8 ms on two threads
    against 3.1 on one; ``benchmarks/perf.py --probe fit-threads``). With torch's own LSTM it was worse: 4,161
    ms against 14.9 (``benchmarks/perf.py --probe threads``, first session). Why all cores for larger models:
    two threads trained a step of case C (32 sequences of 180 steps, H = 100) in 27.2 ms against 34.1, and one
    of H = 128 (50 steps) in 23.7 against 30.9, on an idle 2-core machine (the same probe); beside a busy
    process they were 2-2.7x slower than one thread (C: 97 against 36 ms), so pass ``num_threads=1`` on a
    shared machine. Why
    all cores for scoring: its batches are large (1024 rows), two threads scored 1.6-1.9x faster than one on an
    idle machine (``benchmarks/results/perf.md``), and only 1.3x slower (312 against 243 ms for 7,752 windows)
    with another process busy.
    """
    if num_threads == "auto":
        num_threads = None if scoring or step_work >= FIT_THREADS_MIN_STEP_WORK else 1
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
