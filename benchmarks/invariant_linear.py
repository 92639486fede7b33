#!/usr/bin/env python
"""The probe behind ``seqae.nn.linear``: does a row's float32 product depend on the rows beside it, and what
does the blocked product cost in scoring?

1. Mismatches: for layers of the sizes the default models use, the rows 150-151 of a 600-row product against
   the same two rows alone, with torch's plain product, a float64 product rounded to float32, and
   ``invariant_linear`` (blocks of ``BLOCK_ROWS``); counted over 200 random layers.
2. Scoring: ``AnomalyDetector.decision_function`` on 100,000 points (1 and 25 channels, a detector fitted for one
   epoch on the first 5,000), with each of the three products in place of ``invariant_linear``, twice each,
   one torch thread.

    PYTHONPATH=src python benchmarks/invariant_linear.py
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

import seqae.nn.fused_lstm as fused_lstm
import seqae.nn.linear as linear
from seqae import AnomalyDetector


def plain(x, w, b):
    return F.linear(x, w, b)


def float64(x, w, b):
    return F.linear(x.double(), w.double(), None if b is None else b.double()).to(x.dtype)


PRODUCTS = {"plain float32": plain, "float64, rounded": float64, "blocked (seqae)": linear.invariant_linear}


def mismatches() -> None:
    torch.manual_seed(0)
    bad, total = dict.fromkeys(PRODUCTS, 0), 0
    for trial in range(200):
        k, z = [(32, 16), (16, 128), (32, 1), (64, 25)][trial % 4]
        w, b, x = torch.randn(z, k), torch.randn(z), torch.randn(600, k)
        with torch.no_grad():
            for name, product in PRODUCTS.items():
                bad[name] += int((product(x, w, b)[150:152] != product(x[150:152], w, b)).sum())
        total += 2 * z
    for name, n in bad.items():
        print(f"{name}: {n} of {total} values differ between 2 rows alone and among 600")


def scoring() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    for channels in (1, 25):
        x = np.sin(np.arange(100_000) / 10)[:, None] + 0.1 * rng.standard_normal((100_000, channels))
        det = AnomalyDetector(random_state=0, epochs=1, min_steps=None, num_threads=1).fit(x[:5000])
        for name, product in list(PRODUCTS.items()) * 2:
            linear.invariant_linear = fused_lstm.invariant_linear = product
            t0 = time.perf_counter()
            det.decision_function(x)
            print(f"{channels} channel(s), {name}: {time.perf_counter() - t0:.2f} s", flush=True)
        linear.invariant_linear = fused_lstm.invariant_linear = PRODUCTS["blocked (seqae)"]


if __name__ == "__main__":
    mismatches()
    scoring()
