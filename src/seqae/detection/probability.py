"""Scores as probabilities of being an outlier, and the confidence of a 0/1 label, as PyOD defines them
(``predict_proba`` with ``method="linear"`` or ``"unify"``; ``predict_confidence``), so that PyOD users find the
same numbers under the same names. Both are computed against the training scores (``decision_scores_``).
"""
from __future__ import annotations

import numpy as np
from scipy.special import erf
from scipy.stats import binom

PROBA_METHODS = ("linear", "unify")


def outlier_probability(train_scores: np.ndarray, scores: np.ndarray, method: str = "linear") -> np.ndarray:
    """Probability of being an outlier per score, ``(n,)`` in [0, 1].

    ``"linear"``: the scores min-max scaled by the training scores' range, clipped to [0, 1]. ``"unify"``
    (Kriegel et al., SDM 2011): ``erf((s - mean) / (std * sqrt(2)))`` of the training scores, clipped to [0, 1],
    so a score at or below the training mean is 0.
    """
    if method not in PROBA_METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, PROBA_METHODS))}, got {method!r}")
    train = np.asarray(train_scores, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if method == "linear":
        low, high = train.min(), train.max()
        span = high - low
        p = (s - low) / span if span > 0 else (s > high).astype(np.float64)
    else:
        sigma = train.std()
        p = erf((s - train.mean()) / (sigma * np.sqrt(2))) if sigma > 0 else (s > train.mean()).astype(np.float64)
    return np.clip(p, 0.0, 1.0)


def label_confidence(train_scores: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                     contamination: float) -> np.ndarray:
    """Confidence in each 0/1 label, ``(n,)`` in [0, 1] (Perini et al., ECML PKDD 2020, "ExCeeD", as PyOD).

    A score's outlier probability is the Bayesian estimate ``(1 + k) / (2 + n)`` from the ``k`` of ``n``
    training scores at or below it; the confidence that it is an outlier is the probability that, among ``n``
    draws, more than the expected ``n - floor(n * contamination)`` inliers fall below it:
    ``1 - Binom(n, p).cdf(n - floor(n * contamination))``. For a point labelled 0, one minus that.
    """
    train = np.sort(np.asarray(train_scores, dtype=np.float64))
    n = len(train)
    k = np.searchsorted(train, np.asarray(scores, dtype=np.float64), side="right")
    p = (1.0 + k) / (2.0 + n)
    outlier = 1.0 - binom.cdf(n - int(n * contamination), n, p)
    return np.where(np.asarray(labels) == 1, outlier, 1.0 - outlier)
