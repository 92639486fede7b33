#!/usr/bin/env python
"""How the next-step error enters the score (issue #15): point anomalies against range anomalies, same fits.

The default detector trains a next-step head (``forecast=True``) but scores by reconstruction alone
(``forecast_weight=0``): its ``window_max`` error spreads a one-point spike over every window that covers it
(127 points for a window of 64), so a single spike ranks no higher than the noise of a whole window. The head's
error P is a per-point score: a spike shows at the spike. Weighted sums of the two errors lost VUS-PR on NAB and
SMAP when they were tried (``detection.md``, 2026-12-04), since P's noise is heavy-tailed (a squared error)
and, added everywhere, buries the moderate rise of the reconstruction error over a range anomaly. This script
asks whether a mix that lets P count only where it is extreme keeps both.

For each case of the detection suite (``benchmarks/detection.py``: data, training parts, standardisation, protocols)
and each seed, ``AnomalyDetector(random_state=seed, forecast_margin=None)`` is fitted once and its per-point parts
are cached (``--cache DIR/forecast<seed>.pkl``): R, the reconstruction score (``window_max``), and P, the next-step
error, each per point averaged over channels (weighed as the detector weighs them) in units of its mean over the
training series, and N, the windows' latent novelty in units of its training mean; the same for the training series,
its windows' novelty measured as ``fit`` measures it. Each rule makes an error E from R and P; the score is then the
detector's ``latent_mix="max"`` of E and N: ``max(0.5 E / mean(E_train), 0.5 N)``.

Rules:

* ``r``: E = R (the default's score with ``forecast_margin=None``, reproduced);
* ``sum<w>``: E = (1 - w) R + w P (the library's ``forecast_weight=w``);
* ``tail<q>``: E = max(R, R_q * P / P_q), with R_q and P_q the q-quantiles of R and P over the training series:
  P counts where it is further into its own tail than R is into its own, so that a spike's one point rises
  without P's everyday noise (which stays below P_q) lifting every point; ``tail1x<m>``: q = 1 and P counts only
  beyond m times its training maximum (``R_max * P / (m P_max)``), so that a little past its range is not enough;
  ``tail1x2`` is what ``AnomalyDetector(forecast_margin=2.0)``, the default since, scores (tested);
  ``tail<q>x<m>``: both, a quantile below 1 so that a few anomalies in the training series (which a maximum
  takes in) do not move the reference.

VUS-PR (window 100) and AUC-PR per group on the *scores* cases and event F1 (the default's dynamic rule on the
same scores) on the *events* cases, written to ``--out``.

The suite has no group of one-point anomalies (Yahoo's series, where the issue saw seqae at AUC-PR 0.011 against
a rolling z-score's 1.000, are not public here), so ``--groups`` also takes ``spikes``: **synthetic** series
(:func:`spike_cases`), a daily and a weekly cycle with noise and drift, six single-point spikes after the
training part; scores protocol only. It shows what a rule does to isolated points, not how it ranks on real data.
``spikes-whole`` is the same series fitted whole (spikes included) and evaluated whole.

    PYTHONPATH=src python benchmarks/forecast_mix.py --seeds 0 --cache /tmp/fmix --out /tmp/fmix/forecast_mix.md
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


def _parts(det, rec, fc, novelty) -> np.ndarray:
    """(3, n): R and P per point (channels weighed, each in units of its training mean, as the detector weighs
    them) and N (units of its training mean)."""
    r = det._combine(rec, None).mean(axis=1)
    return np.stack([r, det._next_step_score(fc)[:, 0], novelty[:, 0] / det.mix_scale_[1]])


def _fit_parts(job):
    """(group, series, {"train": parts, "all": parts}) of one default fit (:func:`_parts`)."""
    case, seed = job
    import torch
    from seqae import AnomalyDetector
    torch.set_num_threads(1)
    # forecast_margin=None: the scales, the novelty's above all, as they are without the next-step error
    det = AnomalyDetector(random_state=seed, num_threads=1, forecast_margin=None).fit(case.values[:case.n_train])
    train = det._validate(case.values[:case.n_train], fitted=True)
    whole = det._validate(case.values, fitted=True)
    parts = {"train": _parts(det, *det._training_parts(train)),
             "all": _parts(det, *det._error_parts(whole, forecast=True, novelty=True))}
    return case.group, case.series, parts


def spike_cases(count: int = 6, n: int = 3000, n_train: int | None = 450) -> list:
    """``count`` synthetic series (``detection.Case``, group "spikes"): ``sin(2 pi t / 48) + 0.3 sin(2 pi t / 336)``
    + N(0, 0.1) noise + a drift of 1 over the series, with six spikes of 1 to 2 (the cycle's amplitude is 1) at
    random points after ``800``; standardised on the first ``n_train`` points, evaluated after them.
    ``n_train=None``: group "spikes-whole", the same series fitted and evaluated whole (Orion's protocol for
    Yahoo and NAB: the spikes are in the training series too)."""
    group, whole = ("spikes-whole", True) if n_train is None else ("spikes", False)
    n_train = n if whole else n_train
    cases = []
    for i in range(count):
        rng = np.random.default_rng(i)
        t = np.arange(n)
        x = np.sin(2 * np.pi * t / 48) + 0.3 * np.sin(2 * np.pi * t / 336) + 0.1 * rng.standard_normal(n) + t / n
        at = rng.choice(np.arange(800, n - 10), 6, replace=False)
        x[at] += rng.choice([-1, 1], 6) * rng.uniform(1.0, 2.0, 6)
        labels = np.zeros(n, np.int64)
        labels[at] = 1
        values = ((x - x[:n_train].mean()) / x[:n_train].std())[:, None]
        cases.append(detection.Case(group, f"{group}-{i}", ("scores",), values, n_train, 0 if whole else n_train,
                                    labels, np.stack([np.sort(at), np.sort(at)], axis=1)))
    return cases


def _score(error: np.ndarray, error_train: np.ndarray, novelty: np.ndarray) -> np.ndarray:
    """The detector's latent_mix="max" of an error and the novelty, each weighed 0.5."""
    return np.maximum(0.5 * error / max(float(error_train.mean()), 1e-12), 0.5 * novelty)


def _sum(w):
    def rule(p, t):
        return _score((1 - w) * p[0] + w * p[1], (1 - w) * t[0] + w * t[1], p[2])
    return rule


def _tail(q, margin=1.0):
    def rule(p, t):
        ratio = np.quantile(t[0], q) / max(margin * float(np.quantile(t[1], q)), 1e-12)   # R_q / (m P_q)
        return _score(np.maximum(p[0], ratio * p[1]), np.maximum(t[0], ratio * t[1]), p[2])
    return rule


# name -> f(parts, training parts) -> per-point scores; parts (R, P, N) as _parts gives them
RULES = {"r": lambda p, t: _score(p[0], t[0], p[2]), "sum0.2": _sum(0.2), "sum0.5": _sum(0.5),
         "tail0.99": _tail(0.99), "tail0.999": _tail(0.999), "tail1": _tail(1.0), "tail1x2": _tail(1.0, 2.0),
         "tail1x4": _tail(1.0, 4.0), "tail1x8": _tail(1.0, 8.0), "tail0.999x2": _tail(0.999, 2.0),
         "tail0.999x4": _tail(0.999, 4.0), "tail0.99x4": _tail(0.99, 4.0), "tail0.99x8": _tail(0.99, 8.0)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    fit_cache.add_arguments(ap)
    ap.add_argument("--rules", default=",".join(RULES))
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    groups = [g for g in args.groups.split(",") if g]
    rules = {r: RULES[r] for r in args.rules.split(",") if r}
    synthetic = {"spikes": lambda: spike_cases(), "spikes-whole": lambda: spike_cases(n_train=None)}
    cases = detection.load_cases(detection.data_root(args.data), [g for g in groups if g not in synthetic], None)
    for g in groups:
        cases += synthetic[g]() if g in synthetic else []
    print(fit_cache.rule_study(args, cases, _fit_parts, rules, cache_name="forecast", script="forecast_mix.py",
                               title="The next-step error: how it enters the score (issue #15)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
