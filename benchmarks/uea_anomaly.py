#!/usr/bin/env python
"""Sequence-level anomaly detection on the UEA/UCR sets (issue #16): one class normal, the others anomalous.

Protocol, for each set and each class c: fit on the TRAIN sequences of class c only; score every TEST sequence;
test sequences of class c are normal (0), all others anomalous (1); ROC-AUC of the scores. Reported: the mean
ROC-AUC over the classes of a set, mean (± std) over seeds.

Methods:
- ``seqae``: ``SequenceAnomalyDetector(random_state=seed)``, the detector's defaults (its own training rule);
- ``seqae-steps``: the same with the step budget of issue #16 (``min_steps=1000, lr_schedule="cosine"``): a class
  of ArrowHead has 12 training sequences, one optimiser step per epoch under the epoch rule;
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
METHODS = ["seqae", "seqae-steps", "iforest-raw", "iforest-minirocket"]


def scores_for(method: str, train: list[np.ndarray], test: list[np.ndarray], length: int, seed: int) -> np.ndarray:
    if method.startswith("seqae"):
        from seqae import SequenceAnomalyDetector
        extra = dict(min_steps=1000, lr_schedule="cosine") if method == "seqae-steps" else {}
        return SequenceAnomalyDetector(random_state=seed, **extra).fit(train).decision_function(test)
    from sklearn.ensemble import IsolationForest
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
    forest = IsolationForest(n_estimators=200, random_state=seed).fit((A - mean) / std)
    return -forest.score_samples((B - mean) / std)


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
    for s in sets:
        (Xtr, ytr, _), (Xte, yte, _) = load_uea(s, "train"), load_uea(s, "test")
        length = max(len(x) for x in Xtr + Xte)
        for m in methods:
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                aucs = []
                for c in np.unique(ytr):
                    train = [x for x, label in zip(Xtr, ytr) if label == c]
                    score = scores_for(m, train, Xte, length, seed)
                    aucs.append(roc_auc_score((np.asarray(yte) != c).astype(int), score))
                table.setdefault((s, m), []).append(float(np.mean(aucs)))
                seconds[(s, m)] = seconds.get((s, m), 0.0) + time.perf_counter() - t0
                print(f"{s:16s} {m:18s} seed {seed}: mean ROC-AUC over {len(aucs)} classes {np.mean(aucs):.3f} "
                      f"({time.perf_counter() - t0:.1f}s)", flush=True)
    command = "python benchmarks/uea_anomaly.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = ["# Sequence-level anomaly detection on UEA/UCR sets (issue #16)", "",
             f"Command: `{command}`  ", f"Date: {time.strftime('%Y-%m-%d %H:%M')}  ", "",
             __doc__.split("\n\n", 1)[1].split("Example::")[0].strip(), "",
             "| method | " + " | ".join(sets) + " | mean | s per seed (all classes, all sets) |",
             "|---|" + "---|" * (len(sets) + 2)]
    for m in methods:
        vals = [np.mean(table[(s, m)]) for s in sets]
        cells = [f"{np.mean(table[(s, m)]):.3f}" + (f" ±{np.std(table[(s, m)]):.3f}" if args.seeds > 1 else "")
                 for s in sets]
        total = sum(seconds[(s, m)] for s in sets) / args.seeds
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {np.mean(vals):.3f} | {total:.0f} |")
    report = "\n".join(lines) + "\n"
    print(report)
    args.output.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
