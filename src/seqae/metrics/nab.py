"""The Numenta Anomaly Benchmark (NAB) score (Lavin & Ahmad, 2015; NAB v1.1 scoring).

NAB labels anomalies with *windows* of timestamps and rewards early detection:

* inside a window only the first detection counts; it earns ``tp_weight * sigma(x) / sigma(-1)`` where
  ``x = -(right - i + 1) / width`` runs from -1 at the left edge of the window towards 0 at its right
  edge and ``sigma(x) = 2 / (1 + exp(5 x)) - 1``, so a detection at the very start of a window earns
  exactly ``tp_weight``;
* a window without any detection costs ``fn_weight``;
* every detection outside the windows costs ``fp_weight`` scaled by ``-sigma`` of its distance past the
  end of the preceding window, in units of that window's width minus one (``sigma`` is taken as -1 from
  3 widths on, and for detections before the first window), so detections just after a window cost
  little;
* the first ``min(floor(0.15 n), 0.15 * 5000)`` points of each series are a probationary period: nothing
  there is scored, and a window lying entirely inside it is not scored either.

The raw scores of all series are summed and normalised against the "null" detector (no detections at
all, raw score ``-fn_weight`` per scored window) and the "perfect" detector (``tp_weight`` per window)::

    normalized = 100 * (S - S_null) / (S_perfect - S_null)

This reproduces NAB's scorer (``nab/sweeper.py`` and the normalisation in ``nab/runner.py``); detections
are what NAB derives from anomaly scores as ``anomaly_score >= threshold``. Where NAB would fail
(a false positive after a window of a single point divides by zero in NAB), this module uses a
denominator of 1.

The three standard cost profiles are built in (:data:`NAB_PROFILES`, from NAB's MIT-licensed
``config/profiles.json``); :func:`load_nab_profiles` reads another file of the same format.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from seqae.exceptions import DataFileError, InputError
from seqae.metrics._validation import check_binary

__all__ = ["NABProfile", "NAB_PROFILES", "NABSeriesScore", "load_nab_profiles", "nab_profile",
           "windows_to_indices", "windows_to_labels", "nab_score", "nab_normalize"]


@dataclass(frozen=True)
class NABProfile:
    """One NAB cost profile (a "CostMatrix" in NAB's ``profiles.json``).

    ``tn_weight`` is listed in NAB's profiles but never used by its scorer; it is kept for completeness.
    """

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float
    tn_weight: float = 1.0


#: NAB's three application profiles (``config/profiles.json`` of NAB v1.1).
NAB_PROFILES: Mapping[str, NABProfile] = MappingProxyType({
    "standard": NABProfile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0),
    "reward_low_FP_rate": NABProfile("reward_low_FP_rate", tp_weight=1.0, fp_weight=0.22, fn_weight=1.0),
    "reward_low_FN_rate": NABProfile("reward_low_FN_rate", tp_weight=1.0, fp_weight=0.11, fn_weight=2.0),
})


def load_nab_profiles(path) -> dict[str, NABProfile]:
    """Read cost profiles from a file in the format of NAB's ``config/profiles.json``.

    Parameters
    ----------
    path : str or os.PathLike
        A JSON file ``{"name": {"CostMatrix": {"tpWeight": .., "fpWeight": .., "fnWeight": ..,
        "tnWeight": ..}}, ...}``.

    Returns
    -------
    dict of str to NABProfile

    Raises
    ------
    seqae.exceptions.DataFileError
        If the file cannot be read or does not have that structure.

    Examples
    --------
    >>> profiles = load_nab_profiles("NAB/config/profiles.json")  # doctest: +SKIP
    >>> profiles["standard"].fp_weight                              # doctest: +SKIP
    0.11
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(f"cannot read NAB profiles from {path}: {exc}") from exc
    if not isinstance(raw, dict) or not raw:
        raise DataFileError(f"{path}: expected a JSON object of profiles; got {type(raw).__name__}")
    profiles = {}
    for name, entry in raw.items():
        costs = entry.get("CostMatrix") if isinstance(entry, dict) else None
        if not isinstance(costs, dict):
            raise DataFileError(f"{path}: profile {name!r} has no 'CostMatrix' object")
        try:
            profiles[name] = NABProfile(name, tp_weight=float(costs["tpWeight"]),
                                        fp_weight=float(costs["fpWeight"]), fn_weight=float(costs["fnWeight"]),
                                        tn_weight=float(costs.get("tnWeight", 1.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFileError(f"{path}: profile {name!r} needs numeric tpWeight, fpWeight and fnWeight "
                                f"in its CostMatrix; got {costs!r}") from exc
    return profiles


def nab_profile(profile="standard", profiles_path=None) -> NABProfile:
    """Resolve a profile given by name (built in, or from ``profiles_path``) or as a :class:`NABProfile`.

    Examples
    --------
    >>> nab_profile("reward_low_FN_rate").fn_weight
    2.0
    """
    if isinstance(profile, NABProfile):
        return profile
    profiles = load_nab_profiles(profiles_path) if profiles_path is not None else NAB_PROFILES
    if profile not in profiles:
        raise InputError(f"unknown NAB profile {profile!r}; expected one of {sorted(profiles)}")
    return profiles[profile]


def _as_times(values, name: str) -> np.ndarray:
    """Timestamps as a comparable array: ``datetime64[ns]`` for dates, ``float64`` for plain numbers."""
    try:
        arr = np.asarray(values)
    except Exception as exc:
        raise InputError(f"{name} must be an array of timestamps; got {type(values).__name__} ({exc})") from exc
    if arr.dtype.kind in "iuf":
        return arr.astype(np.float64)
    try:
        return arr.astype("datetime64[ns]")
    except (ValueError, TypeError) as exc:
        raise InputError(f"{name} must be timestamps (datetime64, datetimes or ISO date strings such as "
                         f"'2014-04-10 07:15:00') or numbers; got dtype {arr.dtype} ({exc})") from exc


def windows_to_indices(timestamps, windows) -> np.ndarray:
    """Turn label windows given as ``[start, end]`` timestamps into inclusive index ranges.

    The timestamps are scanned in order, as NAB's scorer does: a window begins at the first timestamp
    ``>= start`` and ends at the first timestamp equal to ``end`` (or, if ``end`` is not among the
    timestamps, just before the first timestamp past it). For increasing timestamps this is simply every
    ``t`` with ``start <= t <= end``; the scan also copes with the repeated and out-of-order timestamps
    that occur in a few NAB files (daylight-saving changes), exactly as NAB does.

    Parameters
    ----------
    timestamps : array-like of shape (n,)
        The series' timestamps: datetime64 values, datetimes, ISO strings (as in NAB's CSV files) or
        plain numbers.
    windows : sequence of (start, end)
        Window limits of the same kind, e.g. one entry of NAB's ``labels/combined_windows.json``.

    Returns
    -------
    numpy.ndarray of int64, shape (k, 2)
        ``[first_index, last_index]`` per window, sorted by start.

    Raises
    ------
    seqae.exceptions.InputError
        If a window has ``start > end``, holds no timestamp, or overlaps another window, or the inputs are
        not timestamps.

    Examples
    --------
    >>> ts = ["2015-01-01 00:00", "2015-01-01 00:05", "2015-01-01 00:10", "2015-01-01 00:15"]
    >>> windows_to_indices(ts, [["2015-01-01 00:05:00.000000", "2015-01-01 00:10:00.000000"]]).tolist()
    [[1, 2]]
    """
    ts = _as_times(timestamps, "timestamps")
    if ts.ndim != 1 or ts.size == 0:
        raise InputError(f"timestamps must be a non-empty 1-D array; got shape {ts.shape}")
    if len(windows) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    lim = _as_times(windows, "windows")
    if lim.ndim != 2 or lim.shape[1] != 2:
        raise InputError(f"windows must be a sequence of [start, end] pairs; got shape {lim.shape}")
    if lim.dtype != ts.dtype:
        raise InputError(f"windows and timestamps must be of the same kind (both dates or both numbers); "
                         f"got {lim.dtype} windows for {ts.dtype} timestamps")
    n = len(ts)
    out = np.empty((len(lim), 2), dtype=np.int64)
    for k, (start, end) in enumerate(lim):
        if start > end:
            raise InputError(f"window {k} ends before it starts: [{start}, {end}]")
        at_or_after_start = ts >= start
        first = int(np.argmax(at_or_after_start)) if at_or_after_start.any() else n
        at_or_after_end = ts >= end
        if at_or_after_end.any():
            i = int(np.argmax(at_or_after_end))
            last = i if ts[i] == end else i - 1
        else:
            last = n - 1
        if first > last:
            raise InputError(f"window {k} [{start}, {end}] contains none of the timestamps "
                             f"(the series spans {ts.min()} to {ts.max()})")
        out[k] = first, last
    return _check_index_windows(out, n)


def _check_index_windows(win: np.ndarray, n: int) -> np.ndarray:
    """Sort inclusive index windows and check they lie in ``[0, n)`` and do not overlap."""
    win = win[np.argsort(win[:, 0], kind="stable")].astype(np.int64)
    if np.any(win[:, 0] > win[:, 1]) or np.any(win[:, 0] < 0) or np.any(win[:, 1] >= n):
        raise InputError(f"index windows must satisfy 0 <= start <= end < {n}; got {win.tolist()}")
    if len(win) > 1 and np.any(win[1:, 0] <= win[:-1, 1]):
        k = int(np.flatnonzero(win[1:, 0] <= win[:-1, 1])[0])
        raise InputError(f"windows must not overlap; windows at indices {win[k].tolist()} and "
                         f"{win[k + 1].tolist()} do")
    return win


def _index_windows(windows, n: int) -> np.ndarray:
    """Windows given directly as ``[first_index, last_index]`` pairs."""
    if len(windows) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    win = np.asarray(windows)
    if win.ndim != 2 or win.shape[1] != 2 or win.dtype.kind not in "iu":
        raise InputError(f"without timestamps, windows must be [first_index, last_index] integer pairs; "
                         f"got an array of shape {win.shape} and dtype {win.dtype}")
    return _check_index_windows(win, n)


def windows_to_labels(timestamps, windows) -> np.ndarray:
    """A 0/1 label per timestamp: 1 inside any window, 0 elsewhere.

    Parameters
    ----------
    timestamps : array-like of shape (n,)
        Strictly increasing timestamps (see :func:`windows_to_indices`).
    windows : sequence of (start, end)
        Window limits, e.g. from NAB's ``labels/combined_windows.json``.

    Returns
    -------
    numpy.ndarray of int8, shape (n,)

    Examples
    --------
    >>> windows_to_labels([0, 1, 2, 3, 4, 5], [[1, 2], [4.5, 9]]).tolist()
    [0, 1, 1, 0, 0, 1]
    """
    ts = _as_times(timestamps, "timestamps")
    win = windows_to_indices(ts, windows)
    marks = np.zeros(len(ts) + 1, dtype=np.int64)
    np.add.at(marks, win[:, 0], 1)
    np.add.at(marks, win[:, 1] + 1, -1)
    return (np.cumsum(marks[:-1]) > 0).astype(np.int8)


@dataclass(frozen=True)
class NABSeriesScore:
    """NAB score of one series under one profile, with what :func:`nab_normalize` needs.

    Attributes
    ----------
    score : float
        Raw NAB score of the detections.
    null_score : float
        Raw score of the null detector (no detections): ``-fn_weight`` per scored window.
    perfect_score : float
        ``tp_weight`` per window (NAB counts every labelled window here, scored or not).
    tp, fp, fn, tn : int
        Point counts outside the probationary period: detections inside / outside windows, window points
        without / other points without a detection.
    n_windows, n_scored_windows : int
        Windows in the series, and those not entirely inside the probationary period.
    profile : str
        Name of the cost profile used.
    """

    score: float
    null_score: float
    perfect_score: float
    tp: int
    fp: int
    fn: int
    tn: int
    n_windows: int
    n_scored_windows: int
    profile: str


def _scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    """NAB's ``2 * sigmoid(-5 x) - 1``, and exactly -1 from ``x >= 3`` on (NAB's "far behind" cut-off)."""
    position = np.asarray(position, dtype=np.float64)
    with np.errstate(over="ignore"):  # exp overflows to inf for far FPs; the cut-off replaces those anyway
        value = 2.0 * (1.0 / (1.0 + np.exp(5.0 * position))) - 1.0
    return np.where(position >= 3.0, -1.0, value)


def nab_score(predictions, windows, timestamps=None, *, profile="standard", profiles_path=None,
              probationary_percent: float = 0.15) -> NABSeriesScore:
    """Raw NAB score of binary detections on one series.

    Parameters
    ----------
    predictions : array-like of shape (n,)
        Detections 0/1 (NAB derives them as ``anomaly_score >= threshold``).
    windows : sequence of (start, end)
        The series' label windows: timestamps if ``timestamps`` is given (e.g. an entry of NAB's
        ``combined_windows.json``), otherwise inclusive integer indices.
    timestamps : array-like of shape (n,), optional
        The series' timestamps; see :func:`windows_to_indices`.
    profile : str or NABProfile, default "standard"
        Cost profile: a name from :data:`NAB_PROFILES` (or from ``profiles_path``), or a profile object.
    profiles_path : str or os.PathLike, optional
        A ``profiles.json`` in NAB's format to take named profiles from instead of the built-in copy.
    probationary_percent : float, default 0.15
        Share of the series (capped at ``probationary_percent * 5000`` points) left unscored, as in NAB.

    Returns
    -------
    NABSeriesScore
        The raw score with the null and perfect raw scores needed to normalise (:func:`nab_normalize`).

    Raises
    ------
    seqae.exceptions.InputError
        On bad predictions, windows, timestamps, profile or ``probationary_percent``.

    Examples
    --------
    One window of 5 points, detected at its first point; a probationary period of 0 keeps it simple:

    >>> r = nab_score([0, 0, 1, 0, 0, 0, 0, 0], [[2, 6]], probationary_percent=0.0)
    >>> r.score, r.null_score, r.perfect_score
    (1.0, -1.0, 1.0)
    """
    pred = check_binary(predictions, "predictions").astype(bool)
    n = len(pred)
    if timestamps is not None:
        ts = _as_times(timestamps, "timestamps")
        if len(ts) != n:
            raise InputError(f"inputs must have the same length; predictions has {n}, timestamps has {len(ts)}")
        win = windows_to_indices(ts, windows)
    else:
        win = _index_windows(windows, n)
    prof = nab_profile(profile, profiles_path)
    try:
        pp = float(probationary_percent)
    except (TypeError, ValueError) as exc:
        raise InputError(f"probationary_percent must be a number in [0, 1); got {probationary_percent!r}") from exc
    if not 0.0 <= pp < 1.0:
        raise InputError(f"probationary_percent must be in [0, 1); got {probationary_percent!r}")

    # Same expression as NAB, so that the boundary falls on the same point (it may be a float, e.g. 750.0).
    probation = min(math.floor(pp * n), pp * 5000)
    index = np.arange(n)
    scorable = index >= probation
    detected = pred & scorable

    left, right = win[:, 0], win[:, 1]
    width = (right - left + 1).astype(np.float64)
    in_window = np.zeros(n, dtype=bool)
    if len(win):
        marks = np.zeros(n + 1, dtype=np.int64)
        np.add.at(marks, left, 1)
        np.add.at(marks, right + 1, -1)
        in_window = np.cumsum(marks[:-1]) > 0

    # Windows: only the first scorable detection counts, and it is the best one because the reward
    # decreases across the window.
    scored = right >= probation
    det_idx = np.flatnonzero(detected)
    if len(det_idx):
        j = np.searchsorted(det_idx, left, side="left")  # first detection at or after each window start
        first = det_idx[np.minimum(j, len(det_idx) - 1)]
        found = (j < len(det_idx)) & (first <= right)
    else:
        first = left.copy()
        found = np.zeros(len(win), dtype=bool)
    max_tp = float(_scaled_sigmoid(-1.0))
    tp_reward = _scaled_sigmoid(-(right - first + 1) / width) * prof.tp_weight / max_tp
    window_part = np.where(found, tp_reward, np.where(scored, -prof.fn_weight, 0.0))

    # False positives: weighted by the distance past the preceding window (none before: full cost).
    fp_idx = np.flatnonzero(detected & ~in_window)
    prev = np.searchsorted(right, fp_idx, side="left") - 1
    has_prev = prev >= 0
    prev_c = np.maximum(prev, 0)
    if len(win):
        denom = np.maximum(width[prev_c] - 1.0, 1.0)  # NAB divides by width - 1 and fails on 1-point windows
        position = np.where(has_prev, (fp_idx - right[prev_c]) / denom, 3.0)
    else:
        position = np.full(len(fp_idx), 3.0)
    fp_part = _scaled_sigmoid(position) * prof.fp_weight

    return NABSeriesScore(
        score=float(np.sum(fp_part) + np.sum(window_part)),
        null_score=-prof.fn_weight * int(scored.sum()),
        perfect_score=prof.tp_weight * len(win),
        tp=int(np.sum(detected & in_window)),
        fp=int(len(fp_idx)),
        fn=int(np.sum(~pred & in_window & scorable)),
        tn=int(np.sum(~pred & ~in_window & scorable)),
        n_windows=int(len(win)),
        n_scored_windows=int(scored.sum()),
        profile=prof.name,
    )


def nab_normalize(series_scores: Iterable[NABSeriesScore]) -> float:
    """Normalised NAB score of a set of series: ``100 * (S - S_null) / (S_perfect - S_null)``.

    ``S``, ``S_null`` and ``S_perfect`` are the sums over the series of the raw, null and perfect scores,
    as NAB's runner computes the final benchmark number. The null detector scores 0 and the perfect
    detector 100; a detector can score below 0.

    Parameters
    ----------
    series_scores : iterable of NABSeriesScore
        One per series, all under the same profile.

    Returns
    -------
    float

    Raises
    ------
    seqae.exceptions.InputError
        If the iterable is empty, mixes profiles, or holds no window at all (the score is undefined).

    Examples
    --------
    >>> a = nab_score([0, 0, 1, 0, 0, 0, 0, 0], [[2, 6]], probationary_percent=0.0)   # perfect
    >>> b = nab_score([0, 0, 0, 0, 0, 0, 0, 0], [[2, 6]], probationary_percent=0.0)   # null
    >>> nab_normalize([a, b])
    50.0
    """
    items = list(series_scores)
    if not items:
        raise InputError("nab_normalize needs at least one NABSeriesScore; got none")
    bad = [type(s).__name__ for s in items if not isinstance(s, NABSeriesScore)]
    if bad:
        raise InputError(f"nab_normalize expects NABSeriesScore items (from nab_score); got {bad[0]}")
    profiles = sorted({s.profile for s in items})
    if len(profiles) > 1:
        raise InputError(f"all series must be scored with the same profile; got {profiles}")
    total = math.fsum(s.score for s in items)
    null = math.fsum(s.null_score for s in items)
    perfect = math.fsum(s.perfect_score for s in items)
    if perfect == null:
        raise InputError("the normalised NAB score is undefined: the series hold no scored label window")
    return 100.0 * (total - null) / (perfect - null)
