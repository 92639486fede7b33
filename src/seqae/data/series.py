"""Validation of one time series (array, pandas Series or DataFrame) for the anomaly detector."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from seqae.exceptions import InputError

_FLOAT32_MAX = float(np.finfo(np.float32).max)
MISSING = ("raise", "interpolate")


@dataclass(frozen=True)
class SeriesInput:
    values: np.ndarray        # (n, F) float32, finite
    index: pd.Index           # the input's index (DatetimeIndex kept), or a RangeIndex for arrays
    columns: list[str]        # feature names ("value" or "x0".. for arrays)
    was_1d: bool              # (n,) array or Series input


def _describe_position(index: pd.Index, i: int) -> str:
    if isinstance(index, pd.RangeIndex):
        return f"row {i}"
    return f"row {i} ({index[i]})"


def check_series(X: Any, *, n_features: int | None = None, min_length: int = 1,
                 missing: str = "raise") -> SeriesInput:
    """Validate one time series and return it as float32 ``(n, F)`` values.

    Parameters
    ----------
    X : ndarray (n,) or (n, F), pandas Series or DataFrame
        One series; rows are time steps. A DataFrame's index (e.g. a DatetimeIndex) is kept for outputs.
    n_features : int, optional
        Features the fitted model expects.
    min_length : int
        Shortest length allowed (the detector passes its window).
    missing : {"raise", "interpolate"}
        NaN handling: an error that says where, or linear interpolation in time (ends filled with the
        nearest value).

    Raises
    ------
    InputError
        Wrong shape, non-numeric column, NaN (with ``missing="raise"``), inf, overflow, too short,
        wrong number of features.
    """
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {MISSING}, got {missing!r}")
    if isinstance(X, pd.Series):
        X = X.to_frame(name=str(X.name) if X.name is not None else "value")
        was_1d = True
    elif isinstance(X, pd.DataFrame):
        was_1d = False
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
            raise InputError(f"column {frame.columns[c]!r}: missing value (NaN) at "
                             f"{_describe_position(frame.index, int(r))}; {int(nan.sum())} in all. "
                             "Pass missing='interpolate' to fill them")
        if nan.all(axis=0).any():
            c = int(np.flatnonzero(nan.all(axis=0))[0])
            raise InputError(f"column {frame.columns[c]!r}: every value is missing; nothing to interpolate")
        values = pd.DataFrame(values).interpolate(method="linear", limit_direction="both").to_numpy()
    if np.abs(values).max() > _FLOAT32_MAX:
        raise InputError(f"values up to {np.abs(values).max():.3g} overflow float32 (max {_FLOAT32_MAX:.3g}); "
                         "rescale the series")
    if n < min_length:
        raise InputError(f"the series has {n} point(s) but at least {min_length} are needed "
                         f"(the window length); use a smaller window or a longer series")
    return SeriesInput(values=values.astype(np.float32), index=frame.index,
                       columns=[str(c) for c in frame.columns], was_1d=was_1d)
