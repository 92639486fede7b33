"""What a many-series run returns: results per row, events, and the series that failed with their errors."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass
class ManyResult:
    """Results of :func:`~seqae.many.detect_many`, :func:`~seqae.many.score_many` or :func:`~seqae.many.embed_many`.

    Attributes
    ----------
    scores : DataFrame
        detect/score: one row per input row of every series that ran (series id, time, values, ``score``,
        ``label``, ``event``: the 1-based event number within its series, 0 outside events, and
        ``contribution_<column>`` for several value columns), sorted by series then time. embed: one row per
        sequence (id, ``z0``.., ``reconstruction_error``).
    events : DataFrame
        detect/score: one row per anomaly event (series id, then the columns of
        :meth:`AnomalyDetector.detect_events`); empty for embed.
    failures : DataFrame
        One row per series that failed: its id and ``error`` (the exception's type and message).
    """

    scores: pd.DataFrame
    events: pd.DataFrame
    failures: pd.DataFrame

    @property
    def n_failed(self) -> int:
        """How many series failed (each listed in ``failures``)."""
        return len(self.failures)

    def __repr__(self) -> str:
        return (f"ManyResult({len(self.scores)} score rows, {len(self.events)} events, "
                f"{self.n_failed} failed series)")
