"""benchmarks/window_span.py and benchmarks/tie_break.py rescore the detector's fits from its private steps: their
controls must be the library's aggregation, and their variants must move the points they say they move."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import tie_break  # noqa: E402
import window_span  # noqa: E402

from seqae.preprocessing.windows import PointAccumulator, window_starts  # noqa: E402

N, W, F = 200, 16, 2


def _accumulated(errors: np.ndarray, how: str) -> np.ndarray:
    acc = PointAccumulator(N, F, how)
    acc.add(window_starts(N, W, 1), errors)
    return acc.result()


def _step_errors(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).gamma(1.0, size=(N - W + 1, W, F))   # (m, W, F)


def test_full_span_is_the_window_max_without_its_tie_break():
    errors = _step_errors()
    full = window_span.spread(errors.mean(axis=1), N, W, window_span.SPANS["full"])
    library = _accumulated(errors, "window_max") - PointAccumulator.TIE_BREAK * _accumulated(errors, "mean")
    np.testing.assert_allclose(full, library, rtol=1e-12, atol=1e-12)


def test_a_span_gives_a_windows_error_to_its_part_of_the_window_only():
    window_errors = np.zeros((N - W + 1, 1))
    window_errors[50] = 1.0                        # the window of points 50 .. 65
    for name, (a, b) in window_span.SPANS.items():
        got = window_span.spread(window_errors, N, W, (a, b))[:, 0]
        lo, hi = 50 + int(round(a * W)), 50 + int(round(b * W)) - 1
        assert (got[lo:hi + 1] == 1.0).all(), name
        outside = np.r_[0:lo, hi + 1:N]
        assert not (got[outside] == 1.0).any(), name


def test_tie_break_variants_remove_and_replace_the_tie_break_exactly():
    errors = _step_errors(1)
    parts = {how: _accumulated(errors, how) for how in tie_break.AGGREGATIONS}
    got = tie_break.variants(parts)
    window_means = errors.mean(axis=1)                                        # (m, F)
    exact = np.stack([window_means[max(0, p - W + 1):p + 1].max(axis=0) for p in range(N)])
    mean_of_windows = np.stack([window_means[max(0, p - W + 1):p + 1].mean(axis=0) for p in range(N)])
    np.testing.assert_allclose(got["exact"], exact.mean(axis=1), rtol=1e-12)
    tied = exact + PointAccumulator.TIE_BREAK * mean_of_windows
    np.testing.assert_allclose(got["window-mean-tie"], tied.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(got["library"], parts["window_max"].mean(axis=1))
