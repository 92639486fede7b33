"""``evaluate``: the standard set of metrics in one call (used by ``seqae evaluate`` and the benchmarks)."""
from __future__ import annotations

import math

from seqae.metrics._validation import check_binary, check_same_length, check_scores
from seqae.metrics.point import point_adjusted_f1, pr_auc, precision_recall_f1, roc_auc
from seqae.metrics.range_based import range_precision_recall_f1
from seqae.metrics.vus import check_vus_params, vus


def evaluate(labels, scores, predictions=None, sliding_window: int = 100, *, n_thresholds: int = 250,
             range_alpha: float = 0.2) -> dict[str, float]:
    """Compute the usual anomaly detection metrics for one series.

    Parameters
    ----------
    labels : array-like of shape (n,)
        Ground truth 0/1.
    scores : array-like of shape (n,)
        Anomaly scores, higher meaning more anomalous; finite reals.
    predictions : array-like of shape (n,), optional
        Binary detections (e.g. ``scores >= threshold``). When given, the threshold-dependent metrics are
        added.
    sliding_window : int, default 100
        Largest border width for VUS (see :func:`seqae.metrics.vus`).
    n_thresholds : int, default 250
        Thresholds per VUS curve.
    range_alpha : float, default 0.2
        Existence-reward weight of the range-based recall; 0.2 matches TSB-AD's "R-based-F1".

    Returns
    -------
    dict of str to float
        Always ``roc_auc``, ``pr_auc``, ``vus_roc``, ``vus_pr``; with ``predictions`` also ``precision``,
        ``recall``, ``f1`` (point-wise), ``range_precision``, ``range_recall``, ``range_f1`` (Tatbul et al.,
        flat bias, reciprocal cardinality) and ``point_adjusted_f1`` (inflated; see
        :func:`seqae.metrics.point_adjust`). The four threshold-free metrics are NaN when ``labels`` hold a
        single class (a series without anomalies, such as NAB's ``artificialNoAnomaly`` files), since they
        are undefined there; aggregate with ``numpy.nanmean``.

    Raises
    ------
    seqae.exceptions.InputError
        On mismatched lengths, labels or predictions other than 0/1, or non-finite scores.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.r_[np.zeros(300), np.ones(20), np.zeros(180)]
    >>> scores = labels + np.random.default_rng(0).random(500)
    >>> result = evaluate(labels, scores, predictions=scores > 1.0)
    >>> sorted(result)  # doctest: +NORMALIZE_WHITESPACE
    ['f1', 'point_adjusted_f1', 'pr_auc', 'precision', 'range_f1', 'range_precision', 'range_recall',
     'recall', 'roc_auc', 'vus_pr', 'vus_roc']
    >>> result["roc_auc"]
    1.0
    """
    y = check_binary(labels, "labels")
    s = check_scores(scores, "scores")
    check_same_length(labels=y, scores=s)
    p = None
    if predictions is not None:
        p = check_binary(predictions, "predictions")
        check_same_length(labels=y, predictions=p)

    n_pos = int(y.sum())
    result: dict[str, float] = {}
    if 0 < n_pos < len(y):
        result["roc_auc"] = roc_auc(y, s)
        result["pr_auc"] = pr_auc(y, s)
        result["vus_roc"], result["vus_pr"] = vus(y, s, sliding_window=sliding_window, n_thresholds=n_thresholds)
    else:
        # Undefined with one class; NaN keeps the dict's shape fixed for tables and nan-aware averages.
        for key in ("roc_auc", "pr_auc", "vus_roc", "vus_pr"):
            result[key] = math.nan
        check_vus_params(sliding_window, n_thresholds)  # bad parameters fail whatever the labels

    if p is not None:
        result["precision"], result["recall"], result["f1"] = precision_recall_f1(y, p)
        (result["range_precision"], result["range_recall"],
         result["range_f1"]) = range_precision_recall_f1(y, p, alpha=range_alpha)
        result["point_adjusted_f1"] = point_adjusted_f1(y, p)
    return result
