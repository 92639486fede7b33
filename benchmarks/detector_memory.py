"""Does one process's memory grow with the number of detectors it fits? (issue #17: a Dask worker's peak grew
by about 2 MB per series it ran, ``results/scale.md``.)

Fits and scores one ``AnomalyDetector`` per synthetic series of ``benchmarks/scale.py`` (its table), one after
another in this process, one torch thread, and prints the resident memory (``VmRSS``) every 25 series. The
table is made first and dropped, so what remains is the detectors' own memory; beside it, glibc's heap in use and
held (``malloc_mb``). With ``--many``, each series
goes through ``detect_many`` instead (a table of that one series, no engine): the per-series work of the
library's loop and of every engine's workers (validation, the fit, scores and events, the output frames), without
the engine.

    PYTHONPATH=src python benchmarks/detector_memory.py --series 200 --detector-params '{"epochs": 5}'
    PYTHONPATH=src python benchmarks/detector_memory.py --series 200 --detector-params '{"epochs": 5}' --many
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json

import torch

from scale import proc_status_mb, synthetic_table


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (glibc 2.33 and later)."""
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]


def malloc_mb() -> dict:
    """glibc's heap: bytes in use (handed out, not freed: small blocks plus mmapped ones) and held (the arenas
    plus mmapped blocks), in MB; empty where there is no mallinfo2."""
    try:
        fn = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return {}
    fn.restype = _MallInfo2
    info = fn()
    return {"in_use_mb": round((info.uordblks + info.hblkhd) / 2**20, 1),
            "heap_mb": round((info.arena + info.hblkhd) / 2**20, 1)}


def mapped_mb() -> dict:
    """Resident memory by kind (``/proc/self/smaps_rollup``), in MB: anonymous (the heap, Python's arenas, other
    anonymous maps) and file-backed (code and data of the libraries, mapped files); empty where not readable."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            fields = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in f if ":" in line)
                      if k in ("Rss", "Anonymous")}
    except (OSError, ValueError):
        return {}
    anonymous = fields["Anonymous"]
    return {"anon_mb": round(anonymous / 1024), "file_mb": round((fields["Rss"] - anonymous) / 1024)}


def resident_mb() -> float:
    rss = proc_status_mb("VmRSS")
    if rss is None:
        raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")
    return rss


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--series", type=int, default=200)
    p.add_argument("--length", type=int, default=5000)
    p.add_argument("--detector-params", type=json.loads, default={})
    p.add_argument("--many", action="store_true", help="each series through detect_many (see above)")
    args = p.parse_args()
    from seqae import AnomalyDetector
    from seqae.many import detect_many

    torch.set_num_threads(1)
    table = synthetic_table(args.series, args.length)
    groups = [group.reset_index(drop=True) for _, group in table.groupby("series")]
    series = [group["value"].to_numpy()[:, None] for group in groups]
    del table
    gc.collect()
    train = int(0.3 * args.length)                 # as detect_many's default train_fraction
    print(f"before the first fit: {resident_mb():.0f} MB", flush=True)
    for i, values in enumerate(series):
        if args.many:
            detect_many(groups[i], by="series", time="ts", **args.detector_params)
        else:
            detector = AnomalyDetector(random_state=i, num_threads=1, **args.detector_params).fit(values[:train])
            detector.detect_events(values)
        if (i + 1) % 25 == 0:
            gc.collect()
            print(f"after {i + 1} series: {resident_mb():.0f} MB; glibc heap {malloc_mb()}", flush=True)


if __name__ == "__main__":
    main()
