"""Sequences in an ``.npz`` archive, written and read without pickling: ``X`` (n, T, F) or ``X_0 .. X_{n-1}``,
with optional ``y`` and ``ids``."""
from __future__ import annotations

import os
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqae.exceptions import DataFileError, InputError
from seqae.io._files import as_path, check_missing, object_labels
from seqae.io.collection import SequenceCollection
from seqae.preprocessing.validation import FLOAT32_MAX

_X_KEY = re.compile(r"X_(0|[1-9][0-9]*)\Z")


def save_npz(path: str | os.PathLike, X: Any, y: Any = None, ids: Any = None) -> Path:
    """Write sequences to an ``.npz`` file that :func:`read_npz` reads back (no pickling involved).

    The layout (the convention :func:`read_npz` expects):

    - ``X``: one float32 array of shape ``(n, T, F)`` when all sequences have the same length, **or**
    - ``X_0``, ``X_1``, ..., ``X_{n-1}``: one float32 array of shape ``(T_i, F)`` per sequence otherwise;
    - ``y`` (optional): shape ``(n,)``, numbers or (unicode) strings;
    - ``ids`` (optional): shape ``(n,)``, unique numbers or strings.

    Parameters
    ----------
    path : str or os.PathLike
        Where to write; used exactly as given (no ``.npz`` is appended).
    X : sequence of array-like of shape (T_i, F), or array of shape (n, T, F)
        The sequences; all with the same ``F`` and ``T_i >= 1``. NaN is stored as is.
    y, ids : array-like of shape (n,), optional
        Labels and identifiers.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    InputError
        For sequences of the wrong shape or type, or ``y``/``ids`` of the wrong length or type.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "seqs.npz"
    >>> _ = save_npz(p, [np.zeros((3, 2)), np.ones((5, 2))], y=["a", "b"])
    >>> [x.shape for x in read_npz(p).X]
    [(3, 2), (5, 2)]
    """
    path = as_path(path)
    seqs = _as_sequences(X)
    arrays: dict[str, np.ndarray] = {}
    if len({s.shape[0] for s in seqs}) == 1:
        arrays["X"] = np.stack(seqs)
    else:
        arrays.update({f"X_{i}": s for i, s in enumerate(seqs)})
    for name, value in (("y", y), ("ids", ids)):
        if value is None:
            continue
        arr = _as_vector(name, value, len(seqs))
        if name == "ids" and len(pd.unique(arr)) != arr.size:
            raise InputError("ids must be unique")
        arrays[name] = arr
    try:
        # A file object, not the name: np.savez would append ".npz" to a name that lacks it.
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    except OSError as err:
        raise DataFileError(f"{path}: cannot write: {err.strerror or err}") from err
    return path


def _as_sequences(X: Any) -> list[np.ndarray]:
    """Validate sequences for writing: float32 copies of shape (T_i, F), T_i >= 1, one F."""
    if isinstance(X, np.ndarray) and X.dtype.kind != "O":
        if X.ndim != 3:
            raise InputError(f"X must be a list of (T, F) arrays or an (n, T, F) array, got shape {X.shape}")
        items = list(X)
    else:
        try:
            items = list(X)
        except TypeError:
            raise InputError(f"X must be a list of (T, F) arrays, got {type(X).__name__}") from None
    if not items:
        raise InputError("X is empty: no sequences")
    seqs = []
    for i, item in enumerate(items):
        try:
            arr = np.asarray(item)
        except (TypeError, ValueError) as err:
            raise InputError(f"X[{i}] is not an array: {err}") from err
        if arr.dtype.kind not in "iuf":
            raise InputError(f"X[{i}] must hold real numbers, got dtype {arr.dtype}")
        if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise InputError(f"X[{i}] must have shape (T, F) with T, F >= 1, got {arr.shape}")
        if arr.shape[1] != np.asarray(items[0]).shape[-1]:
            raise InputError(f"X[{i}] has {arr.shape[1]} features, X[0] has {np.asarray(items[0]).shape[-1]}")
        if (np.abs(arr[~np.isnan(arr)]) > FLOAT32_MAX).any() if arr.dtype.kind == "f" else False:
            raise InputError(f"X[{i}] holds values that are infinite or too large for float32")
        seqs.append(arr.astype(np.float32))
    return seqs


def _as_vector(name: str, value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind == "O":
        if not all(isinstance(v, str) for v in arr.ravel()):
            raise InputError(f"{name} must hold numbers or strings only")
        arr = arr.astype(str)
    if arr.dtype.kind not in "biufU":
        raise InputError(f"{name} must hold numbers or strings, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise InputError(f"{name} must have shape ({n},) (one per sequence), got {arr.shape}")
    return arr


def read_npz(path: str | os.PathLike, *, missing: str = "raise") -> SequenceCollection:
    """Read sequences from an ``.npz`` file in the layout written by :func:`save_npz`.

    The file must hold either ``X`` (a numeric array of shape ``(n, T, F)``) or ``X_0 .. X_{n-1}`` (one
    ``(T_i, F)`` array per sequence, for unequal lengths), and optionally ``y`` and ``ids`` of shape ``(n,)``;
    other keys are ignored. Files are opened with ``allow_pickle=False``: object arrays (which need
    unpickling, and unpickling can run arbitrary code) are refused.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.
    missing : {"raise", "nan"}, default "raise"
        NaN values raise an error naming the sequence, or are kept.

    Returns
    -------
    SequenceCollection
        ``X[i]`` float32 ``(T_i, F)``; ``y`` as stored (strings as an object array) or ``None``; ``ids`` as
        stored or ``arange(n)``.

    Raises
    ------
    DataFileError
        If the file is missing, not an ``.npz`` archive, holds object arrays, or does not follow the layout.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "seqs.npz"
    >>> _ = save_npz(p, np.zeros((4, 10, 3)))
    >>> c = read_npz(p)
    >>> len(c.X), c.X[0].shape, c.y
    (4, (10, 3), None)
    """
    path = as_path(path)
    missing = check_missing(missing)
    if not path.exists():
        raise DataFileError(f"{path}: file not found")
    arrays: dict[str, np.ndarray] = {}
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):  # np.load also reads single .npy arrays
            raise DataFileError(f"{path}: a single .npy array, not an .npz archive")
        with archive:
            for key in archive.files:
                if key in ("X", "y", "ids") or _X_KEY.match(key):
                    try:
                        arrays[key] = archive[key]
                    except ValueError as err:
                        if "allow_pickle" in str(err):
                            raise DataFileError(f"{path}: entry {key!r} is an object array, which would need "
                                                "unpickling; seqae never unpickles. Write the file with "
                                                "seqae.io.save_npz") from None
                        raise
    except DataFileError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as err:
        raise DataFileError(f"{path}: not a readable .npz archive: {err}") from err

    split_keys = sorted((k for k in arrays if _X_KEY.match(k)), key=lambda k: int(k[2:]))
    if "X" in arrays and split_keys:
        raise DataFileError(f"{path}: holds both 'X' and 'X_0'-style entries; use one layout")
    if "X" in arrays:
        X_all = arrays["X"]
        if X_all.ndim != 3:
            raise DataFileError(f"{path}: 'X' must be 3-D (n, T, F), got shape {X_all.shape}; a univariate "
                                "(n, T) array should be reshaped to (n, T, 1)")
        raw = [(f"X[{i}]", X_all[i]) for i in range(X_all.shape[0])]
    elif split_keys:
        expected = [f"X_{i}" for i in range(len(split_keys))]
        if split_keys != expected:
            gap = next(e for e, k in zip(expected, split_keys, strict=True) if e != k)
            raise DataFileError(f"{path}: the entries X_0 .. X_{len(split_keys) - 1} must all be there; "
                                f"{gap!r} is missing")
        raw = [(k, arrays[k]) for k in split_keys]
    else:
        raise DataFileError(f"{path}: no 'X' (n, T, F) or 'X_0', 'X_1', ... entries (found: "
                            f"{', '.join(sorted(arrays)) or 'none of the expected keys'})")
    if not raw:
        raise DataFileError(f"{path}: 'X' holds no sequences")

    X: list[np.ndarray] = []
    n_features = None
    for key, arr in raw:
        if arr.dtype.kind not in "biuf":
            raise DataFileError(f"{path}: {key} must hold real numbers, got dtype {arr.dtype}")
        if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise DataFileError(f"{path}: {key} must have shape (T, F) with T, F >= 1, got {arr.shape}")
        if n_features is None:
            n_features = arr.shape[1]
        elif arr.shape[1] != n_features:
            raise DataFileError(f"{path}: {key} has {arr.shape[1]} features, the first sequence {n_features}")
        values = arr.astype(np.float64)
        if (np.abs(values) > FLOAT32_MAX).any():
            raise DataFileError(f"{path}: {key} holds values that are infinite or too large for float32")
        if missing == "raise" and np.isnan(values).any():
            raise DataFileError(f"{path}: {key} holds NaN; pass missing='nan' to keep missing values")
        X.append(values.astype(np.float32))

    n = len(X)
    out: dict[str, np.ndarray | None] = {"y": None, "ids": np.arange(n, dtype=np.int64)}
    for name in ("y", "ids"):
        if name in arrays:
            arr = arrays[name]
            if arr.shape != (n,):
                raise DataFileError(f"{path}: '{name}' must have shape ({n},), got {arr.shape}")
            if arr.dtype.kind not in "biufUS":
                raise DataFileError(f"{path}: '{name}' must hold numbers or strings, got dtype {arr.dtype}")
            out[name] = object_labels(arr)
    ids = out["ids"]
    assert ids is not None
    if len(pd.unique(ids)) != n:
        raise DataFileError(f"{path}: 'ids' holds duplicates")
    return SequenceCollection(X, out["y"], ids)
