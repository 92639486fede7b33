"""Does one process's memory grow with the number of detectors it fits? (issue #17: a Dask worker's peak grew
by about 2 MB per series it ran, ``results/scale.md``.)

Fits and scores one ``AnomalyDetector`` per synthetic series of ``benchmarks/scale.py`` (its table), one after
another in this process, one torch thread, and prints the resident memory (``VmRSS``) every 25 series. The
table is made first and dropped, so what remains is the detectors' own memory. With ``--many``, each series
goes through ``detect_many`` instead (a table of that one series, no engine): the per-series work of the
library's loop and of every engine's workers (validation, the fit, scores and events, the output frames), without
the engine.

    PYTHONPATH=src python benchmarks/detector_memory.py --series 200 --detector-params '{"epochs": 5}'
    PYTHONPATH=src python benchmarks/detector_memory.py --series 200 --detector-params '{"epochs": 5}' --many
"""
from __future__ import annotations

import argparse
import gc
import json

import torch

from scale import proc_status_mb, synthetic_table


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
            print(f"after {i + 1} series: {resident_mb():.0f} MB", flush=True)


if __name__ == "__main__":
    main()
