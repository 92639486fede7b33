"""Event-level evaluation by overlap, as in Orion's benchmark (``contextual_confusion_matrix`` with the
overlap rule): a labelled event is found (tp) when any detected event shares at least one point with it, else
it is missed (fn); a detected event that shares no point with any labelled event is a false alarm (fp).

Events are inclusive ``[start, end]`` position pairs (:func:`seqae.events.label_runs` makes them from 0/1
labels). Summed over the series of a group, ``F1 = 2 tp / (2 tp + fp + fn)``: what the Orion table reports
per dataset. Because a detector that flags everything finds every event with one detection, report the share of
points flagged beside it (:func:`event_scores` does).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqae.exceptions import InputError


def _as_events(name: str, events) -> np.ndarray:
    arr = np.asarray(events, dtype=np.int64).reshape(-1, 2) if len(events) else np.zeros((0, 2), np.int64)
    if (arr[:, 1] < arr[:, 0]).any():
        raise InputError(f"{name} must be [start, end] pairs with start <= end")
    return arr


@dataclass(frozen=True)
class EventCounts:
    tp: int   # labelled events overlapped by at least one detected event
    fp: int   # detected events overlapping no labelled event
    fn: int   # labelled events overlapped by none

    def __add__(self, other: "EventCounts") -> "EventCounts":
        return EventCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def f1(self) -> float:
        """``2 tp / (2 tp + fp + fn)``; NaN when there is nothing to find and nothing found."""
        denom = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denom if denom else float("nan")


def event_confusion(true_events, detected_events) -> EventCounts:
    """Overlap confusion counts of detected against labelled events (inclusive position pairs).

    >>> event_confusion([[10, 20], [50, 60]], [[15, 16], [30, 31]])
    EventCounts(tp=1, fp=1, fn=1)
    """
    true = _as_events("true_events", true_events)
    found = _as_events("detected_events", detected_events)
    # overlap[i, j]: labelled event i and detected event j share a point
    overlap = (true[:, None, 0] <= found[None, :, 1]) & (found[None, :, 0] <= true[:, None, 1])
    tp = int(overlap.any(axis=1).sum())
    fp = int((~overlap.any(axis=0)).sum())
    return EventCounts(tp=tp, fp=fp, fn=len(true) - tp)
