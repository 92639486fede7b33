"""Volume Under the Surface: VUS-ROC and VUS-PR (Paparrizos et al., VLDB 2022).

VUS makes ROC-AUC and PR-AUC tolerant to small misalignments between scores and labels. Each labelled
range is widened by a soft border of ``w // 2`` points on each side whose label decays as
``sqrt(1 - d / w)`` with the distance ``d``; a range-aware ROC/PR curve is computed on those soft labels
(recall is weighted by the fraction of ranges that are hit at all), and the areas are averaged over every
border width ``w = 0, 1, ..., sliding_window``.

The numbers here reproduce TSB-AD's implementation (package ``tsb-ad`` 1.5,
``generate_curve(labels, score, slidingWindow, version='opt', thre=250)``, the default of its
``get_metrics``) to floating-point rounding, including its choices that differ from a textbook curve:

* the curve is evaluated at ``n_thresholds`` score values picked at evenly spaced ranks of the sorted
  scores (not at every distinct score), and is closed by the points (0, 0) and (1, 1);
* the effective positive count is ``(P + N_labels) / 2`` where ``N_labels`` counts the original anomalies
  plus the soft border mass that is detected, and recall is capped at 1;
* precision is the soft true-positive mass over the number of detections.

TSB-AD loops in Python over widths, thresholds and ranges; this module computes the same quantities with
whole-array operations: every point gets the rank of the first threshold that detects it, and all counts
become cumulative sums over those ranks.
"""
from __future__ import annotations

import numpy as np

from seqae.exceptions import InputError
from seqae.metrics._validation import check_binary, check_both_classes, check_same_length, check_scores, label_ranges

__all__ = ["vus", "vus_roc", "vus_pr"]


def _merged_groups(starts: np.ndarray, ends: np.ndarray, half: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Labelled ranges widened by ``half`` points on each side, merged where the widened ranges touch.

    Mirrors TSB-AD's ``new_sequence``: two neighbours merge unless ``end_i + half < start_{i+1} - half``,
    and only the outer ends are clipped to the series.
    """
    separate = ends[:-1] + half < starts[1:] - half
    first = np.concatenate(([True], separate))
    last = np.concatenate((separate, [True]))
    g_starts = starts[first] - half
    g_ends = ends[last] + half
    g_starts[0] = max(g_starts[0], 0)
    g_ends[-1] = min(g_ends[-1], n - 1)
    return g_starts, g_ends


def _border_weights(sliding_window: int) -> np.ndarray:
    """``C[w, d]``: soft label at distance ``d`` outside a range for border width ``w`` (0 beyond ``w // 2``)."""
    widths = np.arange(sliding_window + 1)[:, None]
    dists = np.arange(sliding_window // 2 + 1)[None, :]
    inside = (dists >= 1) & (dists <= widths // 2)
    # d / w as TSB-AD computes it; the clip only silences sqrt of negatives outside the border.
    return np.where(inside, np.sqrt(np.clip(1.0 - dists / np.maximum(widths, 1), 0.0, None)), 0.0)


def _counts(first_hit: np.ndarray, n_thresholds: int, weights: np.ndarray | None = None) -> np.ndarray:
    """(Weighted) number of points first detected at each threshold; points never detected are left out."""
    return np.bincount(first_hit, weights=weights, minlength=n_thresholds + 1)[:n_thresholds].astype(np.float64)


def _vus_areas(labels: np.ndarray, scores: np.ndarray, sliding_window: int,
               n_thresholds: int) -> tuple[np.ndarray, np.ndarray]:
    """Range-AUC-ROC and range-AP for every border width ``0..sliding_window`` (arrays of that length + 1)."""
    n = len(labels)
    starts, ends = label_ranges(labels)
    n_pos = float(labels.sum())

    # Thresholds: the scores at evenly spaced ranks of the descending sort, as TSB-AD picks them.
    ranks = np.linspace(0, n - 1, n_thresholds).astype(int)
    thresholds = -np.sort(-scores)[ranks]  # non-increasing
    # first_hit[i]: index of the first (highest) threshold with score[i] >= threshold; the point is
    # detected at threshold k exactly when k >= first_hit[i]. first_hit == n_thresholds means never (only
    # possible with a single threshold; otherwise the last threshold is the minimum score).
    first_hit = np.searchsorted(-thresholds, -scores, side="left")
    n_pred = np.cumsum(_counts(first_hit, n_thresholds))
    hit_pos = np.cumsum(_counts(first_hit, n_thresholds, labels.astype(np.float64)))

    # Border points: (point, distance) pairs for every range and distance 1..sliding_window // 2, range by
    # range and right side before left side, as TSB-AD adds them up, so that where the borders of two
    # ranges overlap the sums (clipped at 1 below) are the same floats. Points outside the series and
    # points that are anomalies themselves (their soft label is 1 whatever is added) are dropped. Only
    # these points change with the width, so memory stays O(n) for any width.
    half_max = sliding_window // 2
    dist = np.arange(1, half_max + 1)
    pair_points = np.concatenate((ends[:, None] + dist, starts[:, None] - dist), axis=1).ravel()
    pair_dists = np.tile(np.concatenate((dist, dist)), len(starts))
    keep = (pair_points >= 0) & (pair_points < n)
    keep[keep] = labels[pair_points[keep]] == 0
    border, pair_column = np.unique(pair_points[keep], return_inverse=True)
    pair_dists = pair_dists[keep]
    border_first_hit = first_hit[border]
    weights = _border_weights(sliding_window)

    n_w = sliding_window + 1
    tp = np.empty((n_w, n_thresholds))          # soft true positives at each threshold
    existence = np.empty((n_w, n_thresholds))   # widened ranges holding at least one detection
    n_groups = np.empty(n_w)
    for w in range(n_w):
        # tp = detected anomalies + detected border mass, as cumulative sums over the first detecting threshold.
        soft = np.minimum(np.bincount(pair_column, weights=weights[w, pair_dists], minlength=len(border)), 1.0)
        tp[w] = hit_pos + np.cumsum(_counts(border_first_hit, n_thresholds, soft))

        g_starts, g_ends = _merged_groups(starts, ends, w // 2, n)
        bounds = np.empty(2 * len(g_starts), dtype=np.int64)
        bounds[0::2] = g_starts
        bounds[1::2] = g_ends + 1
        if bounds[-1] == n:
            bounds = bounds[:-1]
        group_first = np.sort(np.minimum.reduceat(first_hit, bounds)[0::2])  # earliest detection per group
        existence[w] = np.searchsorted(group_first, np.arange(n_thresholds), side="right")
        n_groups[w] = len(g_starts)

    n_labels = n_pos + tp - hit_pos  # original anomalies + detected border mass
    p_new = (n_pos + n_labels) / 2.0
    recall = np.minimum(tp / p_new, 1.0)
    tpr = recall * existence / n_groups[:, None]
    fpr = (n_pred - tp) / (n - p_new)
    precision = tp / n_pred

    zeros = np.zeros((n_w, 1))
    ones = np.ones((n_w, 1))
    tpr = np.hstack((zeros, tpr, ones))
    fpr = np.hstack((zeros, fpr, ones))
    auc = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2.0, axis=1)
    ap = np.sum(np.diff(tpr[:, :-1], axis=1) * precision, axis=1)
    return auc, ap


def check_vus_params(sliding_window, n_thresholds) -> None:
    """Raise :class:`InputError` unless the VUS parameters are a non-negative and a positive integer."""
    if isinstance(sliding_window, bool) or not isinstance(sliding_window, (int, np.integer)) or sliding_window < 0:
        raise InputError(f"sliding_window must be a non-negative integer; got {sliding_window!r}")
    if isinstance(n_thresholds, bool) or not isinstance(n_thresholds, (int, np.integer)) or n_thresholds < 1:
        raise InputError(f"n_thresholds must be a positive integer; got {n_thresholds!r}")


def _check(labels, scores, sliding_window, n_thresholds, metric) -> tuple[np.ndarray, np.ndarray]:
    y = check_binary(labels, "labels")
    s = check_scores(scores, "scores")
    check_same_length(labels=y, scores=s)
    check_both_classes(y, metric)
    check_vus_params(sliding_window, n_thresholds)
    return y, s


def vus(labels, scores, sliding_window: int = 100, n_thresholds: int = 250) -> tuple[float, float]:
    """VUS-ROC and VUS-PR together (they share almost all the work).

    Parameters
    ----------
    labels : array-like of shape (n,)
        Ground truth 0/1; both classes must occur.
    scores : array-like of shape (n,)
        Anomaly scores, higher meaning more anomalous; any finite reals.
    sliding_window : int, default 100
        The largest border width; widths ``0..sliding_window`` are averaged. TSB-AD's default is 100
        (its benchmark scripts instead pass a period estimated from the data). ``0`` gives the range-aware
        AUCs without any border.
    n_thresholds : int, default 250
        Number of score thresholds on each curve (TSB-AD's ``thre``).

    Returns
    -------
    (vus_roc, vus_pr) : tuple of float
        Both in [0, 1].

    Raises
    ------
    seqae.exceptions.InputError
        On mismatched lengths, non-0/1 or single-class labels, non-finite scores or bad parameters.

    Examples
    --------
    >>> labels = [0] * 40 + [1] * 10 + [0] * 50
    >>> roc, pr = vus(labels, labels, sliding_window=10)   # perfect scores
    >>> bool(roc > 0.95), bool(pr > 0.95)
    (True, True)
    """
    y, s = _check(labels, scores, sliding_window, n_thresholds, "vus")
    auc, ap = _vus_areas(y, s, int(sliding_window), int(n_thresholds))
    return float(np.mean(auc)), float(np.mean(ap))


def vus_roc(labels, scores, sliding_window: int = 100, n_thresholds: int = 250) -> float:
    """Volume under the range-aware ROC surface (VUS-ROC); see :func:`vus` for the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.r_[np.zeros(300), np.ones(20), np.zeros(180)]
    >>> noise = np.random.default_rng(0).random(500)
    >>> bool(vus_roc(labels, labels + noise) > vus_roc(labels, noise))
    True
    """
    y, s = _check(labels, scores, sliding_window, n_thresholds, "vus_roc")
    auc, _ = _vus_areas(y, s, int(sliding_window), int(n_thresholds))
    return float(np.mean(auc))


def vus_pr(labels, scores, sliding_window: int = 100, n_thresholds: int = 250) -> float:
    """Volume under the range-aware precision-recall surface (VUS-PR); see :func:`vus` for the parameters.

    VUS-PR is the measure TSB-AD (NeurIPS 2024) recommends as the most reliable single number.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.r_[np.zeros(300), np.ones(20), np.zeros(180)]
    >>> noise = np.random.default_rng(0).random(500)
    >>> bool(vus_pr(labels, labels + noise) > vus_pr(labels, noise))
    True
    """
    y, s = _check(labels, scores, sliding_window, n_thresholds, "vus_pr")
    _, ap = _vus_areas(y, s, int(sliding_window), int(n_thresholds))
    return float(np.mean(ap))
