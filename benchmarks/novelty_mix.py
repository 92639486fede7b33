#!/usr/bin/env python
"""How the latent novelty enters the score (issue #15): the same fits, mixed several ways.

The detector scores a point from E, its reconstruction error (``window_max``), and N, the mean latent novelty
of its covering windows, each divided by its mean over the training series (``mix_scale_``): e = E / mE,
n = N / mN, weighed by ``latent_weight`` (0.5). It used to add them (``latent_mix="sum"``); on noisy series
the novelty of normal windows after the training part wanders above its training mean (more windows, and
drift, after a short training part), which buries a moderate error signal (NAB ``realKnownCause/ec2_request_latency_system_failure``:
0.974 VUS-PR without the novelty, 0.575 with it), while on SMAP an unseen level lifts N far above that (A-7:
0.158 to 0.789). This script asks which mix keeps the second and loses less of the first, holding the fit fixed;
its ``max`` rule is the default since (``latent_mix="max"``).

For each case of the detection suite (``benchmarks/detection.py``: same data, training parts, standardisation,
both protocols) and each seed, ``AnomalyDetector(random_state=seed)`` is fitted once; E and N (and their
training values) are cached (``--cache DIR/mix<seed>.pkl``, a pickle of numpy arrays this script wrote; a rerun
only fits what is missing). Rules (``RULES``), on ``e = E / mE`` and ``n = N / mN``:

* ``w0``: e alone (no novelty); ``w50``: ``0.5 e + 0.5 n`` (``latent_mix="sum"``); ``w50max``: the same with each
  point's novelty the maximum, not the mean, over its covering windows (a window's code is its encoder's last
  state, which remembers the window's end best: the mean peaks before a spike, the maximum covers it);
* ``excess<c>``: ``0.5 e + 0.5 max(n - c, 0)``: novelty counts only beyond c training means (c = 1, 2, 3);
  ``excess<c>max``: the same on the maximum;
* ``z<k>``: ``0.5 e + 0.5 max((N - med) / (k x MAD), 0)``, med and MAD over the training series' N;
* ``max``: ``max(e, n)``, the order of ``latent_mix="max"``'s ``max(0.5 e, 0.5 n)``.

VUS-PR (window 100) per group on the *scores* cases, event F1 (the suite's dynamic threshold on the same scores)
on the *events* cases, written to ``--out``.

    PYTHONPATH=src python benchmarks/novelty_mix.py --seeds 0,1 --cache /tmp/mix     # ~15 min a seed, 2 cores
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import detection  # noqa: E402  (the suite's cases, data root and evaluation)
import fit_cache  # noqa: E402


def _novelty_parts(det, series, reference_starts):
    """Per point: the reconstruction score e (training-mean units), and the windows' latent novelty over the
    windows covering it, their mean (n, the library's) and their maximum (nmax), in units of mN."""
    from seqae.detection.series import _CHUNK
    from seqae.preprocessing.windows import PointAccumulator, iter_windows, window_starts
    n = len(series.values)
    rec = PointAccumulator(n, series.values.shape[1], det.score_aggregation, det.point_weight)
    means, maxes = PointAccumulator(n, 1, "mean"), PointAccumulator(n, 1, "window_max")
    for starts, windows in iter_windows(series.values, det.window, window_starts(n, det.window, 1), _CHUNK):
        errors, _, codes = det._window_outputs(windows, codes=True)
        rec.add(starts, errors)
        steps = det._novelty_steps(codes, starts, reference_starts)
        means.add(starts, steps)
        maxes.add(starts, steps)
    e = det._combine(rec.result(), None).mean(axis=1) / det.mix_scale_[0]
    return e, means.result()[:, 0] / det.mix_scale_[1], maxes.result()[:, 0] / det.mix_scale_[1]


def _fit_parts(job):
    """(group, series, parts) of one default fit: ``parts["train"]`` and ``parts["all"]`` are
    :func:`_novelty_parts` of the training series (each window skipping its own stretch of the reference, as
    the fit measures it) and of the whole series."""
    case, seed = job
    import torch
    from seqae import AnomalyDetector
    torch.set_num_threads(1)
    det = AnomalyDetector(random_state=seed, num_threads=1).fit(case.values[:case.n_train])
    train = det._validate(case.values[:case.n_train], fitted=True)
    parts = {"train": _novelty_parts(det, train, det._reference_starts(len(train.values))),
             "all": _novelty_parts(det, det._validate(case.values, fitted=True), None)}
    return case.group, case.series, parts


def _excess(c, spread="mean"):
    return lambda p, t: 0.5 * p[0] + 0.5 * np.maximum(p[_SPREAD[spread]] - c, 0.0)


def _robust_z(k):
    def rule(p, t):
        med = np.median(t[1])
        mad = max(float(np.median(np.abs(t[1] - med))), 1e-12)
        return 0.5 * p[0] + 0.5 * np.maximum((p[1] - med) / (k * mad), 0.0)
    return rule


_SPREAD = {"mean": 1, "max": 2}
# name -> f(parts, training parts) -> per-point scores; parts (e, n, nmax) as _novelty_parts gives them
RULES = {
    "w0": lambda p, t: p[0],
    "w50": lambda p, t: 0.5 * p[0] + 0.5 * p[1],
    "w50max": lambda p, t: 0.5 * p[0] + 0.5 * p[2],
    "excess1": _excess(1.0), "excess2": _excess(2.0), "excess3": _excess(3.0),
    "excess1max": _excess(1.0, "max"), "excess2max": _excess(2.0, "max"),
    "z3": _robust_z(3.0), "z6": _robust_z(6.0),
    "max": lambda p, t: np.maximum(p[0], p[1]),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    fit_cache.add_arguments(ap)
    ap.add_argument("--rules", default=",".join(RULES))
    ap.add_argument("--out", type=Path, default=HERE / "results" / "novelty_mix.md")
    args = ap.parse_args(argv)
    groups = [g for g in args.groups.split(",") if g]
    rules = {r: RULES[r] for r in args.rules.split(",") if r}
    cases = detection.load_cases(detection.data_root(args.data), groups, None)
    print(fit_cache.rule_study(args, cases, _fit_parts, rules, cache_name="mix",
                               title="Latent novelty: how it enters the score (issue #15)", script="novelty_mix.py"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
