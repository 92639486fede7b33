"""Latency of streaming updates (issue #18): one point per update and 100 points per update, on one thread, at the
default model size (window 64, hidden 32, latent 16), and points per second.

The detector is fitted on the first half of the shipped NYC taxi series (NAB); the stream starts from it as
history and scores the second half. Target: an update of one point under 5 ms. Writes a Markdown table to
stdout (and to ``--out``)::

    PYTHONPATH=src flock /tmp/seqae-heavy.lock .venv/bin/python benchmarks/stream.py --out benchmarks/results/stream.md
"""
from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np
import torch


def _latencies(stream, values: np.ndarray, chunk: int, updates: int) -> np.ndarray:
    out = np.empty(updates)
    for i in range(updates):
        piece = values[i * chunk:(i + 1) * chunk]
        start = time.perf_counter()
        stream.update(piece)
        out[i] = time.perf_counter() - start
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--updates", type=int, default=1000, help="updates of one point timed (100-point updates: a tenth)")
    p.add_argument("--out", help="also write the table to this file")
    p.add_argument("--quick", action="store_true", help="smoke run: one training epoch, 20 updates (figures meaningless)")
    args = p.parse_args()
    from seqae import AnomalyDetector
    from seqae.datasets import load_demo_series
    from seqae.tensorfile import write_atomic

    if args.quick:
        args.updates = 20
    torch.set_num_threads(1)
    df, _ = load_demo_series("nyc_taxi")
    values = df["value"].to_numpy()
    half = len(values) // 2
    rows = []
    for threshold in ("dynamic", "quantile"):
        det = AnomalyDetector(random_state=0, device="cpu", num_threads=1, threshold=threshold,
                              epochs=1 if args.quick else 50).fit(values[:half])
        new = values[half:]
        det.stream(history=values[:half]).update(new[:200])                   # warm-up (kernels, allocator)
        for chunk, updates in ((1, args.updates), (100, max(1, args.updates // 10))):
            updates = min(updates, len(new) // chunk)
            lat = _latencies(det.stream(history=values[:half]), new, chunk, updates)
            rows.append((threshold, chunk, updates, np.median(lat) * 1e3, np.percentile(lat, 95) * 1e3,
                         chunk * updates / lat.sum()))
    lines = ["| threshold | points per update | updates | median ms | p95 ms | points/s |", "|---|---|---|---|---|---|"]
    lines += [f"| {t} | {c} | {u} | {m:.2f} | {q:.2f} | {pps:,.0f} |" for t, c, u, m, q, pps in rows]
    text = "\n".join(lines)
    header = ("Command: `PYTHONPATH=src flock /tmp/seqae-heavy.lock .venv/bin/python benchmarks/stream.py "
              f"--updates {args.updates} --out {args.out}`\n\n"
              f"Streaming updates on one thread, default detector (window 64, hidden 32, latent 16), "
              f"NYC taxi second half after the first as history; {platform.processor() or platform.machine()}, "
              f"torch {torch.__version__}, Python {sys.version.split()[0]}.\n\n")
    print(text)
    if args.out:
        write_atomic(args.out, (header + text + "\n").encode())


if __name__ == "__main__":
    main()
