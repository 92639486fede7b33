"""How seqae runs on the machine: intra-op threads, Python's garbage collector, the size of inference batches,
and scoring passes that run several batches side by side."""
from __future__ import annotations

import collections
import contextlib
import gc
import itertools
import math
import numbers
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import torch

from seqae.preprocessing.batching import length_grouped_batches

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


# Fewest rows in a batch when a collection is cut into more batches so that every worker of a scoring pass has one.
MIN_PARALLEL_ROWS = 64
# Fewest rows x steps per batch when the steps cap is shared among workers (see inference_batches).
MIN_PARALLEL_STEPS = 4096


def inference_batches(lengths: np.ndarray, workers: int = 1) -> list[np.ndarray]:
    """Indices of each inference batch: grouped by length, at most INFERENCE_ROWS rows and INFERENCE_STEPS
    rows x padded length. With several ``workers`` (scoring_pass), small enough that each gets one (down to
    MIN_PARALLEL_ROWS), and the steps cap shared among them (down to MIN_PARALLEL_STEPS), so that the batches
    being scored at once hold about what one batch held on one thread, whatever the number of cores. Two workers
    scored the 7,752 windows of case I as fast with 16k steps per batch as with 32k (109,402 against 109,150 and
    119,907 against 113,198 windows/s; run notes: ``git show 3a3a251:benchmarks/results/perf.md``)."""
    rows, steps = INFERENCE_ROWS, INFERENCE_STEPS
    if workers > 1:
        rows = min(rows, max(MIN_PARALLEL_ROWS, math.ceil(len(lengths) / workers)))
        steps = max(MIN_PARALLEL_STEPS, steps // workers)
    batches = length_grouped_batches(lengths, rows, max_steps=steps)
    # A lone last row is scored with the previous batch: on one row a matrix product may run as a matrix-vector
    # product, which rounds differently from the matrix product of two or more, so a row's result would depend
    # on how many rows the collection had (and a stream that scores windows as they come could not give the
    # bits of a batch; seqae.detection.stream). On the CPU seqae.nn.linear makes the products batch-invariant;
    # the nn.LSTM path (bidirectional models) and GPUs still take torch's own.
    if len(batches) > 1 and len(batches[-1]) == 1 and lengths[batches[-1][0]] == lengths[batches[-2][-1]]:
        batches[-2:] = [np.concatenate(batches[-2:])]
    return batches


# Least work per training step, in multiply-adds of the widest layer's recurrent product (rows x 4H x H), at which
# num_threads="auto" trains on all cores: 32 rows of H = 96. With the AVX-512 kernels, on an idle 2-core machine
# two threads trained 32 rows of H = 100 1.8x faster than one (6.92 against 12.50 ms per step) and H = 128 1.7x,
# H = 64 1.46x and H = 32 1.19x (0.77 against 0.92 ms); beside one busy process two threads were 1.17x (H = 100)
# to 1.75x (H = 32) slower than one. Small models keep one thread: their gain idle is smaller than their loss
# beside a busy process (benchmarks/perf.py --probe fit-threads; benchmarks/results/perf.md).
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

    Why one thread for small models: their steps are short, so threads gain little (a step of case A, 32
    windows of H = 32: 0.92 ms on one thread, 0.77 on two, idle), and when other processes share the cores each
    parallel region waits for a descheduled thread (with one other busy process: 1.52 ms on two threads against
    0.87 on one; ``benchmarks/perf.py --probe fit-threads``). With torch's own LSTM it was
    worse: 4,161 ms against 14.9 (``benchmarks/perf.py --probe threads``). Why all cores for
    larger models: two threads trained a step of case C (32 sequences of 180 steps, H = 100) in 6.9 ms against
    12.5, and one of H = 128 (50 steps) in 5.4 against 9.0, on an idle 2-core machine (the same probe); beside a
    busy process they were 1.2x slower than one thread (C: 15.0 against 12.8 ms), so pass
    ``num_threads=1`` on a shared machine. Scoring a collection of several batches does not split rows over
    threads but gives each thread whole batches (:func:`scoring_pass`); a single batch is split over all cores
    (``scoring=True``).
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


_Result = TypeVar("_Result")


def scoring_workers(num_threads: int | str | None, device: torch.device) -> int:
    """How many batches a scoring pass runs side by side: ``num_threads`` (torch's thread count for ``"auto"``
    and None) on the CPU, one on a GPU."""
    if device.type != "cpu":
        return 1
    return torch.get_num_threads() if num_threads in ("auto", None) else int(num_threads)


def scoring_pass(lengths: np.ndarray, num_threads: int | str | None, device: torch.device,
                 work: Callable[[np.ndarray], _Result]) -> Iterator[tuple[np.ndarray, _Result]]:
    """``(index, work(index))`` for every inference batch of a collection of ``lengths``, in batch order, without
    autograd and with Python's cyclic garbage collector paused (the caller's code between items runs so too).

    On the CPU with several threads (:func:`scoring_workers`), each thread scores whole batches on its own, one
    intra-op thread each, instead of all threads splitting every batch's rows. Why: rows split over threads meet
    at the end of every operator, so a thread that the system deschedules holds up the other, and a waiting
    OpenMP thread spins on its core. Scoring 7,752 windows of case I, whole batches per thread against rows split
    over two threads: 98,962 against 83,190 windows/s idle (110,477 against 109,891 in a calmer phase), and
    63,447 against 44,682 beside one busy process, where one thread alone scored 65,458 (run notes:
    ``git show 3a3a251:benchmarks/results/perf.md``). At most two batches per worker are in flight and
    the workers share the rows x steps cap of one batch (:func:`inference_batches`), so memory does not grow
    with the number of cores; the kernels release the GIL.
    """
    workers = scoring_workers(num_threads, device)
    batches = inference_batches(lengths, workers)
    with torch.inference_mode(), cyclic_gc_paused():
        if workers == 1 or len(batches) == 1:
            with torch_threads(num_threads, device, scoring=True):
                for index in batches:
                    yield index, work(index)
            return

        def task(index: np.ndarray) -> _Result:
            with torch.inference_mode():      # autograd's mode is per thread
                return work(index)

        # torch_threads(1) before the pool starts: a new thread takes torch's thread count at its first operator.
        with torch_threads(1, device), ThreadPoolExecutor(workers, thread_name_prefix="seqae-score") as pool:
            queue = iter(batches)
            pending = collections.deque((i, pool.submit(task, i)) for i in itertools.islice(queue, 2 * workers))
            try:
                while pending:
                    index, future = pending.popleft()
                    result = future.result()
                    following = next(queue, None)
                    if following is not None:
                        pending.append((following, pool.submit(task, following)))
                    yield index, result
            finally:
                for _, future in pending:       # the caller stopped early, or a batch failed
                    future.cancel()
