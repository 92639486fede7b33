#!/usr/bin/env python
"""Which points a window's error is given to (issue #15): the same fits, spread over less of each window.

``score_aggregation="window_max"`` gives every point the largest mean error among the windows that cover it, so
a short anomaly raises every point up to a window length (64) before and after it: on SMAP's short labelled
ranges (A-2, A-4: 110 points) the top-ranked points run some 50 points past each end, and a one-point spike in a
constant channel (G-2, D-8) flags 127 points. Here a window's mean error is given only to the points of a part
of it (its *span*), and each point takes the largest error among the windows whose span covers it:

* ``library``: the detector's own scores (``window_max`` with its tie-break, novelty mixed as it does);
* ``full``: span = the whole window (``window_max`` without the tie-break: the control for the rows below);
* ``half``: the central half of each window (points 16-47 of 64);
* ``quarter``: the central quarter (points 24-39);
* ``late``: the second half (points 32-63: a window's code is its last state, which knows its end best).

A point that no span covers (the first and last few of a series) takes its ``full`` value. Each variant's error
is rescaled per channel so that its mean over the training series equals the library's, then mixed with the
latent novelty as the detector mixes them (``AnomalyDetector._combine``), so that only the spread differs.

For each case of the detection suite's *scores* protocol (``benchmarks/detection.py``: same data, training parts,
standardisation) and each seed, ``AnomalyDetector(random_state=seed)`` is fitted once and every variant's scores
are cached (``--cache DIR/span<seed>.pkl``, a pickle of numpy arrays this script wrote). VUS-PR (window 100) and
AUC-PR per group on the evaluated part, written to ``--out``.

    PYTHONPATH=src python benchmarks/window_span.py --seeds 0 --cache /tmp/span      # ~12 min a seed, 2 cores
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import fit_cache  # noqa: E402

# name -> (first, last) point of a 64-step window given its error, as fractions of the window
SPANS = {"full": (0.0, 1.0), "half": (0.25, 0.75), "quarter": (0.375, 0.625), "late": (0.5, 1.0)}
VARIANTS = ("library",) + tuple(SPANS)


def window_errors(det, series) -> np.ndarray:
    """(m, F) mean error of every window (stride 1) per channel."""
    from seqae.detection.series import _CHUNK
    from seqae.preprocessing.windows import iter_windows, window_starts
    starts = window_starts(len(series.values), det.window, 1)
    return np.concatenate([det._window_outputs(w)[0].mean(axis=1)
                           for _, w in iter_windows(series.values, det.window, starts, _CHUNK)])


def spread(errors: np.ndarray, n: int, window: int, span: tuple[float, float]) -> np.ndarray:
    """(n, F): each point's largest error among the windows whose span covers it; NaN where none does. Window s
    covers points s + a .. s + b, so point p takes the maximum over s in [p - b, p - a]."""
    a, b = int(round(span[0] * window)), int(round(span[1] * window)) - 1
    m, n_features = errors.shape
    padded = np.full((b + m + window + b, n_features), -np.inf)
    padded[b:b + m] = errors                                    # padded[i] = errors[i - b]
    view = np.lib.stride_tricks.sliding_window_view(padded, b - a + 1, axis=0)   # (.., F, L)
    out = view[:n].max(axis=-1)                                 # point p: errors[p - b .. p - a]
    out[~np.isfinite(out)] = np.nan
    return out


def _scores(det, series, rec, novelty) -> dict[str, np.ndarray]:
    """{variant: (n, F) error} for one series; ``rec``/``novelty`` the library's parts of it."""
    errors = window_errors(det, series)
    n = len(series.values)
    full = spread(errors, n, det.window, SPANS["full"])
    out = {"library": rec}
    for name, span in SPANS.items():
        got = spread(errors, n, det.window, span)
        out[name] = np.where(np.isnan(got), full, got)
    return out


def _fit_parts(job):
    """(group, series, {variant: scores of the whole series}) of one default fit."""
    case, seed = job
    import torch
    from seqae import AnomalyDetector
    torch.set_num_threads(1)
    det = AnomalyDetector(random_state=seed, num_threads=1).fit(case.values[:case.n_train])
    train = det._validate(case.values[:case.n_train], fitted=True)
    whole = det._validate(case.values, fitted=True)
    rec_t, _, nov_t = det._error_parts(train, novelty=True, reference_starts=det._reference_starts(len(train.values)))
    rec_a, _, nov_a = det._error_parts(whole, novelty=True)
    parts_t, parts_a = _scores(det, train, rec_t, nov_t), _scores(det, whole, rec_a, nov_a)
    novelty = nov_a if det._uses_novelty() else None
    out = {}
    for name in VARIANTS:
        # the variant's error in the library's units, channel by channel, over the training series
        unit = rec_t.mean(axis=0) / np.maximum(parts_t[name].mean(axis=0), 1e-30)
        out[name] = det._combine(parts_a[name] * unit, None, novelty).mean(axis=1)
    return case.group, case.series, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    fit_cache.add_arguments(ap)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "window_span.md")
    args = ap.parse_args(argv)
    groups, rows = fit_cache.score_rows(args, "span", _fit_parts, lambda parts: parts)
    print(fit_cache.write_report(
        args.out, "How far a window's error reaches (issue #15)", Path(__file__).name, argv,
        "variants in the script's docstring. Mean VUS-PR / AUC-PR per group (series per group as in "
        "`detection.md`).", fit_cache.seed_tables(rows, groups, VARIANTS)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
