"""Anomaly events: runs of flagged points as intervals, which is what an operator acts on.

labels (n,) 0/1 -> runs (k, 2) of inclusive [start, end] positions -> merged runs -> a DataFrame with one row
per event: where it starts and ends, its peak score and the channels that drove it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from seqae.exceptions import InputError

EVENT_COLUMNS = ("start", "end", "start_pos", "end_pos", "length", "peak", "peak_score", "severity", "channels")


def label_runs(labels) -> np.ndarray:
    """(k, 2) int64 array of inclusive ``[start, end]`` positions of the runs of non-zero labels.

    >>> label_runs([0, 1, 1, 0, 0, 1]).tolist()
    [[1, 2], [5, 5]]
    """
    flags = np.asarray(labels)
    if flags.ndim != 1:
        raise InputError(f"labels must be a 1-D array, got shape {flags.shape}")
    flags = flags.astype(bool)
    edges = np.diff(np.concatenate([[False], flags, [False]]).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return np.stack([starts, ends], axis=1).astype(np.int64) if len(starts) else np.zeros((0, 2), np.int64)


def merge_runs(runs: np.ndarray, gap: int) -> np.ndarray:
    """Merge runs separated by at most ``gap`` unflagged points (0 merges only touching runs).

    One anomaly often crosses the threshold several times (a score that dips for a few points inside it);
    counted as several events it would cost precision without telling the operator anything new.

    >>> merge_runs(np.array([[0, 2], [5, 6], [20, 21]]), gap=2).tolist()
    [[0, 6], [20, 21]]
    """
    runs = np.asarray(runs, dtype=np.int64).reshape(-1, 2)
    if gap < 0:
        raise InputError(f"gap must be >= 0, got {gap}")
    if len(runs) < 2:
        return runs.copy()
    runs = runs[np.argsort(runs[:, 0], kind="stable")]
    out = [runs[0].copy()]
    for start, end in runs[1:]:
        if start - out[-1][1] - 1 <= gap:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append(np.array([start, end]))
    return np.stack(out)


def runs_to_labels(runs: np.ndarray, n: int) -> np.ndarray:
    """(n,) int64 0/1 labels that are 1 inside the runs."""
    labels = np.zeros(n, dtype=np.int64)
    for start, end in np.asarray(runs, dtype=np.int64).reshape(-1, 2):
        labels[start:end + 1] = 1
    return labels


def adaptive_runs(scores: np.ndarray, threshold_of, *, gap: int, min_percent: float, rounds: int = 1,
                  later_min_percent: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Events of a threshold computed on the scores being labelled (the "dynamic" rule), found in rounds.

    A round is Hundman et al.'s procedure (KDD 2018, 3.2-3.3): the threshold ``threshold_of(scores)``, the runs
    above it merged within ``gap`` points (:func:`merge_runs`), then pruned (:func:`prune_runs`). One large
    anomaly raises the mean and spread the threshold is computed from, which can hide a smaller one in the same
    series: the masking that iterative outlier tests such as Rosner's generalized ESD answer by removing what
    they found and testing again. Each further round does that: the events found so far get the median of the
    other scores, and the round runs again on those scores; runs that touch an event already found are not new
    (one within ``gap`` points of it extends it). It stops after ``rounds`` rounds, or at the first round that
    finds nothing new, so that a series with one anomaly keeps one event while pruning allows. What a later
    round finds was below the clearest excursions, so its pruning may ask for more (``later_min_percent``).

    Parameters
    ----------
    scores : (n,) finite scores in time order, higher = more abnormal.
    threshold_of : callable taking (n,) scores and returning the threshold to flag them above.
    gap, min_percent : as :func:`merge_runs` and :func:`prune_runs` take them.
    rounds : int >= 1; 1 is the procedure of the paper.
    later_min_percent : float, optional
        ``min_percent`` of the rounds after the first; None: ``min_percent``.

    Returns
    -------
    runs : (k, 2) int64 inclusive positions of the events, in time order.
    flags : (n,) bool, the points above the threshold of the round that found their event.

    Examples
    --------
    >>> s = np.tile([0.0, 1.0], 500); s[100:103] = 50.0; s[700:703] = 8.0   # a large and a small excursion
    >>> mean_plus_3sd = lambda x: x.mean() + 3 * x.std()
    >>> adaptive_runs(s, mean_plus_3sd, gap=5, min_percent=0.1)[0].tolist()
    [[100, 102]]
    >>> adaptive_runs(s, mean_plus_3sd, gap=5, min_percent=0.1, rounds=2)[0].tolist()
    [[100, 102], [700, 702]]
    """
    check_adaptive_params(min_percent, rounds, later_min_percent)
    original = np.asarray(scores, dtype=np.float64)
    work = original.copy()
    runs = np.zeros((0, 2), np.int64)
    flags = np.zeros(len(original), dtype=bool)
    inside = np.zeros(len(original), dtype=bool)             # the points of the events found so far
    later = min_percent if later_min_percent is None else later_min_percent
    for round_ in range(int(rounds)):
        above = work > threshold_of(work)
        new = prune_runs(work, merge_runs(label_runs(above), gap), later if round_ else min_percent)
        new = new[[not inside[s:e + 1].any() for s, e in new]]
        if len(new) == 0:
            break
        for s, e in new:
            flags[s:e + 1] |= above[s:e + 1]
        runs = merge_runs(np.concatenate([runs, new]), gap)
        if round_ == rounds - 1:
            break                    # (a stream labels at every update: no median for a round that won't run)
        inside = runs_to_labels(runs, len(work)).astype(bool)
        if inside.all():
            break
        work[inside] = np.median(original[~inside])
    return runs, flags


def check_adaptive_params(min_percent: float, rounds: int = 1, later_min_percent: float | None = None) -> None:
    """Raise InputError for a labelling parameter :func:`adaptive_runs` would refuse, before any work (a round
    after the first may never run, so its pruning is checked here rather than where it is used)."""
    _check_min_percent("min_percent", min_percent)
    if later_min_percent is not None:
        _check_min_percent("later_min_percent", later_min_percent)
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 1:
        raise InputError(f"rounds must be an integer >= 1, got {rounds!r}")


def _check_min_percent(name: str, value) -> None:
    """The pruning's relative drop: a real number in [0, 1) (what :func:`prune_runs` and its callers check)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0.0 <= value < 1.0:
        raise InputError(f"{name} must be in [0, 1), got {value!r}")


def events_frame(runs: np.ndarray, scores: np.ndarray, threshold: float, index=None,
                 contributions: np.ndarray | None = None, channels=None, top_channels: int = 3) -> pd.DataFrame:
    """One row per event (columns ``EVENT_COLUMNS``), in time order.

    Parameters
    ----------
    runs : (k, 2) inclusive positions of each event.
    scores : (n,) the point scores the events were cut from.
    threshold : the score the events were flagged above; ``severity`` is the peak score over it (> 1 for a
        point flagged by a static threshold; a dynamic rule may flag points below ``threshold``).
    index : the input's index (a DatetimeIndex gives timestamps in ``start``/``end``); positions by default.
    contributions : (n, F) each channel's share of the score, for multivariate input.
    channels : names of the F channels.
    top_channels : at most this many channels, by their share of the event's summed score, listed in
        ``channels`` (";"-separated, the largest first): those that together make up 90% of it.
    """
    runs = np.asarray(runs, dtype=np.int64).reshape(-1, 2)
    scores = np.asarray(scores, dtype=np.float64)
    index = pd.RangeIndex(len(scores)) if index is None else index
    rows = []
    for start, end in runs:
        seg = scores[start:end + 1]
        peak = int(start + np.argmax(seg))
        names = ""
        if contributions is not None and channels is not None and contributions.shape[1] > 1:
            names = event_channels(contributions[start:end + 1].sum(axis=0), channels, top_channels)
        rows.append({"start": index[start], "end": index[end], "start_pos": int(start), "end_pos": int(end),
                     "length": int(end - start + 1), "peak": index[peak], "peak_score": float(scores[peak]),
                     "severity": float(scores[peak] / threshold) if threshold > 0 else np.inf,
                     "channels": names})
    frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    return frame.astype({"start_pos": np.int64, "end_pos": np.int64, "length": np.int64,
                         "peak_score": np.float64, "severity": np.float64,
                         # pandas 3 infers its string dtype from the names, pandas 2 object: say it, so that an
                         # empty frame and a stream's events have the same dtype as a full one
                         "channels": str})


def event_channels(error: np.ndarray, channels, top: int = 3) -> str:
    """The channels (";"-separated, the largest first, at most ``top``) that make up 90% of an event's summed
    error per channel ``error`` (F,).

    >>> event_channels(np.array([1.0, 8.0, 1.0]), ["a", "b", "c"])
    'b;a'
    """
    share = np.asarray(error, dtype=np.float64)
    share = share / max(share.sum(), np.finfo(np.float64).tiny)
    order = np.argsort(-share, kind="stable")
    keep = int(np.searchsorted(np.cumsum(share[order]), 0.9)) + 1
    return ";".join(str(channels[j]) for j in order[:min(keep, top)])


def prune_runs(scores: np.ndarray, runs: np.ndarray, min_percent: float) -> np.ndarray:
    """Drop runs whose peak does not stand out from the next lower peak (Hundman et al., KDD 2018, 3.3).

    The runs' peak scores and the highest score outside every run are sorted in decreasing order. Going down
    that list, each value is compared with the next: the runs down to the last value that is at least
    ``min_percent`` (relative) above its successor stay anomalous, the others are pruned. A run that is only
    marginally above the largest normal score is then not reported, which removes most false alarms of a low
    threshold without raising it.

    >>> s = np.zeros(100); s[10] = 10.0; s[50] = 5.0; s[80] = 4.9; s[90] = 4.8
    >>> prune_runs(s, np.array([[10, 10], [50, 50], [80, 80]]), 0.1).tolist()
    [[10, 10]]
    """
    runs = np.asarray(runs, dtype=np.int64).reshape(-1, 2)
    _check_min_percent("min_percent", min_percent)
    if len(runs) == 0:
        return runs.copy()
    scores = np.asarray(scores, dtype=np.float64)
    peaks = np.array([scores[s:e + 1].max() for s, e in runs])
    outside = np.ones(len(scores), dtype=bool)
    for s, e in runs:
        outside[s:e + 1] = False
    normal_max = float(scores[outside].max()) if outside.any() else 0.0
    # The highest normal score is sorted in with the peaks (index len(runs) stands for it).
    chain_ids = np.argsort(-np.concatenate([peaks, [normal_max]]), kind="stable")
    chain = np.concatenate([peaks, [normal_max]])[chain_ids]
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = (chain[:-1] - chain[1:]) / np.abs(chain[:-1])
    big = np.flatnonzero(drop >= min_percent)
    if len(big) == 0:
        return runs[:0].copy()
    kept = np.sort(chain_ids[:big[-1] + 1])
    return runs[kept[kept < len(runs)]]
