"""Make ``tests/data/vus_vectors.json``: test vectors for seqae.metrics with values from TSB-AD 1.5.

Run by hand, not in CI, in a separate environment that has the reference implementation::

    python3.11 -m venv .venv-ref
    .venv-ref/bin/pip install "numpy<2" scikit-learn
    .venv-ref/bin/pip install --no-deps tsb-ad==1.5     # only its evaluation module is used
    .venv-ref/bin/python tools/make_vus_vectors.py

TSB-AD's evaluation module needs only numpy and scikit-learn, so ``--no-deps`` avoids its heavy model
dependencies (torch, transformers, ...). The script stores, for each case, the labels (as index ranges),
the scores (rounded to 4 decimals, so the file stays small and the stored values are exactly the ones
the reference saw), binary predictions (as index ranges), and the reference numbers:

* ``vus_roc``, ``vus_pr``: ``generate_curve(labels, scores, slidingWindow, version='opt', thre)``, the call
  TSB-AD's ``get_metrics`` makes;
* ``roc_auc``, ``pr_auc``: scikit-learn's ``roc_auc_score`` and ``average_precision_score`` (what TSB-AD
  reports as AUC-ROC and AUC-PR);
* ``f1``, ``pa_f1``, ``range_f1``, ``range_recall``, ``range_precision``: TSB-AD's threshold-dependent
  metrics on the given predictions (its range-based recall uses alpha=0.2, flat bias, reciprocal
  cardinality; its range precision alpha=0).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import sklearn
from sklearn import metrics as skm

try:
    from TSB_AD.evaluation.basic_metrics import basic_metricor, generate_curve
    from TSB_AD.evaluation.metrics import get_metrics
except ImportError:  # pragma: no cover - this script is only run by hand
    sys.exit("TSB-AD is not importable; see this script's docstring for the reference environment.")

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "vus_vectors.json"


def ranges(binary: np.ndarray) -> list[list[int]]:
    padded = np.concatenate(([0], binary.astype(np.int8), [0]))
    edges = np.diff(padded)
    return [[int(s), int(e)] for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1)]


def from_ranges(n: int, rs: list[tuple[int, int]]) -> np.ndarray:
    y = np.zeros(n, dtype=int)
    for s, e in rs:
        y[s:e + 1] = 1
    return y


def smooth(x: np.ndarray, k: int) -> np.ndarray:
    return np.convolve(x, np.ones(k) / k, mode="same")


def cases(rng: np.random.Generator):
    """(name, labels, scores, sliding_window, n_thresholds), covering the shapes the metric must handle."""
    # Short series (n < thresholds, so thresholds repeat), one range, pure noise.
    y = from_ranges(200, [(120, 139)])
    yield "short_random", y, rng.random(200), 100, 250

    # Three ranges, scores correlated with the labels.
    y = from_ranges(500, [(50, 69), (200, 204), (400, 449)])
    yield "three_ranges_correlated", y, 0.6 * y + rng.random(500), 100, 250

    # Mix of long ranges and single-point anomalies.
    y = from_ranges(1000, [(100, 100), (250, 290), (500, 500), (700, 760), (900, 901)])
    yield "mixed_with_points", y, smooth(y.astype(float), 5) + 0.8 * rng.random(1000), 100, 250

    # Long series, ranges of various lengths, uniform random scores.
    y = from_ranges(3000, [(300, 329), (1000, 1199), (1800, 1803), (2500, 2579)])
    yield "long_random", y, rng.random(3000), 100, 250

    # Anomalies at the very start and the very end of the series.
    y = from_ranges(1500, [(0, 24), (700, 739), (1480, 1499)])
    yield "start_and_end", y, 0.5 * y + rng.normal(0, 0.3, 1500), 100, 250

    # Heavy ties: scores take 5 distinct values.
    y = from_ranges(800, [(150, 199), (600, 629)])
    yield "ties_5_levels", y, np.floor((0.4 * y + rng.random(800)) * 5 / 1.4) / 4, 100, 250

    # Constant scores: every threshold detects everything.
    y = from_ranges(600, [(100, 119), (400, 459)])
    yield "constant", y, np.full(600, 0.5), 100, 250

    # Only single-point anomalies.
    pts = sorted(rng.choice(np.arange(50, 1950), size=10, replace=False).tolist())
    y = from_ranges(2000, [(p, p) for p in pts])
    s = rng.random(2000)
    s[np.array(pts[:6]) + rng.integers(-3, 4, 6)] += 0.7  # some hits, slightly misaligned
    yield "single_points", y, s, 100, 250

    # Ranges 60 points apart: separate for small widths, merged for the largest ones.
    y = from_ranges(1200, [(300, 339), (400, 419), (480, 489), (900, 949)])
    yield "close_ranges_merge", y, 0.4 * smooth(y.astype(float), 15) + rng.random(1200), 100, 250

    # Scores that peak a little after the anomaly (a lagging detector), smaller window.
    y = from_ranges(2500, [(500, 539), (1500, 1519), (2200, 2279)])
    yield "lagged_w50", y, 0.7 * np.roll(y, 15) + rng.random(2500), 50, 250

    # Small window.
    y = from_ranges(1000, [(200, 219), (600, 603), (800, 849)])
    yield "window_10", y, 0.5 * y + rng.random(1000), 10, 250

    # Near-perfect scores.
    y = from_ranges(300, [(100, 129), (250, 259)])
    yield "near_perfect", y, y + 0.01 * rng.random(300), 100, 250

    # Anti-correlated scores.
    y = from_ranges(1800, [(400, 479), (1200, 1259)])
    yield "anti_correlated", y, -0.8 * y + rng.random(1800), 100, 250

    # Many short ranges, fewer thresholds.
    starts = np.sort(rng.choice(np.arange(20, 2150, 100), size=20, replace=False))
    rs = [(int(a), int(a + rng.integers(0, 12))) for a in starts]
    y = from_ranges(2200, rs)
    yield "many_ranges_thre100", y, 0.5 * smooth(y.astype(float), 7) + rng.random(2200), 100, 100

    # No border at all (sliding window 0).
    y = from_ranges(400, [(100, 149), (300, 309)])
    yield "window_0", y, 0.5 * y + rng.random(400), 0, 250

    # Odd window wider than half the series, anomalies at both ends.
    y = from_ranges(250, [(0, 9), (120, 124), (240, 249)])
    yield "odd_window_151", y, 0.4 * y + rng.random(250), 151, 250

    # Degenerate curves: one and two thresholds (with one, most points are never detected).
    y = from_ranges(500, [(100, 129), (350, 359)])
    yield "one_threshold", y, 0.5 * y + rng.random(500), 20, 1
    yield "two_thresholds", y, 0.5 * y + rng.random(500), 20, 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=20240607)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    grader = basic_metricor()
    vectors = []
    for name, labels, scores, window, thre in cases(rng):
        scores = np.round(scores.astype(float), 4)
        labels = labels.astype(int)
        # Detections: the top 8% of scores, ties included (so "constant" detects everything).
        preds = (scores >= np.quantile(scores, 0.92)).astype(int)
        t0 = time.perf_counter()
        *_, vus_roc, vus_pr = generate_curve(labels, scores, window, version="opt", thre=thre)
        elapsed = time.perf_counter() - t0
        r_recall = grader.range_recall_new(labels, preds, alpha=0.2)[0]
        r_precision = grader.range_recall_new(preds, labels, 0)[0]
        expected = {
            "vus_roc": float(vus_roc),
            "vus_pr": float(vus_pr),
            "roc_auc": float(skm.roc_auc_score(labels, scores)),
            "pr_auc": float(skm.average_precision_score(labels, scores)),
            "f1": float(grader.metric_PointF1(labels, scores, preds=preds)),
            "pa_f1": float(grader.metric_PointF1PA(labels, scores, preds=preds)),
            "range_f1": float(grader.metric_RF1(labels, scores, preds=preds)),
            "range_recall": float(r_recall),
            "range_precision": float(r_precision),
        }
        if thre == 250:
            # The stored numbers are what TSB-AD's own entry point reports with its defaults.
            reported = get_metrics(scores, labels, slidingWindow=window, pred=preds)
            assert reported["VUS-ROC"] == expected["vus_roc"] and reported["VUS-PR"] == expected["vus_pr"]
            assert reported["AUC-ROC"] == expected["roc_auc"] and reported["AUC-PR"] == expected["pr_auc"]
            assert reported["PA-F1"] == expected["pa_f1"] and reported["R-based-F1"] == expected["range_f1"]
        vectors.append({
            "name": name,
            "n": int(len(labels)),
            "sliding_window": int(window),
            "n_thresholds": int(thre),
            "label_ranges": ranges(labels),
            "prediction_ranges": ranges(preds),
            "scores": scores.tolist(),
            "expected": expected,
        })
        print(f"{name:28s} n={len(labels):5d} vus_roc={vus_roc:.6f} vus_pr={vus_pr:.6f} ({elapsed:.1f} s)")

    doc = {
        "description": "Test vectors for seqae.metrics; expected values from the reference implementations.",
        "generator": "tools/make_vus_vectors.py",
        "seed": args.seed,
        "reference": {"tsb-ad": "1.5", "numpy": np.__version__, "scikit-learn": sklearn.__version__},
        "vus_call": "generate_curve(labels, scores, sliding_window, version='opt', thre=n_thresholds)",
        "vectors": vectors,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {len(vectors)} vectors to {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
