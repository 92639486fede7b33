"""What grows in a Dask worker while ``detect_many`` runs? (issue #17; ``results/scale.md``, 1,000 series)

Runs ``detect_many`` on ``--series`` synthetic series of ``benchmarks/scale.py`` on a ``LocalCluster`` of 2
workers (one thread each, no memory limit, results written by the workers), and every 5 s asks each worker for:
the number of keys Dask holds and their size (managed memory), the resident memory (``VmRSS``), Arrow's memory
pool, and Python's live objects (count and the most common types, after a garbage collection), and the most
common key sets of the live dicts (which says whose they are), and glibc's heap: the bytes its allocator has
handed out and not had back (``in_use_mb``, ``mallinfo2``) against what it holds (``heap_mb``), which tells a
leak (in use grows) from memory freed but kept (only the heap grows). With Dask's profiler on
(``--dask-profiler``) the dicts of its call-stack trees (keys children, count, description, identifier) grow
with every series. ``--tracemalloc``: Python's allocations are traced in the workers, and at the end each
worker lists the source lines whose live allocations grew most since the sample at ``--baseline-s`` seconds.

    PYTHONPATH=src python benchmarks/worker_memory.py --series 100 --detector-params '{"epochs": 5}'
"""
from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections import Counter

from detector_memory import malloc_mb, mapped_mb, resident_mb
from scale import synthetic_table


def start_tracing(dask_worker) -> None:
    import tracemalloc

    tracemalloc.start(8)


def mark_baseline(dask_worker) -> None:
    """What traced_growth compares with: the live allocations now (after the first series, so that imports and
    one-time set-up are not counted as growth)."""
    import tracemalloc

    dask_worker._seqae_snapshot = tracemalloc.take_snapshot()


def traced_growth(dask_worker, top: int = 8) -> list[str]:
    """The source lines whose live Python allocations grew most since mark_baseline."""
    import tracemalloc

    baseline = getattr(dask_worker, "_seqae_snapshot", None)
    if baseline is None:
        return ["no baseline: the run ended before --baseline-s"]
    now = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    stats = now.compare_to(baseline, "lineno")
    return [f"{s.size_diff / 2**20:+.2f} MB {s.count_diff:+d} blocks {s.traceback[0]}" for s in stats[:top]]


def worker_state(dask_worker) -> dict:
    """One worker's memory, as described in the module's docstring."""
    import gc

    import pyarrow as pa
    from dask.sizeof import sizeof

    data = dask_worker.data
    keys = list(data.keys())
    gc.collect()
    objects = gc.get_objects()
    dict_keys = Counter(",".join(sorted(map(str, o))[:4]) for o in objects if type(o) is dict and 0 < len(o) < 8)
    return {"keys": len(keys), "managed_mb": round(sum(sizeof(data[k]) for k in keys if k in data) / 2**20, 1),
            "rss_mb": round(resident_mb()), **mapped_mb(), **malloc_mb(),
            "arrow_mb": round(pa.default_memory_pool().bytes_allocated() / 2**20, 1),
            "objects": len(objects), "top": Counter(type(o).__name__ for o in objects).most_common(4),
            "dict_keys": dict_keys.most_common(2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--series", type=int, default=100)
    p.add_argument("--detector-params", type=json.loads, default={})
    p.add_argument("--dask-profiler", action="store_true", help="keep Dask's statistical profiler in the workers "
                   "(seqae's clusters switch it off)")
    p.add_argument("--tracemalloc", action="store_true", help="trace Python's allocations in the workers and list "
                   "the lines whose live memory grew most (slows the workers)")
    p.add_argument("--baseline-s", type=float, default=30.0, help="with --tracemalloc: growth is counted from the "
                   "first sample after this many seconds")
    args = p.parse_args()
    import dask
    from distributed import Client, LocalCluster

    from seqae.many import detect_many

    table = synthetic_table(args.series, 5000)
    # As seqae detect-many --engine dask starts its workers; --dask-profiler: with Dask's profiler on.
    profile = {"distributed.worker.profile.enabled": True} if args.dask_profiler else {}
    from seqae.many import DASK_WORKER_CONFIG

    with dask.config.set({**DASK_WORKER_CONFIG, **profile}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                         memory_limit=0) as cluster, Client(cluster) as client:
        done = threading.Event()
        start = time.perf_counter()

        def sample() -> None:
            marked = False
            while not done.wait(5.0):
                if args.tracemalloc and not marked and time.perf_counter() - start >= args.baseline_s:
                    client.run(mark_baseline)
                    marked = True
                states = client.run(worker_state)
                print(f"{time.perf_counter() - start:6.0f} s", json.dumps(list(states.values())), flush=True)

        if args.tracemalloc:
            client.run(start_tracing)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        detect_many(table, by="series", time="ts", engine=client, output=tempfile.mkdtemp() + "/out",
                    **args.detector_params)
        done.set()
        sampler.join()
        print("after the run", json.dumps(list(client.run(worker_state).values())), flush=True)
        if args.tracemalloc:
            for worker, lines in client.run(traced_growth).items():
                print(f"Python allocations grown in {worker} since the start:", *lines, sep="\n  ", flush=True)


if __name__ == "__main__":
    main()
