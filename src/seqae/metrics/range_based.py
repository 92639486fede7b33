"""Range-based precision and recall for time series (Tatbul et al., NeurIPS 2018).

Anomalies are ranges of time steps, not independent points. Tatbul et al. score each real range ``R_i``
against the predicted ranges ``P`` (and each predicted range against the real ones) as::

    Recall_T(R_i, P)    = alpha * Existence(R_i, P) + (1 - alpha) * Overlap(R_i, P)
    Existence(R_i, P)   = 1 if R_i overlaps any predicted range, else 0
    Overlap(R_i, P)     = CardinalityFactor(R_i, P) * sum_j omega(R_i, R_i & P_j, delta)
    Precision_T(R, P_j) = CardinalityFactor(P_j, R) * sum_i omega(P_j, P_j & R_i, delta)

with ``omega`` the share of the range's positional weight ``delta`` that the overlap covers, and
``CardinalityFactor`` 1 when a range overlaps at most one range of the other kind and ``gamma(x)``
(``1/x`` by default) when it overlaps ``x > 1`` of them, penalising fragmented detections. Recall and
precision are the means over real and predicted ranges. Precision has no existence term (alpha = 0), as
in the paper.

With ``bias='flat'`` these agree with TSB-AD's range-based metrics. TSB-AD's front/middle/back biases
use absolute time indices where the paper uses the position inside the range, so they disagree for
non-flat biases; this module follows the paper.
"""
from __future__ import annotations

import numpy as np

from seqae.exceptions import InputError
from seqae.metrics._validation import check_binary, check_same_length

__all__ = ["range_precision", "range_recall", "range_precision_recall_f1"]

_BIASES = ("flat", "front", "middle", "back")
_CARDINALITIES = ("reciprocal", "one")


def _check_options(bias: str, cardinality: str) -> None:
    if bias not in _BIASES:
        raise InputError(f"bias must be one of {_BIASES}; got {bias!r}")
    if cardinality not in _CARDINALITIES:
        raise InputError(f"cardinality must be one of {_CARDINALITIES}; got {cardinality!r}")


def _check_alpha(alpha) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError) as exc:
        raise InputError(f"alpha must be a number in [0, 1]; got {alpha!r}") from exc
    if not 0.0 <= a <= 1.0:
        raise InputError(f"alpha must be in [0, 1]; got {alpha!r}")
    return a


def _per_range(ranges_of: np.ndarray, other: np.ndarray, bias: str, cardinality: str):
    """Score every range of the 0/1 vector ``ranges_of`` against the 0/1 vector ``other``.

    Returns ``(existence, overlap)`` arrays with one entry per range of ``ranges_of``: whether the range
    touches any range of ``other``, and its cardinality-weighted positional overlap in [0, 1]. Computed
    for all ranges at once with per-point weights and ``bincount``, so many short ranges stay cheap.
    """
    padded = np.concatenate(([0], ranges_of, [0]))
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    n_ranges = len(starts)
    if n_ranges == 0:
        return np.zeros(0), np.zeros(0)

    idx = np.flatnonzero(ranges_of)                       # every point inside some range
    rid = np.searchsorted(starts, idx, side="right") - 1  # which range it belongs to
    length = (ends - starts + 1)[rid].astype(np.float64)
    pos = (idx - starts[rid] + 1).astype(np.float64)      # 1-based position inside its range
    if bias == "flat":
        delta = np.ones_like(pos)
    elif bias == "front":
        delta = length - pos + 1
    elif bias == "back":
        delta = pos
    else:  # middle: rises to the centre, then falls
        delta = np.where(pos <= length / 2, pos, length - pos + 1)

    covered = other[idx].astype(bool)
    max_value = np.bincount(rid, weights=delta, minlength=n_ranges)
    my_value = np.bincount(rid, weights=delta * covered, minlength=n_ranges)

    # Ranges of ``other`` touching each range: count where an ``other`` run begins inside the range (at
    # the range's first point, or where ``other`` switches on). Distinct runs of ``other`` are separated
    # by at least one 0, so no run is counted twice.
    prev_other = np.concatenate(([0], other[:-1]))[idx].astype(bool)
    run_starts = covered & ((idx == starts[rid]) | ~prev_other)
    n_touching = np.bincount(rid, weights=run_starts, minlength=n_ranges)

    existence = (n_touching > 0).astype(np.float64)
    if cardinality == "reciprocal":
        card = np.where(n_touching > 1, 1.0 / np.maximum(n_touching, 1), 1.0)
    else:
        card = np.ones(n_ranges)
    return existence, card * my_value / max_value


def _prepare(labels, predictions, bias, cardinality) -> tuple[np.ndarray, np.ndarray]:
    _check_options(bias, cardinality)
    y = check_binary(labels, "labels")
    p = check_binary(predictions, "predictions")
    check_same_length(labels=y, predictions=p)
    return y, p


def range_recall(labels, predictions, alpha: float = 0.0, cardinality: str = "reciprocal",
                 bias: str = "flat") -> float:
    """Range-based recall of Tatbul et al. (2018).

    Parameters
    ----------
    labels : array-like of shape (n,)
        Ground truth 0/1; each run of 1s is one real anomaly range.
    predictions : array-like of shape (n,)
        Detections 0/1; each run of 1s is one predicted range.
    alpha : float in [0, 1], default 0.0
        Weight of the existence reward (a range counts as found as soon as one point of it is detected)
        against the overlap reward. ``alpha=0`` scores overlap only; TSB-AD's R-based-F1 uses 0.2.
    cardinality : {"reciprocal", "one"}, default "reciprocal"
        ``gamma`` for a real range overlapped by ``x > 1`` predicted ranges: ``1/x`` penalises fragmented
        detection; ``"one"`` does not penalise it.
    bias : {"flat", "front", "middle", "back"}, default "flat"
        Positional weight ``delta`` inside a range: equal, early points heavier (reward early
        detection), centre heavier, or late points heavier.

    Returns
    -------
    float
        Mean recall over real ranges, in [0, 1]; 0.0 if ``labels`` holds no anomaly.

    Raises
    ------
    seqae.exceptions.InputError
        On mismatched lengths, values other than 0/1, or an unknown option.

    Examples
    --------
    >>> labels      = [0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0]
    >>> predictions = [0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1]
    >>> range_recall(labels, predictions)
    0.5
    >>> range_recall(labels, predictions, alpha=1.0)   # both ranges touched
    1.0
    """
    a = _check_alpha(alpha)
    y, p = _prepare(labels, predictions, bias, cardinality)
    existence, overlap = _per_range(y, p, bias, cardinality)
    if len(existence) == 0:
        return 0.0
    return float(np.mean(a * existence + (1.0 - a) * overlap))


def range_precision(labels, predictions, cardinality: str = "reciprocal", bias: str = "flat") -> float:
    """Range-based precision of Tatbul et al. (2018).

    Parameters
    ----------
    labels : array-like of shape (n,)
        Ground truth 0/1.
    predictions : array-like of shape (n,)
        Detections 0/1; each run of 1s is one predicted range.
    cardinality : {"reciprocal", "one"}, default "reciprocal"
        ``gamma`` for a predicted range that overlaps ``x > 1`` real ranges.
    bias : {"flat", "front", "middle", "back"}, default "flat"
        Positional weight inside each predicted range. The paper recommends flat for precision.

    Returns
    -------
    float
        Mean precision over predicted ranges, in [0, 1]; 0.0 if nothing is predicted.

    Raises
    ------
    seqae.exceptions.InputError
        On mismatched lengths, values other than 0/1, or an unknown option.

    Examples
    --------
    >>> range_precision([0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0],
    ...                 [0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1])
    0.5
    """
    y, p = _prepare(labels, predictions, bias, cardinality)
    _, overlap = _per_range(p, y, bias, cardinality)
    if len(overlap) == 0:
        return 0.0
    return float(np.mean(overlap))


def range_precision_recall_f1(labels, predictions, alpha: float = 0.0, cardinality: str = "reciprocal",
                              bias: str = "flat") -> tuple[float, float, float]:
    """Range-based precision, recall and their harmonic mean F1.

    ``alpha``, ``cardinality`` and ``bias`` are as in :func:`range_recall`; precision uses the same
    cardinality and bias, and no existence reward.

    Returns
    -------
    (precision, recall, f1) : tuple of float
        F1 is 0.0 when precision and recall are both 0.

    Examples
    --------
    >>> range_precision_recall_f1([0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0],
    ...                           [0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1])
    (0.5, 0.5, 0.5)
    """
    recall = range_recall(labels, predictions, alpha=alpha, cardinality=cardinality, bias=bias)
    precision = range_precision(labels, predictions, cardinality=cardinality, bias=bias)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, float(f1)
