#!/usr/bin/env python
"""Sequence-level anomaly detection on the UEA/UCR sets (issue #16): one class normal, the others anomalous.

Protocol, for each set and each class c: fit on the TRAIN sequences of class c only; score every TEST sequence;
test sequences of class c are normal (0), all others anomalous (1); ROC-AUC of the scores. Reported: the mean
ROC-AUC over the classes of a set, mean (± std) over seeds.

Methods (a method's one fit can give several rows, named ``method~variant``):
- ``seqae``: ``SequenceAnomalyDetector(random_state=seed)``, the detector's defaults (``score="neighbors"``, two
  neighbours, on LSTMAutoencoder's default embedding); rows from the same fit: ``seqae~k2``, ``seqae~k3`` (mean
  distance to 2, 3 neighbours), ``seqae~reconstruction`` (the fitted autoencoder's mean reconstruction error),
  ``seqae~max`` (the larger of the neighbour distance and that error, each over its mean on the training
  sequences), ``seqae~cosine`` (cosine distance to the nearest standardised training embedding),
  ``seqae~iforest`` (IsolationForest, as
  below, on the standardised embeddings), ``seqae~floor`` (the nearest neighbour with each column's scale
  floored at the median column's: a class has 9-60 training sequences, and a column that happens to barely move
  among them would otherwise weigh most) and ``seqae~unscaled`` (the nearest neighbour in the embedding's own
  units, centred only);
- ``seqae-before``: the detector's defaults before ``score`` existed: ``score="reconstruction"`` on an
  autoencoder without crops or masked steps and a 16-value code (the step budget of issue #16 included);
- ``iforest-raw``: scikit-learn's IsolationForest on the zero-padded, flattened values (padded to the longest
  train/test length, standardised on the class's training sequences), ``-score_samples`` as the score;
- ``iforest-minirocket``: IsolationForest on MiniRocket features (fit on the class's training sequences) when
  aeon is importable.

Example::

    PYTHONPATH=src .venv/bin/python benchmarks/uea_anomaly.py --seeds 3 --threads 1
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from uea import SETS, zero_pad  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ["seqae", "seqae-before", "iforest-raw", "iforest-minirocket"]
BEFORE = dict(score="reconstruction", latent_dim=16, min_crop=1.0, mask_fraction=0.0, embedding="latent")


def _cosine_nearest(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """1 - the largest cosine similarity of each query to the (standardised) training embeddings."""
    unit = lambda a: a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)  # noqa: E731
    return 1.0 - (unit(queries) @ unit(reference).T).max(axis=1)


def _iforest(reference: np.ndarray, queries: np.ndarray, seed: int) -> np.ndarray:
    """IsolationForest fitted on standardised training features (raw values or embeddings); higher = more
    abnormal."""
    from sklearn.ensemble import IsolationForest

    return -IsolationForest(n_estimators=200, random_state=seed).fit(reference).score_samples(queries)


def scores_for(method: str, train: list[np.ndarray], test: list[np.ndarray], length: int,
               seed: int) -> dict[str, np.ndarray]:
    """{row name: scores of the test sequences}: one fit of ``method``, and the rows read from that fit."""
    if method.startswith("seqae"):
        from seqae import SequenceAnomalyDetector
        from seqae.detection.neighbors import knn_distance
        det = SequenceAnomalyDetector(random_state=seed, **(BEFORE if method == "seqae-before" else {})).fit(train)
        rows = {method: det.decision_function(test)}
        if method == "seqae":
            queries = det._standardised(det.autoencoder_.transform(test))
            rows["seqae~k2"] = knn_distance(det.reference_embeddings_, queries, 2)
            rows["seqae~k3"] = knn_distance(det.reference_embeddings_, queries, 3)
            rows["seqae~reconstruction"] = det.autoencoder_.reconstruction_error(test)
            # the larger of the two, each in units of its mean over the training sequences (the series
            # detector's latent_mix="max"); det.decision_scores_ are the training sequences' neighbour distances
            train_error = float(det.autoencoder_.reconstruction_error(train).mean())
            rows["seqae~max"] = np.maximum(rows[method] / max(float(det.decision_scores_.mean()), 1e-12),
                                           rows["seqae~reconstruction"] / max(train_error, 1e-12))
            rows["seqae~cosine"] = _cosine_nearest(det.reference_embeddings_, queries)
            rows["seqae~iforest"] = _iforest(det.reference_embeddings_, queries, seed)
            embedded = det.autoencoder_.transform(train), det.autoencoder_.transform(test)
            scale = det.embedding_scale_
            for row, unit in (("seqae~floor", np.maximum(scale, np.median(scale))), ("seqae~unscaled", 1.0)):
                rows[row] = knn_distance(embedded[0] / unit, embedded[1] / unit, 1)
        return rows
    if method == "iforest-raw":
        A, B = zero_pad(train, length).reshape(len(train), -1), zero_pad(test, length).reshape(len(test), -1)
    else:
        from aeon.transformations.collection.convolution_based import MiniRocket
        A3 = zero_pad(train, length).transpose(0, 2, 1).astype(np.float64)
        B3 = zero_pad(test, length).transpose(0, 2, 1).astype(np.float64)
        mr = MiniRocket(random_state=seed).fit(A3)
        A, B = mr.transform(A3), mr.transform(B3)
    mean, std = A.mean(axis=0), A.std(axis=0)
    std[std == 0] = 1.0
    return {method: _iforest((A - mean) / std, (B - mean) / std, seed)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--output", type=Path, default=RESULTS / "uea_anomaly.md")
    args = p.parse_args(argv)
    import torch
    from sklearn.metrics import roc_auc_score

    from seqae.datasets import load_uea
    if args.threads:
        torch.set_num_threads(args.threads)
    methods = [m for m in args.methods.split(",") if m]
    try:
        import aeon  # noqa: F401
    except ImportError:
        if "iforest-minirocket" in methods:
            methods.remove("iforest-minirocket")
            print("# iforest-minirocket: aeon not importable, skipped", file=sys.stderr)
    sets = args.sets.split(",")
    table: dict[tuple[str, str], list[float]] = {}
    seconds: dict[tuple[str, str], float] = {}
    rows: list[str] = []   # row names in order of appearance
    for s in sets:
        (Xtr, ytr, _), (Xte, yte, _) = load_uea(s, "train"), load_uea(s, "test")
        length = max(len(x) for x in Xtr + Xte)
        for m in methods:
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                aucs: dict[str, list[float]] = {}
                for c in np.unique(ytr):
                    train = [x for x, label in zip(Xtr, ytr) if label == c]
                    for row, score in scores_for(m, train, Xte, length, seed).items():
                        aucs.setdefault(row, []).append(roc_auc_score((np.asarray(yte) != c).astype(int), score))
                for row, values in aucs.items():
                    table.setdefault((s, row), []).append(float(np.mean(values)))
                    if row not in rows:
                        rows.append(row)
                    print(f"{s:16s} {row:22s} seed {seed}: mean ROC-AUC over {len(values)} classes "
                          f"{np.mean(values):.3f}", flush=True)
                seconds[(s, m)] = seconds.get((s, m), 0.0) + time.perf_counter() - t0
    command = "python benchmarks/uea_anomaly.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = ["# Sequence-level anomaly detection on UEA/UCR sets (issue #16)", "",
             f"Command: `{command}`  ", f"Date: {time.strftime('%Y-%m-%d %H:%M')}  ", "",
             __doc__.split("\n\n", 1)[1].split("Example::")[0].strip(), "",
             "| method | " + " | ".join(sets) + " | mean | s per seed (all classes, all sets) |",
             "|---|" + "---|" * (len(sets) + 2)]
    for m in rows:
        vals = [np.mean(table[(s, m)]) for s in sets]
        cells = [f"{np.mean(table[(s, m)]):.3f}" + (f" ±{np.std(table[(s, m)]):.3f}" if args.seeds > 1 else "")
                 for s in sets]
        total = f"{sum(seconds[(s, m)] for s in sets) / args.seeds:.0f}" if (sets[0], m) in seconds else "same fit"
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {np.mean(vals):.3f} | {total} |")
    report = "\n".join(lines) + "\n"
    print(report)
    args.output.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
