"""Point-wise metrics: ROC-AUC, PR-AUC, precision/recall/F1 and the point-adjusted F1.

"Point-wise" means every time step is one sample, scored independently of its neighbours. These are the
classical numbers; :mod:`seqae.metrics.vus` and :mod:`seqae.metrics.range_based` are the range-aware ones.
"""
from __future__ import annotations

import numpy as np

from seqae.metrics._validation import (check_binary, check_both_classes, check_same_length, check_scores,
                                       label_ranges)

__all__ = ["roc_auc", "pr_auc", "precision_recall_f1", "point_adjust", "point_adjusted_f1"]


def _ranked_counts(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative true and false positive counts at every distinct score, highest score first.

    Tied scores form one threshold, so a block of ties enters the curve as one step (the diagonal), as in
    scikit-learn; breaking ties by position would make the AUC depend on the order of the data.
    """
    order = np.argsort(-scores, kind="stable")
    s = scores[order]
    y = labels[order].astype(np.float64)
    last_of_block = np.flatnonzero(np.diff(s) != 0)
    last_of_block = np.append(last_of_block, len(s) - 1)
    tps = np.cumsum(y)[last_of_block]
    fps = (last_of_block + 1) - tps
    return tps, fps


def roc_auc(labels, scores) -> float:
    """Area under the ROC curve of point-wise anomaly scores.

    Parameters
    ----------
    labels : array-like of shape (n,)
        Ground truth, 1 for an anomalous time step and 0 for a normal one. Both classes must occur.
    scores : array-like of shape (n,)
        Anomaly scores, higher meaning more anomalous; any finite reals.

    Returns
    -------
    float
        The ROC-AUC in [0, 1]; 0.5 for uninformative scores. Equal to
        ``sklearn.metrics.roc_auc_score(labels, scores)``.

    Raises
    ------
    seqae.exceptions.InputError
        If the inputs differ in length, labels are not 0/1 or hold a single class, or scores are not finite.

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y = check_binary(labels, "labels")
    s = check_scores(scores, "scores")
    check_same_length(labels=y, scores=s)
    check_both_classes(y, "roc_auc")
    tps, fps = _ranked_counts(y, s)
    tpr = np.concatenate(([0.0], tps / tps[-1]))
    fpr = np.concatenate(([0.0], fps / fps[-1]))
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def pr_auc(labels, scores) -> float:
    """Area under the precision-recall curve as average precision (AP).

    ``AP = sum_k (R_k - R_{k-1}) * P_k`` over the distinct score thresholds, highest first: a step function,
    without the optimistic linear interpolation of a trapezoidal PR-AUC.

    Parameters
    ----------
    labels : array-like of shape (n,)
        Ground truth 0/1; both classes must occur.
    scores : array-like of shape (n,)
        Anomaly scores, higher meaning more anomalous.

    Returns
    -------
    float
        Average precision in [0, 1]; about the anomaly rate for uninformative scores. Equal to
        ``sklearn.metrics.average_precision_score(labels, scores)``.

    Raises
    ------
    seqae.exceptions.InputError
        On mismatched lengths, non-0/1 or single-class labels, or non-finite scores.

    Examples
    --------
    >>> round(pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    y = check_binary(labels, "labels")
    s = check_scores(scores, "scores")
    check_same_length(labels=y, scores=s)
    check_both_classes(y, "pr_auc")
    tps, fps = _ranked_counts(y, s)
    precision = tps / (tps + fps)
    recall = np.concatenate(([0.0], tps / tps[-1]))
    return float(np.sum(np.diff(recall) * precision))


def _prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts, with 0 (not NaN) where a denominator is 0."""
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return float(precision), float(recall), float(f1)


def precision_recall_f1(labels, predictions) -> tuple[float, float, float]:
    """Point-wise precision, recall and F1 of binary detections.

    Parameters
    ----------
    labels : array-like of shape (n,)
        Ground truth 0/1.
    predictions : array-like of shape (n,)
        Detections 0/1 (for example ``scores >= threshold``).

    Returns
    -------
    (precision, recall, f1) : tuple of float
        Each is 0.0 where it is undefined (no detections, or no anomalies), as scikit-learn does with
        ``zero_division=0``.

    Raises
    ------
    seqae.exceptions.InputError
        On mismatched lengths or values other than 0/1.

    Examples
    --------
    >>> precision_recall_f1([0, 1, 1, 0], [0, 1, 0, 1])
    (0.5, 0.5, 0.5)
    """
    y = check_binary(labels, "labels")
    p = check_binary(predictions, "predictions")
    check_same_length(labels=y, predictions=p)
    tp = float(np.sum((y == 1) & (p == 1)))
    fp = float(np.sum((y == 0) & (p == 1)))
    fn = float(np.sum((y == 1) & (p == 0)))
    return _prf(tp, fp, fn)


def point_adjust(labels, predictions) -> np.ndarray:
    """Point-adjusted detections: one hit inside an anomalous range marks the whole range as detected.

    This is the adjustment of Xu et al. (WWW 2018) used by many deep-learning papers.

    .. warning::
       Point adjustment inflates results, often grossly: a detector that fires at random will hit most
       long anomalous ranges once and then receives credit for every point in them. Kim et al. (AAAI 2022,
       "Towards a Rigorous Evaluation of Time-Series Anomaly Detection") show random scores beating
       published methods under it. Report it only next to unadjusted and range-aware metrics (VUS,
       range-based F1), never alone.

    Parameters
    ----------
    labels : array-like of shape (n,)
        Ground truth 0/1.
    predictions : array-like of shape (n,)
        Detections 0/1.

    Returns
    -------
    numpy.ndarray of int8, shape (n,)
        A new array: ``predictions`` with every labelled range that contains at least one detection set to 1.
        Detections outside labelled ranges are kept unchanged.

    Raises
    ------
    seqae.exceptions.InputError
        On mismatched lengths or values other than 0/1.

    Examples
    --------
    >>> point_adjust([0, 1, 1, 1, 0], [0, 0, 1, 0, 1]).tolist()
    [0, 1, 1, 1, 1]
    """
    y = check_binary(labels, "labels")
    p = check_binary(predictions, "predictions")
    check_same_length(labels=y, predictions=p)
    adjusted = p.copy()
    starts, ends = label_ranges(y)
    if len(starts):
        # Hits per labelled range via a prefix sum, so the adjustment is O(n) with no loop over ranges.
        hits_before = np.concatenate(([0], np.cumsum(p, dtype=np.int64)))
        hit = (hits_before[ends + 1] - hits_before[starts]) > 0
        # Mark the covered ranges with a +1/-1 difference array and integrate it.
        marks = np.zeros(len(y) + 1, dtype=np.int64)
        np.add.at(marks, starts[hit], 1)
        np.add.at(marks, ends[hit] + 1, -1)
        adjusted[np.cumsum(marks[:-1]) > 0] = 1
    return adjusted


def point_adjusted_f1(labels, predictions) -> float:
    """F1 after :func:`point_adjust`, the "PA-F1" of the deep anomaly detection literature.

    .. warning::
       This number inflates results (see :func:`point_adjust`): random detections score high on data
       with long anomalies. Never report it alone; give the plain F1, range-based F1 and VUS next to it.

    Parameters
    ----------
    labels : array-like of shape (n,)
        Ground truth 0/1.
    predictions : array-like of shape (n,)
        Detections 0/1.

    Returns
    -------
    float
        Point-wise F1 of the adjusted detections; 0.0 when there are no detections or no anomalies.

    Raises
    ------
    seqae.exceptions.InputError
        On mismatched lengths or values other than 0/1.

    Examples
    --------
    >>> round(point_adjusted_f1([0, 1, 1, 1, 0, 0, 1, 1, 0], [0, 0, 1, 0, 0, 1, 0, 0, 0]), 4)
    0.6667
    """
    adjusted = point_adjust(labels, predictions)
    return precision_recall_f1(labels, adjusted)[2]
