"""Streaming scoring: a fitted :class:`~seqae.AnomalyDetector` scores points as they arrive.

points -> the last ``window`` points + the new ones -> windows completed by them -> per-step errors -> the
points whose covering windows are all complete get their final score, label and events; the others a
provisional score. The stream keeps only that context: the last ``window`` points, the errors of the
windows that still cover a point without a final score, the last ``label_window`` final scores (for the
"dynamic" rule) and the event being built.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from seqae._params import check_int
from seqae._runtime import torch_threads
from seqae._version import __version__
from seqae.preprocessing.series_validation import check_series
from seqae.preprocessing.validation import FLOAT32_MAX
from seqae.preprocessing.windows import ForecastAccumulator, PointAccumulator, grid_starts, settled_points
from seqae.detection.base import ADAPTIVE_THRESHOLDS
from seqae.events import event_channels
from seqae.exceptions import InputError, ModelFileError
from seqae.tensorfile import load_tensor_file, save_tensor_file

STREAM_FORMAT = "seqae-stream"
STREAM_FORMAT_VERSION = 1
# Points per internal step of an update: bounds the windows scored at once (and their memory) on large updates.
_PIECE = 4096
# Final scores the "dynamic" rule is computed on: Hundman et al. (KDD 2018) apply it to a window of the latest
# errors, 2,100 in their set-up (30 batches of 70); seeded with the training scores, so labels start at once.
LABEL_WINDOW = 2048
EVENT_STREAM_COLUMNS = ("start_pos", "end_pos", "length", "peak", "peak_score", "severity", "channels")


@dataclass(frozen=True)
class StreamResult:
    """What one :meth:`AnomalyStream.update` gives. Positions count the points passed to the stream, from 0
    (``history`` excluded).

    Attributes
    ----------
    positions, scores, labels : ndarray (k,)
        Points whose score became final in this update (in order), their scores and 0/1 labels.
    provisional_positions, provisional_scores, provisional_labels : ndarray (m,)
        The latest points, whose scores may still change: what ``decision_function`` gives them on the points
        seen so far (labels as the stream would give them now).
    events : DataFrame
        Events closed in this update (columns ``start_pos``, ``end_pos``, ``length``, ``peak``,
        ``peak_score``, ``severity``, ``channels``, as in :meth:`~AnomalyDetector.detect_events`): no later point
        can join them.
    """

    positions: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    provisional_positions: np.ndarray
    provisional_scores: np.ndarray
    provisional_labels: np.ndarray
    events: pd.DataFrame = field(repr=False)


class AnomalyStream:
    """Scores a series point by point (or chunk by chunk) with a fitted :class:`~seqae.AnomalyDetector`.

    Made by :meth:`AnomalyDetector.stream`. Each :meth:`update` takes the next points and returns a
    :class:`StreamResult`.

    **When a score is final.** A point's score combines the errors of the windows that cover it. With
    ``stride=1`` it is final once ``window - 1`` points have followed it (the window that starts at it is
    complete); with a larger stride once ``window`` points have (the batch scores add a window ending at the
    series' last point, which covers the last ``window`` points). A final score equals, bit for bit on the CPU,
    the score ``decision_function`` gives that point on the concatenation of ``history`` and every point passed
    so far, whatever follows. The later points get a **provisional** score: the one ``decision_function``
    gives them on the points seen so far, which changes as windows covering them complete. :meth:`finish`
    ends the series: the provisional scores become final.

    **Labels and events.** With the rules that set ``threshold_`` once ("quantile", "sigma", "pot") a final
    point is flagged when its score exceeds ``threshold_``, as :meth:`~AnomalyDetector.predict` flags it.
    With "dynamic", which is computed on the scores being labelled, the points that become final in an update
    are labelled by the rule applied (with its pruning) to the last ``label_window`` final scores, the
    training scores first, as Hundman et al. apply it to a window of recent errors: the labels then differ
    from ``predict`` on a whole series, which sees the future. Events are the flagged final points merged
    within ``event_gap``, reported once closed.

    Parameters
    ----------
    detector : fitted AnomalyDetector
    history : array-like, optional
        Points that precede the stream (e.g. the end of the training series): their windows give the first
        streamed points their context. Only the last ``window`` are used; none of them is reported.
    label_window : int, default=2048
        Final scores the "dynamic" rule is computed on (ignored by the other rules).

    Examples
    --------
    >>> import numpy as np
    >>> from seqae import AnomalyDetector
    >>> x = np.sin(np.arange(800) / 8)
    >>> det = AnomalyDetector(window=32, hidden_size=16, latent_dim=4, epochs=2, threshold="quantile",
    ...                       random_state=0).fit(x[:400])
    >>> stream = det.stream(history=x[:400])
    >>> r = stream.update(x[400:450])
    >>> len(r.positions), len(r.provisional_positions)     # 31 points still have open windows
    (19, 31)
    >>> bool(np.array_equal(r.scores, det.decision_function(x[:450])[400:419]))
    True
    """

    def __init__(self, detector, *, history=None, label_window: int = LABEL_WINDOW):
        check_is_fitted(detector, "autoencoder_")
        check_int("label_window", label_window, 2)
        self.detector = detector
        self.label_window = label_window
        self._window, self._stride = detector.window, detector.stride
        self._gap = detector._gap()
        n_features = detector.n_features_in_
        self._n = 0                                   # points seen, history included
        self._origin = 0                              # position of the first streamed point (len(history))
        self._tail = np.zeros((0, n_features), np.float64)     # the last window points, as check_series keeps them
        # Per point not yet final, the errors of the windows covering it so far, summed as the batch sums them.
        self._acc = PointAccumulator(0, n_features, detector.score_aggregation, detector.point_weight)
        self._facc = ForecastAccumulator(0, n_features) if detector._uses_forecast_error() else None
        # The windows' latent novelty, averaged per point as the batch averages it.
        self._nacc = PointAccumulator(0, 1, "mean") if detector._uses_novelty() else None
        self._settled = 0                             # points whose score is final
        self._recent = np.asarray(detector.decision_scores_[-label_window:], np.float64)
        # The event being built: [start, end, peak, peak_score, summed error per channel (F,)], and the error of
        # the points after its end, which join it if a flagged point follows within event_gap.
        self._event: list | None = None
        self._pending = np.zeros(n_features)
        self._finished = False
        if history is not None:
            values = self._check(history, "history")
            self._origin = len(values)
            keep = values[len(values) - min(len(values), self._window):]
            self._n = self._origin - len(keep)
            self._settled = self._n
            self._advance(keep)

    # ------------------------------------------------------------------ input
    def _check(self, points, what: str) -> np.ndarray:
        det = self.detector
        raw = points.to_numpy() if isinstance(points, (pd.Series, pd.DataFrame)) else np.asarray(points)
        if raw.dtype.kind == "f" and np.isnan(raw).any():
            raise InputError(f"{what}: missing value (NaN) at row {int(np.argwhere(np.isnan(raw))[0][0])}; a stream "
                             "cannot interpolate ahead of the data: fill missing points before passing them")
        if raw.size == 0 and raw.ndim <= 2:           # nothing arrived (a poll that found no point)
            return np.zeros((0, det.n_features_in_), np.float64)
        if raw.ndim == 1 and det.n_features_in_ > 1 and len(raw) == det.n_features_in_:
            points = raw = raw[None, :]        # one multivariate point as a vector
        # Plain finite numbers of the right shape skip check_series, whose DataFrame costs more than scoring a
        # point; anything else goes through it for its errors.
        if (isinstance(points, np.ndarray) and raw.dtype.kind in "iuf" and raw.shape[1:] in ((), (det.n_features_in_,))
                and (raw.ndim == 2 or det.n_features_in_ == 1) and np.isfinite(raw).all()
                and np.abs(raw).max() <= FLOAT32_MAX):
            return raw.astype(np.float64).reshape(len(raw), det.n_features_in_)
        return check_series(points, n_features=det.n_features_in_, feature_names=det.feature_names_in_).values

    # ------------------------------------------------------------------ scoring
    def update(self, points) -> StreamResult:
        """Score the next points: ndarray (k,) or (k, F), a pandas Series or DataFrame (the columns of fit)."""
        if self._finished:
            raise RuntimeError("the stream has finished; start a new one with detector.stream()")
        values = self._check(points, "points")
        parts = [self._advance(values[i:i + _PIECE]) for i in range(0, max(len(values), 1), _PIECE)]
        return self._result(parts)

    def finish(self) -> StreamResult:
        """End of the series: the provisional scores become final (those of ``decision_function`` on the whole
        series), their labels are given and the last event is closed."""
        if self._finished:
            raise RuntimeError("the stream has already finished")
        part = self._advance(np.zeros((0, self.detector.n_features_in_), np.float64), final=True)
        self._finished = True
        return self._result([part])

    def _advance(self, values: np.ndarray, final: bool = False) -> dict:
        window, stride, det = self._window, self._stride, self.detector
        n_before, lo = self._n, self._settled         # the accumulators hold the points [lo, n)
        buffer = np.concatenate([self._tail, values])
        offset = n_before - len(self._tail)           # position of buffer[0]
        n = n_before + len(values)
        for owner in self._accumulators():
            owner.extend(len(values))
        # Regular windows completed by these points (in order of start, as the batch adds them; all start at or
        # after lo), then (stride > 1) the window ending at the last point, which the batch scores add last and
        # which lasts only while no point follows: added to copies.
        new = grid_starts(max(n_before - window + 1, offset), n - window + 1, stride)
        extra = [n - window] if n >= window and (n - window) % stride else []
        all_starts = np.concatenate([new, extra]).astype(np.int64)
        parts = self._score_windows(buffer, all_starts - offset)      # rec, fc and novelty steps (or None)
        owners = (self._acc, self._facc, self._nacc)
        for owner, part in zip(owners, parts):
            if owner is not None:
                owner.add(new - lo, part[:len(new)])
        if extra:                                      # on copies: the window lasts only while no point follows
            owners = tuple(None if o is None else o.copy() for o in owners)
            for owner, part in zip(owners, parts):
                if owner is not None:
                    owner.add(np.array(extra) - lo, part[len(new):])
        if n >= window:
            settled = n if final else max(settled_points(n, window, stride), lo)
            errors = det._combine(*(None if o is None else o.result() for o in owners))   # (n - lo, F)
            scores = errors.mean(axis=1)
        else:                                          # fewer points than a window so far: nothing to score
            settled, scores = lo, np.zeros(0)
        # History points are context only: not labelled, never part of an event.
        first = min(max(lo, self._origin), settled)
        contributions = errors[first - lo:settled - lo] / errors.shape[1] if n >= window else None
        labels, events = self._label(scores[first - lo:settled - lo], first, contributions)
        for owner in self._accumulators():
            owner.drop(settled - lo)
        self._tail = buffer[len(buffer) - min(len(buffer), window):].copy()   # the next windows start after n - window
        self._n, self._settled = n, settled
        return {"settled": (lo, settled), "provisional": (settled, n if n >= window else settled), "scores": scores,
                "labels": np.concatenate([np.zeros(first - lo, np.int64), labels]), "events": events}

    def _accumulators(self) -> list:
        return [o for o in (self._acc, self._facc, self._nacc) if o is not None]

    def _score_windows(self, buffer: np.ndarray, local_starts: np.ndarray):
        """(c, W, F) reconstruction and (or None) next-step errors, and (or None) (c, W, 1) latent novelty, of the
        windows starting at these positions of ``buffer``."""
        window, det = self._window, self.detector
        ae = det.autoencoder_
        if len(local_starts) == 0:
            empty = np.zeros((0, window, buffer.shape[1]), np.float32)
            return (empty, empty if self._facc is not None else None,
                    np.zeros((0, window, 1)) if self._nacc is not None else None)
        windows = np.lib.stride_tricks.sliding_window_view(buffer, window, axis=0)[local_starts].transpose(0, 2, 1)
        # One thread: an update scores a few windows, which threads would only split into smaller pieces.
        with torch_threads(1, ae._device()):
            rec, fc, codes = det._window_outputs(np.ascontiguousarray(windows), codes=self._nacc is not None)
            return rec, fc, (None if codes is None else det._novelty_steps(codes, local_starts))

    # ------------------------------------------------------------------ labels and events
    def _label(self, scores: np.ndarray, lo: int, contributions: np.ndarray | None) -> tuple[np.ndarray, list]:
        """Labels of newly final scores (positions lo, lo + 1, ...), and the events they close; ``contributions``
        (k, F): each channel's share of those scores."""
        det = self.detector
        if len(scores) == 0:
            return np.zeros(0, np.int64), []
        if det.threshold in ADAPTIVE_THRESHOLDS:
            # An update that settles more than label_window points labels them all together.
            both = np.concatenate([self._recent, scores])
            labels = det._label(both[-max(self.label_window, len(scores)):])[-len(scores):]
            self._recent = both[-self.label_window:]
        else:
            labels = (scores > det.threshold_).astype(np.int64)
        closed, done = [], 0                           # contributions[:done] are in the event or dropped
        for i in np.flatnonzero(labels):
            p, s = lo + int(i), float(scores[i])
            if self._event is not None and p - self._event[1] - 1 <= self._gap:
                self._event[1] = p
                self._event[4] = self._event[4] + self._pending + contributions[done:i + 1].sum(axis=0)
                if s > self._event[3]:
                    self._event[2], self._event[3] = p, s
            else:
                if self._event is not None:
                    closed.append(self._event)
                self._event = [p, p, p, s, contributions[i].astype(np.float64)]
            self._pending, done = np.zeros_like(self._pending), i + 1
        last = lo + len(scores) - 1
        if self._event is not None and last - self._event[1] - 1 >= self._gap:
            closed.append(self._event)       # no later point is close enough to join it
            self._event = None
        self._pending = self._pending + contributions[done:].sum(axis=0) if self._event is not None \
            else np.zeros_like(self._pending)
        return labels, closed

    def _provisional_labels(self, scores: np.ndarray) -> np.ndarray:
        det = self.detector
        if det.threshold in ADAPTIVE_THRESHOLDS:
            if len(scores) == 0:
                return np.zeros(0, np.int64)
            both = np.concatenate([self._recent, scores])
            return det._label(both[-max(self.label_window, len(scores)):])[-len(scores):]
        return (scores > det.threshold_).astype(np.int64)

    def _result(self, parts: list[dict]) -> StreamResult:
        origin = self._origin
        positions, scores, labels, events = [], [], [], []
        for part in parts:
            lo, hi = part["settled"]
            positions.append(np.arange(lo, hi))
            scores.append(part["scores"][:hi - lo])
            labels.append(part["labels"])
            events += part["events"]
        if self._finished and self._event is not None:
            events.append(self._event)
            self._event = None
        last = parts[-1]
        plo, phi = last["provisional"]
        slo = last["settled"][0]
        prov_scores = last["scores"][plo - slo:]
        positions, scores, labels = np.concatenate(positions), np.concatenate(scores), np.concatenate(labels)
        shown = positions >= origin                    # history points are context, not reported
        prov_positions = np.arange(plo, phi)
        threshold = self.detector.threshold_
        names = self.detector.feature_names_in_
        rows = [(s - origin, e - origin, e - s + 1, p - origin, v, v / threshold if threshold > 0 else np.inf,
                 event_channels(share, names) if len(names) > 1 else "")
                for s, e, p, v, share in events if e >= origin]
        frame = _events_frame(rows)
        pshown = prov_positions >= origin
        return StreamResult(positions=positions[shown] - origin, scores=scores[shown], labels=labels[shown],
                            provisional_positions=prov_positions[pshown] - origin,
                            provisional_scores=prov_scores[pshown],
                            provisional_labels=self._provisional_labels(prov_scores)[pshown], events=frame)

    # ------------------------------------------------------------------ state
    @property
    def n_seen(self) -> int:
        """Points passed to the stream so far (``history`` excluded)."""
        return self._n - self._origin

    def save(self, path: str | os.PathLike) -> None:
        """Write the stream's state to one file (safetensors + JSON header, no pickle), atomically.

        The file records a fingerprint of the detector: :meth:`load` refuses to continue it with another one.
        """
        doc = {"format": STREAM_FORMAT, "format_version": STREAM_FORMAT_VERSION, "seqae_version": __version__,
               "detector": _fingerprint(self.detector), "label_window": self.label_window, "n": self._n,
               "origin": self._origin, "settled": self._settled, "finished": self._finished,
               "event": None if self._event is None else [int(v) for v in self._event[:3]] + [float(self._event[3])]
               + [[float(v) for v in self._event[4]]], "pending": [float(v) for v in self._pending]}
        tensors = {"tail": torch.from_numpy(self._tail), "recent": torch.from_numpy(self._recent)}
        for owner, prefix in ((self._acc, "acc."), (self._facc, "facc."), (self._nacc, "nacc.")):
            for name in owner._FIELDS if owner is not None else ():
                if getattr(owner, name) is not None:
                    tensors[prefix + name] = torch.from_numpy(getattr(owner, name))
        save_tensor_file(path, {k: v.contiguous() for k, v in tensors.items()}, doc)

    @classmethod
    def load(cls, path: str | os.PathLike, detector) -> "AnomalyStream":
        """Continue a stream saved by :meth:`save`, with the detector it was made from."""
        where = str(Path(path))

        def check(doc: dict) -> None:
            if doc.get("format") != STREAM_FORMAT:
                raise ModelFileError(f"{where!r} is not a seqae stream state (format {doc.get('format')!r})")
            if doc.get("format_version") != STREAM_FORMAT_VERSION:
                raise ModelFileError(f"{where!r}: stream state format {doc.get('format_version')!r}; this seqae "
                                     f"({__version__}) reads format {STREAM_FORMAT_VERSION}")

        tensors, doc = load_tensor_file(path, what="seqae stream state", check_document=check)
        if doc.get("detector") != _fingerprint(detector):
            raise ModelFileError(f"{where!r} was saved from another detector (weights or settings differ); load "
                                 "it with the detector the stream was made from")
        stream = cls(detector, label_window=int(doc["label_window"]))
        window, n_features = detector.window, detector.n_features_in_
        try:
            tail = tensors["tail"].numpy()
            n, origin, settled = int(doc["n"]), int(doc["origin"]), int(doc["settled"])
            # float32: a state saved before the stream kept its points in float64
            if (tail.dtype not in (np.float32, np.float64) or tail.shape[1:] != (n_features,)
                    or len(tail) > min(window, n)
                    or not 0 <= settled <= n or not np.isfinite(tail).all()):
                raise ValueError("the last points do not match the detector")
            # Each accumulator array must be there exactly when the fresh stream has it, one row per open point.
            for owner, prefix in ((stream._acc, "acc."), (stream._facc, "facc."), (stream._nacc, "nacc.")):
                for name in owner._FIELDS if owner is not None else ():
                    fresh = getattr(owner, name)
                    if fresh is None:
                        continue
                    saved = tensors[prefix + name].numpy()
                    if saved.dtype != fresh.dtype or saved.shape != (n - settled,) + fresh.shape[1:]:
                        raise ValueError(f"{prefix + name} does not match the detector")
                    setattr(owner, name, saved.copy())
            event = doc["event"]
            stream._event = None if event is None else [int(event[0]), int(event[1]), int(event[2]), float(event[3]),
                                                         _channel_array(event[4], n_features)]
            stream._pending = _channel_array(doc["pending"], n_features)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ModelFileError(f"{where!r}: the stream state is damaged or incomplete ({exc})") from None
        stream._tail = tail.astype(np.float64)
        stream._recent = tensors["recent"].numpy().astype(np.float64)
        stream._n, stream._origin, stream._settled = n, origin, settled
        stream._finished = bool(doc["finished"])
        return stream


def _channel_array(values, n_features: int) -> np.ndarray:
    out = np.asarray(values, dtype=np.float64)
    if out.shape != (n_features,):
        raise ValueError("an event's error per channel does not match the detector")
    return out


def _events_frame(rows: list[tuple]) -> pd.DataFrame:
    """Closed events as a DataFrame (columns ``EVENT_STREAM_COLUMNS``). Most updates close none: an empty frame
    made once is copied (making one took longer than scoring a point)."""
    global _NO_EVENTS
    if not rows and _NO_EVENTS is not None:
        return _NO_EVENTS.copy()                   # a copy: the caller may change it
    columns = list(zip(*rows)) if rows else [()] * len(EVENT_STREAM_COLUMNS)
    dtypes = {"peak_score": np.float64, "severity": np.float64, "channels": object}
    frame = pd.DataFrame({name: np.array(col, dtype=dtypes.get(name, np.int64))
                          for name, col in zip(EVENT_STREAM_COLUMNS, columns)})
    frame["channels"] = frame["channels"].astype(str)     # the dtype events_frame gives (pandas 3: its string dtype)
    if not rows:
        _NO_EVENTS = frame.copy()
    return frame


_NO_EVENTS: pd.DataFrame | None = None


# Where and how verbosely a detector runs: not part of what it computes (a model loaded with device="cpu" continues).
_RUNTIME_PARAMS = ("device", "num_threads", "verbose")


def _fingerprint(detector) -> str:
    """SHA-256 of a detector's parameters and fitted tensors: a stream state belongs to exactly one detector."""
    doc, tensors = detector._get_state()
    params = {k: v for k, v in detector.get_params(deep=False).items() if k not in _RUNTIME_PARAMS}
    h = hashlib.sha256(repr(sorted((k, repr(v)) for k, v in params.items())).encode())
    h.update(repr(float(doc["threshold_"])).encode())
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(tensors[name].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()
