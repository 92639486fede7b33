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
    if not 0.0 <= min_percent < 1.0:
        raise InputError(f"min_percent must be in [0, 1), got {min_percent}")
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
