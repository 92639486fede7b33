"""Turn whatever the user passed into a validated list of ``(T_i, F)`` float arrays.

Values keep the precision they came in (float32 for float32 and narrower inputs, float64 for float64 and wide
integers, :func:`value_dtype`): the models compute in float32, but only after standardisation
(``preprocessing/scaling.py``), so that a large offset (a meter reading near 1e7 that moves by 1) keeps its
digits; cast to float32 first, such a series would be rounded to whole units before anything saw it.

Accepted forms, and how they come back out of ``reconstruct``:

* ndarray ``(N, T, F)`` or ``(N, T)`` (the latter is N univariate sequences of length T);
* a list (or tuple) of arrays ``(T_i, F)`` or ``(T_i,)``; lengths may differ.

Every check raises :class:`~seqae.exceptions.InputError` (a ``ValueError``) whose message names the problem and,
for collections, the index of the offending sequence. Inputs are never modified: arrays are copied when cast.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from seqae.exceptions import InputError

# float32 is what the models compute in; anything larger in magnitude becomes inf on the cast.
# The largest value the models take (they compute in float32); every input check reads this one.
FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT32_MAX = FLOAT32_MAX


def value_dtype(dtype: np.dtype) -> np.dtype:
    """The float type validated values are kept in: float32, or float64 where the input carries more digits
    (long double included: more than float64 would buy nothing before the models' float32)."""
    kept = np.result_type(dtype, np.float32)
    return kept if kept.itemsize <= 8 else np.dtype(np.float64)


@dataclass(frozen=True)
class SequenceInput:
    """A validated collection, plus what is needed to give results back in the caller's structure.

    Attributes
    ----------
    sequences : list of ndarray
        float32 or float64 arrays (:func:`value_dtype`) of shape ``(T_i, F)``, each ``T_i >= 1``.
    was_array : bool
        True when the input was one ndarray (results go back as one ndarray).
    univariate_input : bool
        True when the input had no feature axis (``(N, T)`` or list of ``(T_i,)``); results drop it again.
    array : ndarray (N, T, F) float32 or float64, or None
        When the input was one array of valid values: that array, cast once; ``sequences`` are its rows.
        Inference uses it to work on whole batches instead of row by row.
    """

    sequences: list[np.ndarray]
    was_array: bool
    univariate_input: bool
    array: np.ndarray | None = None

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(s) for s in self.sequences), dtype=np.int64, count=len(self.sequences))

    @property
    def n_features(self) -> int:
        return int(self.sequences[0].shape[1])

    def restore(self, per_sequence: list[np.ndarray] | np.ndarray) -> np.ndarray | list[np.ndarray]:
        """Give per-sequence ``(T_i, F)`` results (a list, or one (N, T, F) array) back in the input's structure."""
        if isinstance(per_sequence, np.ndarray):                # (N, T, F) already, from an array input
            return per_sequence[..., 0] if self.univariate_input else per_sequence
        out = [r[:, 0] if self.univariate_input else r for r in per_sequence]
        if self.was_array:
            return np.stack(out)
        return out


def _as_numeric_array(a: Any, where: str) -> np.ndarray:
    if isinstance(a, np.ma.MaskedArray) and np.ma.is_masked(a):
        # np.asarray would silently use whatever values sit under the mask.
        raise InputError(f"{where}: masked arrays with masked values are not supported; fill or drop the "
                         "masked values first")
    try:
        arr = np.asarray(a)
    except Exception as exc:  # ragged nesting, objects whose __array__ fails, tensors that need grad, ...
        raise InputError(f"{where}: cannot be read as a numeric array ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); pass arrays of shape (T, F) "
                         "or (T,)") from exc
    if arr.dtype == object:
        # A ragged nested list ends up here; so do mixed strings and numbers.
        if any(isinstance(v, (str, bytes)) for v in arr.flat):
            raise InputError(f"{where}: expected numeric values, got strings in an array of dtype object")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError, OverflowError):
            raise InputError(f"{where}: expected numeric values, got an array of dtype object "
                             "(strings, None, or ragged nesting?)") from None
    if arr.dtype.kind == "b":
        arr = arr.astype(np.float32)
    if arr.dtype.kind not in "iuf":
        what = f"strings (dtype {arr.dtype})" if arr.dtype.kind in "SU" else f"dtype {arr.dtype}"
        raise InputError(f"{where}: expected a numeric dtype (int or float), got {what}")
    return arr


def _values_ok(arr: np.ndarray) -> bool:
    """True when every value is finite and fits in float32 (what ``_check_values`` checks, without a message)."""
    if arr.dtype.kind != "f":
        return True
    if not np.isfinite(arr).all():
        return False
    return arr.dtype.itemsize <= 4 or arr.size == 0 or bool(np.abs(arr).max() <= arr.dtype.type(_FLOAT32_MAX))


def _check_values(arr: np.ndarray, where: str) -> np.ndarray:
    """Copy as :func:`value_dtype` after checking that every value is finite and fits float32 (the models'
    type)."""
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        kind = "NaN" if np.isnan(arr[tuple(bad)]) else "inf"
        raise InputError(f"{where}: contains {kind} at position {tuple(int(i) for i in bad)}; "
                         "remove or interpolate missing values first")
    # Only float64 and wider can exceed float32's range (ints top out near 1.8e19). Compare in the array's own
    # dtype: comparing float16 with the Python float 3.4e38 would cast it to float16 and warn of overflow.
    if arr.dtype.kind == "f" and arr.dtype.itemsize > 4 and arr.size:
        peak = np.abs(arr).max()
        if peak > arr.dtype.type(_FLOAT32_MAX):
            raise InputError(f"{where}: values up to {peak:.3g} overflow float32 "
                             f"(max {_FLOAT32_MAX:.3g}); rescale the data")
    return np.array(arr, dtype=value_dtype(arr.dtype), copy=True)


def check_sequences(X: Any, *, n_features: int | None = None, min_length: int = 1) -> SequenceInput:
    """Validate a collection of sequences and return it as float ``(T_i, F)`` arrays (:func:`value_dtype`).

    Parameters
    ----------
    X : ndarray of shape (N, T, F) or (N, T), or list of array-like of shape (T_i, F) or (T_i,)
        The sequences.
    n_features : int, optional
        The number of features the fitted model expects; a mismatch raises.
    min_length : int, default=1
        The shortest sequence allowed.

    Returns
    -------
    SequenceInput

    Raises
    ------
    InputError
        Empty collection, zero-length or too-short sequence, NaN/inf, values overflowing float32,
        non-numeric dtype, 1-D or 4-D array, mixed or wrong feature counts.

    Examples
    --------
    >>> import numpy as np
    >>> si = check_sequences([np.zeros((5, 2)), np.ones((3, 2))])
    >>> [s.shape for s in si.sequences], si.was_array
    ([(5, 2), (3, 2)], False)
    """
    if X is None:
        raise InputError("expected an array (N, T, F) or (N, T), or a list of sequences, got None")
    if isinstance(X, (list, tuple)):
        was_array = False
        if len(X) == 0:
            raise InputError("expected at least one sequence, got an empty collection")
        items = [_as_numeric_array(x, f"sequence {i}") for i, x in enumerate(X)]
        ndims = {a.ndim for a in items}
        if not ndims <= {1, 2}:
            i = next(i for i, a in enumerate(items) if a.ndim not in (1, 2))
            raise InputError(f"sequence {i}: expected shape (T, F) or (T,), got an array with shape {items[i].shape}")
        if len(ndims) > 1:
            raise InputError("expected all sequences to be (T, F) or all to be (T,), got a mix of both")
        univariate = ndims == {1}
        items = [a[:, None] if a.ndim == 1 else a for a in items]
    else:
        was_array = True
        if hasattr(X, "to_numpy"):  # pandas DataFrame: one multivariate sequence is NOT guessed; be explicit
            raise InputError("expected an array (N, T, F) or a list of sequences, got a pandas object; "
                             "use AnomalyDetector for one series, or pass [df.to_numpy()] for one sequence")
        arr = _as_numeric_array(X, "X")
        if arr.ndim == 3:
            univariate = False
        elif arr.ndim == 2:
            univariate, arr = True, arr[:, :, None]
        else:
            raise InputError(f"expected an array of shape (N, T, F) or (N, T), got {arr.ndim}-D input "
                             f"with shape {arr.shape}")
        if arr.shape[0] == 0:
            raise InputError("expected at least one sequence, got an empty collection (N = 0)")
        items = list(arr)

    feature_counts = [a.shape[1] for a in items]
    expected = feature_counts[0] if n_features is None else n_features
    for i, f in enumerate(feature_counts):
        if f != expected:
            if n_features is None:
                raise InputError(f"sequence {i}: has {f} features but sequence 0 has {expected}; "
                                 "all sequences must have the same number of features")
            raise InputError(f"sequence {i}: has {f} features, but the model was fitted with {n_features}")
    if expected == 0:
        raise InputError("expected at least one feature, got sequences with 0 features")
    if was_array and items[0].shape[0] >= max(min_length, 1) and _values_ok(arr):
        # One array of valid values (the usual case for windows): cast it once, not row by row; the rows are
        # views of that one copy. Invalid values take the loop below, which names the first bad row.
        dense = np.array(arr, dtype=value_dtype(arr.dtype), copy=True)
        return SequenceInput(sequences=list(dense), was_array=True, univariate_input=univariate, array=dense)
    sequences = []
    for i, a in enumerate(items):
        if a.shape[0] < max(min_length, 1):
            what = "is empty (zero length)" if a.shape[0] == 0 else f"has length {a.shape[0]}"
            raise InputError(f"sequence {i}: {what}; sequences need at least {max(min_length, 1)} step(s)")
        where = "X" if was_array and len(items) == 1 else f"sequence {i}"
        sequences.append(_check_values(a, where))
    return SequenceInput(sequences=sequences, was_array=was_array, univariate_input=univariate)
