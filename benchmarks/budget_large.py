#!/usr/bin/env python
"""Issue #16's check that large collections do not get slower for the same quality under the new defaults.

A synthetic collection (noisy sines and square waves of random period, 2 features, lengths 20-60) of N training
and 1,000 held-out sequences. Fitted with ``LSTMAutoencoder(random_state=s)`` (the defaults) and with the
parameters of before issue #16; reported: fit seconds, epochs, optimiser steps, why training stopped, the mean
reconstruction error of the held-out sequences, and 5-fold accuracy of a linear SVM on their embeddings
(sine vs square), each the mean over the seeds.

Example::

    PYTHONPATH=src .venv/bin/python benchmarks/budget_large.py --n 5000 --seeds 2 --threads 1
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import warnings

import numpy as np


def collection(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X, y = [], rng.integers(0, 2, n)
    for label in y:
        length = int(rng.integers(20, 61))
        t = np.arange(length)[:, None]
        phase = 2 * np.pi * (t / rng.uniform(6, 20) + rng.uniform(0, 1, size=2))
        wave = np.sin(phase) if label == 0 else np.sign(np.sin(phase))
        X.append((wave + 0.1 * rng.standard_normal((length, 2))).astype(np.float32))
    return X, y


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    import torch
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from seqae import LSTMAutoencoder
    from seqae.autoencoder import PARAMS_BEFORE_ISSUE_16
    if args.threads:
        torch.set_num_threads(args.threads)
    X, _ = collection(args.n, 0)
    X_held, y_held = collection(1000, 1)
    LSTMAutoencoder(hidden_size=4, latent_dim=2, epochs=1, min_steps=1, random_state=0).fit(X[:8])  # load kernels
    print(f"| configuration | N | fit s | epochs | steps | stop | held-out error | held-out SVM accuracy |")
    print("|---|---|---|---|---|---|---|---|")
    for name, params in [("default", {}), ("before #16", PARAMS_BEFORE_ISSUE_16)]:
        rows = []
        for seed in range(args.seeds):
            ae = LSTMAutoencoder(**params, random_state=seed)
            t0 = time.perf_counter()
            ae.fit(X)
            seconds = time.perf_counter() - t0
            n_train = len(X) - int(round(ae.validation_fraction * len(X)))
            steps = ae.n_epochs_ * math.ceil(n_train / ae.batch_size)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                acc = cross_val_score(make_pipeline(StandardScaler(), LinearSVC()), ae.transform(X_held), y_held,
                                      cv=5).mean()
            rows.append((seconds, ae.n_epochs_, steps, ae.stop_reason_, float(ae.reconstruction_error(X_held).mean()),
                         acc))
        m = lambda i: np.mean([r[i] for r in rows])  # noqa: E731
        print(f"| {name} | {args.n} | {m(0):.1f} | {m(1):.0f} | {m(2):.0f} | {'/'.join(r[3] for r in rows)} | "
              f"{m(4):.4f} | {m(5):.3f} |", flush=True)
    print("\ncommand: python benchmarks/budget_large.py " + " ".join(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
