"""Per-feature standardisation learned on the real (unpadded) steps of a collection."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FeatureScaler:
    """Mean and scale per feature. Constant features get scale 1 so nothing divides by zero.

    Examples
    --------
    >>> import numpy as np
    >>> sc = FeatureScaler.fit([np.array([[1.0, 5.0], [3.0, 5.0]], dtype=np.float32)])
    >>> sc.mean.tolist(), sc.scale.tolist()
    ([2.0, 5.0], [1.0, 1.0])
    """

    mean: np.ndarray   # (F,) float64
    scale: np.ndarray  # (F,) float64, strictly positive

    @classmethod
    def fit(cls, sequences: list[np.ndarray]) -> "FeatureScaler":
        # Accumulate in float64 over all real steps: a long collection in float32 loses digits.
        n = sum(len(s) for s in sequences)
        total = sum(s.sum(axis=0, dtype=np.float64) for s in sequences)
        mean = total / n
        sq = sum(((s.astype(np.float64) - mean) ** 2).sum(axis=0) for s in sequences)
        std = np.sqrt(sq / n)
        # A feature whose spread is negligible next to its level is constant for all practical purposes.
        tiny = std <= 1e-12 * np.maximum(1.0, np.abs(mean))
        scale = np.where(tiny, 1.0, std)
        return cls(mean=np.asarray(mean, dtype=np.float64), scale=np.asarray(scale, dtype=np.float64))

    def transform(self, sequences: list[np.ndarray] | np.ndarray) -> list[np.ndarray] | np.ndarray:
        return _rowwise(sequences, lambda a: ((a - self.mean) / self.scale).astype(np.float32))

    def inverse_transform(self, sequences: list[np.ndarray] | np.ndarray) -> list[np.ndarray] | np.ndarray:
        return _rowwise(sequences, lambda a: (a * self.scale + self.mean).astype(np.float32))

    def scale_errors(self, squared_errors: np.ndarray) -> np.ndarray:
        """Errors are computed in standardised units; this is the factor that maps them back (not used for scores)."""
        return squared_errors * (self.scale ** 2)


def _rowwise(sequences: list[np.ndarray] | np.ndarray, fn) -> list[np.ndarray] | np.ndarray:
    """Apply an elementwise ``fn`` to every sequence: a list gives a list, one (N, T, F) array an array.

    Equal lengths (windows) go through numpy as one array: a Python loop over thousands of short windows
    costs more than the arithmetic."""
    if isinstance(sequences, np.ndarray):
        return fn(sequences)
    if len({len(s) for s in sequences}) == 1:
        return list(fn(np.stack(sequences)))
    return [fn(s) for s in sequences]
