"""Anomaly windows in the JSON layout of the Numenta Anomaly Benchmark (NAB): ``[[start, end], ...]`` for one
series, or ``{"folder/file.csv": [[start, end], ...], ...}`` for several (NAB's ``combined_windows.json``).

Starts and ends are inclusive, and either all timestamps (strings) or all row numbers (integers).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from seqae.exceptions import DataFileError, InputError

__all__ = ["read_windows", "read_windows_by_series", "series_name"]


def series_name(name: str | os.PathLike) -> str:
    """The name a windows entry and a data file are matched by: no folder, no table extension.

    Examples
    --------
    >>> series_name("realKnownCause/nyc_taxi.csv")
    'nyc_taxi'
    """
    base = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in (".csv.gz", ".csv", ".parquet", ".pq"):
        base = base.removesuffix(suffix)
    return base


def _load_document(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataFileError(f"{path}: is a directory, not a file") from None
    except UnicodeDecodeError:
        raise DataFileError(f"{path}: not UTF-8 text") from None
    if not text.strip():
        raise DataFileError(f"{path}: the file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None


def _pick(doc: Any, path: Path, key: str | None, data_file: str | os.PathLike | None) -> Any:
    """The entry ``key`` names (a full key, or a file name as :func:`series_name` gives it); without a key, the only
    entry, or the one named like ``data_file``. Which entry to take is the caller's choice: an InputError."""
    if isinstance(doc, list):
        if key is not None:
            raise InputError(f"{path}: key={key!r} given, but the file holds one list of windows, not a dict keyed "
                             "by file name")
        return doc
    if not isinstance(doc, dict):
        raise DataFileError(f"{path}: expected a list of [start, end] windows or a dict of such lists keyed by "
                            f"file name, got {type(doc).__name__}")
    if not doc:
        raise DataFileError(f"{path}: the dict of windows is empty")
    names = ", ".join(list(doc)[:8]) + (" ..." if len(doc) > 8 else "")
    if key is None:
        if len(doc) == 1:
            return next(iter(doc.values()))
        matches = [k for k in doc if data_file is not None and series_name(k) == series_name(data_file)]
        if len(matches) == 1:
            return doc[matches[0]]
        raise InputError(f"{path} holds windows for {len(doc)} series ({names}); choose one with key=NAME")
    if key in doc:
        return doc[key]
    matches = [k for k in doc if series_name(k) == series_name(key)]
    if len(matches) == 1:
        return doc[matches[0]]
    if not matches:
        raise InputError(f"{path}: no windows for {key!r}; the file has: {names}")
    raise InputError(f"{path}: {key!r} matches several entries ({', '.join(matches)}); give the full key")


def _check_windows(windows: Any, path: Path) -> bool:
    """Every window a [start, end] pair, all timestamps or all row numbers; True for timestamps."""
    if not isinstance(windows, list):
        raise DataFileError(f"{path}: expected a list of [start, end] windows, got {type(windows).__name__}")
    kinds = set()
    for i, w in enumerate(windows):
        if not isinstance(w, list) or len(w) != 2:
            raise DataFileError(f"{path}: window {i + 1} must be a [start, end] pair, got {w!r}")
        for v in w:
            # bool is an int subclass: true/false are neither times nor row numbers
            kinds.add("int" if isinstance(v, int) and not isinstance(v, bool) else "str" if isinstance(v, str)
                      else "bad")
        if "bad" in kinds:
            raise DataFileError(f"{path}: window {i + 1}: start and end must be timestamps (strings) or row numbers "
                                f"(integers), got {w!r}")
    if len(kinds) > 1:
        raise DataFileError(f"{path}: mixes timestamp windows and row-number windows")
    return kinds != {"int"}


def read_windows(path: str | os.PathLike, key: str | None = None,
                 data_file: str | os.PathLike | None = None) -> tuple[list[list[Any]], bool]:
    """The anomaly windows of one series from a NAB-style JSON file.

    Parameters
    ----------
    path : str or os.PathLike
        The JSON file: one list of windows, or a dict of such lists keyed by file name.
    key : str, optional
        Which entry of a dict to take: a full key, or its file name without folder and extension.
    data_file : str or os.PathLike, optional
        The data file the windows are for: without ``key``, a dict's entry named like it is taken.

    Returns
    -------
    windows : list of [start, end]
        Inclusive, as in the file.
    are_times : bool
        True when the windows are timestamps (strings), False for row numbers (integers).

    Raises
    ------
    DataFileError
        If the file cannot be read, is not JSON, or does not hold windows in this layout.
    InputError
        If ``key`` names no entry (or several), or a dict of several series leaves the choice open.
    """
    p = Path(path)
    windows = _pick(_load_document(p), p, key, data_file)
    return windows, _check_windows(windows, p)


def read_windows_by_series(path: str | os.PathLike) -> dict[str, list[list[Any]]]:
    """Every entry of a NAB-style dict of windows, keyed by :func:`series_name` (``'nyc_taxi'``)."""
    p = Path(path)
    doc = _load_document(p)
    if not isinstance(doc, dict):
        raise DataFileError(f"{p}: expected a dict of [start, end] window lists keyed by file name, got "
                            f"{type(doc).__name__}")
    out = {}
    for key, windows in doc.items():
        _check_windows(windows, p)
        out[series_name(key)] = windows
    return out
