"""Input checks shared by the metric functions.

Every public metric goes through these so that bad input fails the same way everywhere: an
:class:`~seqae.exceptions.InputError` whose message says what was expected and what came. The helpers
return fresh arrays, so no metric ever modifies its caller's data.
"""
from __future__ import annotations

import numpy as np

from seqae.exceptions import InputError


def _as_1d(values, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D numpy array, or raise :class:`InputError` saying what came instead."""
    try:
        arr = np.asarray(values)
    except Exception as exc:  # ragged lists and the like; numpy's own message is not user-facing enough
        raise InputError(f"{name} must be a 1-D array-like; got {type(values).__name__} ({exc})") from exc
    if arr.ndim == 2 and 1 in arr.shape:
        # A column vector (n, 1) is a common shape for single-feature scores; accept it rather than annoy.
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D; got an array of shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name} must not be empty; got an array of length 0")
    return arr


def check_binary(values, name: str = "labels") -> np.ndarray:
    """Validate a 0/1 vector and return it as a new ``int8`` array.

    Booleans, integers and floats are accepted as long as every value is exactly 0 or 1.
    """
    arr = _as_1d(values, name)
    if arr.dtype == bool:
        return arr.astype(np.int8)
    if arr.dtype.kind not in "iuf":
        raise InputError(f"{name} must be numeric 0/1 values; got dtype {arr.dtype}")
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        shown = np.unique(arr[bad])[:5].tolist()
        raise InputError(f"{name} must contain only 0 and 1; got other values, e.g. {shown}")
    return arr.astype(np.int8)


def check_scores(values, name: str = "scores") -> np.ndarray:
    """Validate a vector of finite real scores and return it as a new ``float64`` array."""
    arr = _as_1d(values, name)
    if arr.dtype.kind not in "iufb":
        raise InputError(f"{name} must be real numbers; got dtype {arr.dtype}")
    arr = arr.astype(np.float64)  # astype copies, so the caller's array is never touched
    finite = np.isfinite(arr)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        raise InputError(f"{name} must be finite; got {int((~finite).sum())} NaN/inf values "
                         f"(first at index {first}: {arr[first]})")
    return arr


def check_same_length(**arrays: np.ndarray) -> None:
    """Raise :class:`InputError` unless all the named arrays have the same length."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise InputError(f"inputs must have the same length; {shown}")


def check_both_classes(labels: np.ndarray, metric: str) -> None:
    """Raise :class:`InputError` unless ``labels`` holds at least one 0 and one 1."""
    n_pos = int(labels.sum())
    if n_pos == 0 or n_pos == len(labels):
        only = "normal (0)" if n_pos == 0 else "anomalous (1)"
        raise InputError(f"{metric} needs both normal (0) and anomalous (1) points in labels; "
                         f"got only {only} points ({len(labels)} of them)")


def label_ranges(binary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end indices (both inclusive) of the runs of 1s in a 0/1 vector."""
    padded = np.concatenate(([0], np.asarray(binary, dtype=np.int8), [0]))
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return starts, ends
