"""Sliding windows over a series, made chunk by chunk as strided views (never all at once), and the
mapping of per-step window errors back to points.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# "mean"/"max": per-step errors of the covering windows; "window_mean"/"window_max": each covering window's
# mean error (one number per window, as PyOD's windowed detectors do), then mean/max over the covering windows.
AGGREGATIONS = ("mean", "max", "window_mean", "window_max")


def window_starts(n: int, window: int, stride: int) -> np.ndarray:
    """Start index of every window; the last window always ends at the last point, so every point is covered.

    ``stride`` must not exceed ``window``: a larger step would leave points between windows unscored.
    """
    if stride > window:
        raise ValueError(f"stride ({stride}) must be <= window ({window}), otherwise some points are never scored")
    if n < window:
        return np.empty(0, dtype=np.int64)
    starts = np.arange(0, n - window + 1, stride, dtype=np.int64)
    if starts[-1] != n - window:
        starts = np.append(starts, n - window)
    return starts


def grid_starts(lo: int, hi: int, stride: int) -> np.ndarray:
    """The starts in ``[lo, hi)`` of the regular windows, those at multiples of ``stride`` (every start of
    :func:`window_starts` but the one it adds to end at the last point)."""
    first = -(-max(lo, 0) // stride) * stride
    return np.arange(first, max(hi, first), stride, dtype=np.int64)


def settled_points(n: int, window: int, stride: int) -> int:
    """How many leading points of a series of ``n`` points (so far) keep their score whatever points follow.

    A point's score depends on the windows covering it. With stride 1, once the window that starts at a point
    is complete no later window covers it. With a larger stride, :func:`window_starts` adds a window ending at
    the series' last point, which covers a point until ``window`` points follow it.
    """
    return max(0, n - window + (1 if stride == 1 else 0))


def iter_windows(values: np.ndarray, window: int, starts: np.ndarray, chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(starts_chunk, windows)`` with windows of shape (chunk, window, F), a view (no copy) of ``values``."""
    view = sliding_window_view(values, window, axis=0)  # (n - window + 1, F, window), a view
    for i in range(0, len(starts), chunk):
        s = starts[i:i + chunk]
        yield s, view[s].transpose(0, 2, 1)  # fancy indexing copies just this chunk: (c, window, F)


def sample_starts(starts: np.ndarray, max_windows: int | None) -> np.ndarray:
    """At most ``max_windows`` evenly spaced windows (deterministic), so training cost stays bounded."""
    if max_windows is None or len(starts) <= max_windows:
        return starts
    pick = np.unique(np.linspace(0, len(starts) - 1, max_windows).round().astype(np.int64))
    return starts[pick]


class _Rolling:
    """Accumulator arrays (one row per point) that a stream slides along the series: points are appended as they
    arrive and dropped once their value is final (seqae.detection.stream)."""

    _FIELDS: tuple[str, ...] = ()

    def _fill(self, name: str):
        raise NotImplementedError

    def extend(self, k: int) -> None:
        """Append ``k`` points that no window has covered yet."""
        for name in self._FIELDS:
            a = getattr(self, name)
            if a is not None:
                setattr(self, name, np.concatenate([a, np.full((k,) + a.shape[1:], self._fill(name), a.dtype)]))

    def drop(self, k: int) -> None:
        """Forget the first ``k`` points."""
        for name in self._FIELDS:
            a = getattr(self, name)
            if a is not None:
                setattr(self, name, a[k:].copy())

    def copy(self):
        out = object.__new__(type(self))
        out.__dict__.update({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()})
        return out


class PointAccumulator(_Rolling):
    """Combines the errors of overlapping windows into one value per point (and feature).

    "mean" averages the per-step errors that all covering windows give a point: every window that saw the
    point has a say. "max" keeps the largest: more sensitive to short anomalies, noisier. The "window_"
    variants first reduce each window to its mean error, so a point is judged by how well whole windows
    around it were reconstructed: smoother scores that rise over the whole context of an anomaly.
    """

    # Window-level scores are constant over a window, so the top score is shared by `window` points and a
    # contamination quantile would fall on the plateau and label nothing. Ties are broken by each point's own
    # step-level error, scaled down so that it never reorders points whose window scores differ noticeably.
    TIE_BREAK = 1e-3
    _FIELDS = ("total", "step_total", "count")

    def __init__(self, n: int, n_features: int, how: str = "mean", point_weight: float = 0.0):
        if how not in AGGREGATIONS:
            raise ValueError(f"how must be one of {AGGREGATIONS}, got {how!r}")
        self.how = how
        self.point_weight = float(point_weight)   # "window_" only: share of the per-step mean in the result
        self._window_level = how.startswith("window_")
        self._reduce = how.removeprefix("window_")  # "mean" or "max" over the covering windows
        fill = 0.0 if self._reduce == "mean" else -np.inf
        self.total = np.full((n, n_features), fill, dtype=np.float64)
        self.step_total = np.zeros((n, n_features), dtype=np.float64) if self._window_level else None
        self.count = np.zeros(n, dtype=np.int64)

    def _fill(self, name: str):
        return -np.inf if name == "total" and self._reduce == "max" else 0

    def add(self, starts: np.ndarray, errors: np.ndarray) -> None:
        """starts (c,) in increasing order, errors (c, window, F)."""
        window = errors.shape[1]
        step_errors = errors
        if self._window_level:
            errors = np.broadcast_to(errors.mean(axis=1, keepdims=True), errors.shape)  # (c, 1, F) -> (c, W, F)
        # Each point gets its windows' errors in increasing order of start, whatever the chunks, so a stream
        # that adds windows as they complete sums in the same order and gets the batch's bits
        # (seqae.detection.stream). A few windows: one slice per window (a stream's update).
        if len(starts) < window:
            for s, e, step in zip(starts.tolist(), errors, step_errors):
                if self._reduce == "mean":
                    self.total[s:s + window] += e
                else:
                    np.maximum(self.total[s:s + window], e, out=self.total[s:s + window])
                if self.step_total is not None:
                    self.step_total[s:s + window] += step
                self.count[s:s + window] += 1
            return
        # Many: for a fixed offset j the indices starts + j are distinct, so plain fancy-index updates are exact
        # and vectorised (np.add.at would be ~10x slower); offsets from the last down keep the order of starts.
        for j in range(window - 1, -1, -1):
            idx = starts + j
            if self._reduce == "mean":
                self.total[idx] += errors[:, j]
            else:
                self.total[idx] = np.maximum(self.total[idx], errors[:, j])
            if self.step_total is not None:
                self.step_total[idx] += step_errors[:, j]
            self.count[idx] += 1

    def result(self) -> np.ndarray:
        """(n, F) per-point, per-feature error."""
        count = np.maximum(self.count, 1)[:, None]
        out = self.total / count if self._reduce == "mean" else self.total
        if self.step_total is not None:
            w = self.point_weight
            out = (1.0 - w) * out + max(w, self.TIE_BREAK) * (self.step_total / count)
        return out


class ForecastAccumulator(_Rolling):
    """Keeps, for every point, the next-step prediction error of the covering window that gave it the most
    context (the point's largest position in a window), so that a point is judged by the best-informed
    prediction of it. With stride 1 that is the window ending at the point: a one-step forecast from the
    ``window - 1`` points before it. Position 0 of a window is never a prediction; the series' first point
    keeps 0.
    """

    _FIELDS = ("value", "position")

    def __init__(self, n: int, n_features: int):
        self.value = np.zeros((n, n_features), dtype=np.float64)
        self.position = np.full(n, -1, dtype=np.int64)

    def _fill(self, name: str):
        return -1 if name == "position" else 0

    def add(self, starts: np.ndarray, errors: np.ndarray) -> None:
        """starts (c,), errors (c, window, F) with errors[:, 0] unused."""
        for j in range(1, errors.shape[1]):
            idx = starts + j                     # distinct for a fixed j
            better = self.position[idx] < j
            if better.any():
                self.value[idx[better]] = errors[better, j]
                self.position[idx[better]] = j

    def result(self) -> np.ndarray:
        """(n, F) per-point, per-feature next-step error."""
        return self.value
