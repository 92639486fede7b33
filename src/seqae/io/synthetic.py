"""Noisy sine waves: a small collection of sequences made on the spot, for examples and tests."""
from __future__ import annotations

import math

import numpy as np

from seqae.exceptions import InputError


def make_sine_collection(n: int = 200, min_length: int = 20, max_length: int = 80, n_features: int = 1,
                         noise: float = 0.1, random_state: int | np.random.Generator | None = None) -> list[np.ndarray]:
    """Noisy sine waves of random length, frequency and phase: a small built-in collection of sequences.

    Each sequence has a length drawn uniformly from ``[min_length, max_length]``, a period drawn uniformly
    from 6 to 30 steps shared by its features, a phase drawn per feature, unit amplitude, and Gaussian noise
    of standard deviation ``noise``.

    Parameters
    ----------
    n : int, default 200
        Number of sequences.
    min_length, max_length : int, default 20, 80
        Range of lengths, inclusive; ``1 <= min_length <= max_length``.
    n_features : int, default 1
        Features (channels) per step.
    noise : float, default 0.1
        Standard deviation of the added noise, ``>= 0``.
    random_state : int, numpy.random.Generator or None
        Seed, or a generator to draw from; ``None`` for fresh randomness.

    Returns
    -------
    list of ndarray
        ``n`` float32 arrays of shape ``(T_i, n_features)``.

    Examples
    --------
    >>> X = make_sine_collection(n=3, min_length=5, max_length=9, n_features=2, random_state=0)
    >>> [x.shape[1] for x in X], all(5 <= len(x) <= 9 for x in X)
    ([2, 2, 2], True)
    """
    for arg, value, low in (("n", n, 1), ("min_length", min_length, 1), ("max_length", max_length, 1),
                            ("n_features", n_features, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise InputError(f"{arg} must be an integer >= {low}, got {value!r}")
    if min_length > max_length:
        raise InputError(f"min_length ({min_length}) must not exceed max_length ({max_length})")
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating, np.integer)) \
            or not math.isfinite(noise) or noise < 0:
        raise InputError(f"noise must be a finite number >= 0, got {noise!r}")
    rng = np.random.default_rng(random_state)
    out = []
    for _ in range(n):
        length = int(rng.integers(min_length, max_length + 1))
        period = rng.uniform(6.0, 30.0)
        phase = rng.uniform(0.0, 2.0 * np.pi, size=n_features)
        steps = np.arange(length, dtype=np.float64)[:, None]
        wave = np.sin(2.0 * np.pi * steps / period + phase) + noise * rng.standard_normal((length, n_features))
        out.append(wave.astype(np.float32))
    return out
