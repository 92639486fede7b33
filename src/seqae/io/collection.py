"""The value every sequence reader returns: sequences of possibly different lengths, their labels and ids."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


class SequenceCollection(NamedTuple):
    """A collection of multivariate sequences of possibly different lengths.

    Attributes
    ----------
    X : list of ndarray
        ``X[i]`` is a float32 array of shape ``(T_i, F)``; ``F`` is the same for all sequences.
    y : ndarray of shape (n,) or None
        One label per sequence (class labels from a ``.ts`` file are strings in an object array), or ``None``.
    ids : ndarray of shape (n,)
        One unique identifier per sequence (``0 .. n-1`` where the source has none).
    """

    X: list[np.ndarray]
    y: np.ndarray | None
    ids: np.ndarray
