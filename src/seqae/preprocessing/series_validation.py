"""Validation of one time series (array, pandas Series or DataFrame) for the anomaly detector."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from seqae.exceptions import InputError, MissingValueError, SeriesTooShortError
from seqae.preprocessing.validation import FLOAT32_MAX as _FLOAT32_MAX

MISSING = ("raise", "interpolate")


@dataclass(frozen=True)
class SeriesInput:
    values: np.ndarray        # (n, F) float64, finite: standardised before the models' float32 (validation.py)
    index: pd.Index           # the input's index (DatetimeIndex kept), or a RangeIndex for arrays
    columns: list[str]        # feature names ("value" or "x0".. for arrays)
    was_1d: bool              # (n,) array or Series input


def repaired(values: np.ndarray, events: np.ndarray, widen: int) -> np.ndarray:
    """(n, F) ``values`` with every event (k, 2 inclusive positions), widened by ``widen`` points on each side,
    replaced by the straight line between the values around it (a copy). An event that reaches an end of the
    series is filled with the value at its other edge; one that covers the whole series leaves it as it was.

    >>> repaired(np.array([[0.0], [1.0], [9.0], [3.0], [4.0]]), np.array([[2, 2]]), widen=0)[:, 0].tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0]
    """
    out = pd.DataFrame(np.array(values, dtype=np.float64, copy=True))
    n = len(out)
    for a, b in np.asarray(events, dtype=np.int64).reshape(-1, 2):
        out.iloc[max(0, a - widen):min(n, b + widen + 1)] = np.nan
    if out.isna().all().any():
        return np.array(values, dtype=np.float64, copy=True)
    return out.interpolate(method="linear", limit_direction="both").to_numpy()


def _describe_position(index: pd.Index, i: int) -> str:
    if isinstance(index, pd.RangeIndex):
        return f"row {i}"
    return f"row {i} ({index[i]})"


def _generated_names(n_features: int) -> tuple[list[str], ...]:
    """The names ``check_series`` gives the columns of an array (and of an unnamed Series)."""
    return ([f"x{j}" for j in range(n_features)],) + ((["value"],) if n_features == 1 else ())


def _check_feature_names(frame: pd.DataFrame, expected: Sequence[str]) -> None:
    """scikit-learn's ``feature_names_in_`` rule: a DataFrame's column names must be the fitted ones, in order.

    Checked only when both sides have names: a DataFrame whose names are all strings, and a model fitted on
    named columns. A model fitted on an array has the generated names ('x0', ... or 'value'), and an array
    input has none; either way the columns go by position, as before. Without the check a renamed or reordered
    DataFrame was scored by position, and a swapped pair of columns flagged nearly every point.
    """
    names = list(frame.columns)
    expected = list(expected)
    if not all(isinstance(c, str) for c in names) or expected in _generated_names(len(expected)):
        return
    if names == expected:
        return
    fitted = ", ".join(map(repr, expected))
    if sorted(names) == sorted(expected):
        raise InputError(f"the columns are those seen in fit but in another order: {', '.join(map(repr, names))} "
                         f"instead of {fitted}; reorder them (X[feature_names_in_])")
    parts = []
    absent = [c for c in expected if c not in names]
    if absent:
        parts.append(f"missing {', '.join(map(repr, absent))}")
    unexpected = [c for c in names if c not in expected]
    if unexpected:
        parts.append(f"unexpected {', '.join(map(repr, unexpected))}")
    raise InputError(f"the column names differ from those seen in fit ({fitted}): {'; '.join(parts)}")


def check_series(X: Any, *, n_features: int | None = None, feature_names: Sequence[str] | None = None,
                 min_length: int = 1, missing: str = "raise") -> SeriesInput:
    """Validate one time series and return it as float64 ``(n, F)`` values.

    Parameters
    ----------
    X : ndarray (n,) or (n, F), pandas Series or DataFrame
        One series; rows are time steps. A DataFrame's index (e.g. a DatetimeIndex) is kept for outputs.
    n_features : int, optional
        Features the fitted model expects.
    feature_names : sequence of str, optional
        The fitted model's ``feature_names_in_``: a DataFrame's column names must be these, in this order
        (scikit-learn's rule; arrays, and models fitted on arrays, go by position).
    min_length : int
        Shortest length allowed (the detector passes its window).
    missing : {"raise", "interpolate"}
        NaN handling: an error that says where, or linear interpolation in time (ends filled with the
        nearest value).

    Raises
    ------
    InputError
        Wrong shape, non-numeric column, NaN (with ``missing="raise"``: a
        :class:`~seqae.exceptions.MissingValueError` that says where), inf, overflow, too short (a
        :class:`~seqae.exceptions.SeriesTooShortError`),
        wrong number of features, column names other than ``feature_names`` (naming the missing and unexpected
        ones, or saying that only the order differs).
    """
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {MISSING}, got {missing!r}")
    if isinstance(X, pd.Series):
        X = X.to_frame(name=str(X.name) if X.name is not None else "value")
        was_1d = True
    elif isinstance(X, pd.DataFrame):
        was_1d = False
        if feature_names is not None:
            _check_feature_names(X, feature_names)
    else:
        arr = np.asarray(X)
        if arr.ndim not in (1, 2):
            raise InputError(f"expected one series as an array (n,) or (n, F), got {arr.ndim}-D input with shape "
                             f"{arr.shape}; for a collection of sequences use SequenceAnomalyDetector")
        was_1d = arr.ndim == 1
        arr2 = arr[:, None] if was_1d else arr
        X = pd.DataFrame(arr2, columns=["value"] if was_1d else [f"x{j}" for j in range(arr2.shape[1])])
    frame = X
    if frame.shape[1] == 0:
        raise InputError("expected at least one value column, got none")
    for col in frame.columns:
        kind = frame[col].dtype.kind
        if kind == "b":
            continue
        if kind not in "iuf":
            bad = pd.to_numeric(frame[col], errors="coerce").isna() & frame[col].notna()
            where = f" (first at {_describe_position(frame.index, int(np.flatnonzero(bad.to_numpy())[0]))})" \
                if bad.any() else ""
            raise InputError(f"column {col!r}: expected numeric values, got dtype {frame[col].dtype}{where}")
    values = frame.to_numpy(dtype=np.float64, copy=True)
    n = len(values)
    if n == 0:
        raise InputError("expected a non-empty series, got 0 rows")
    if n_features is not None and values.shape[1] != n_features:
        raise InputError(f"expected {n_features} feature(s) as in fit, got {values.shape[1]}")
    if np.isinf(values).any():
        r, c = np.argwhere(np.isinf(values))[0]
        raise InputError(f"column {frame.columns[c]!r}: inf at {_describe_position(frame.index, int(r))}")
    nan = np.isnan(values)
    if nan.any():
        if missing == "raise":
            r, c = np.argwhere(nan)[0]
            raise MissingValueError(f"column {frame.columns[c]!r}: missing value (NaN) at "
                                    f"{_describe_position(frame.index, int(r))}; {int(nan.sum())} in all. "
                                    "Pass missing='interpolate' to fill them", frame.columns[c], r, nan.sum())
        if nan.all(axis=0).any():
            c = int(np.flatnonzero(nan.all(axis=0))[0])
            raise InputError(f"column {frame.columns[c]!r}: every value is missing; nothing to interpolate")
        values = pd.DataFrame(values).interpolate(method="linear", limit_direction="both").to_numpy()
    if np.abs(values).max() > _FLOAT32_MAX:
        raise InputError(f"values up to {np.abs(values).max():.3g} overflow float32 (max {_FLOAT32_MAX:.3g}); "
                         "rescale the series")
    if n < min_length:
        raise SeriesTooShortError(f"the series has {n} point(s) but at least {min_length} are needed "
                                  f"(the window length); use a smaller window or a longer series", n, min_length)
    return SeriesInput(values=values, index=frame.index,
                       columns=[str(c) for c in frame.columns], was_1d=was_1d)
