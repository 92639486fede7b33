"""The shared benchmark data (UEA/UCR classification sets in ``.ts`` files): where it lives, and loading a set."""
from __future__ import annotations

import os
from pathlib import Path

from seqae.exceptions import DataFileError, InputError
from seqae.io._files import as_path
from seqae.io.collection import SequenceCollection
from seqae.io.ts import read_ts


def data_root() -> Path | None:
    """Where the shared benchmark data (UEA, NAB, ...) lives, or ``None`` if it cannot be found.

    The environment variable ``SEQAE_DATA`` wins when set (returned even if the folder does not exist, so
    that the error that follows names it). Otherwise the folders above this file are searched, nearest first,
    for a ``shared/data`` folder: for a source checkout at ``<work>/main`` that finds ``<work>/shared/data``.

    Returns
    -------
    pathlib.Path or None

    Examples
    --------
    >>> root = data_root()
    >>> root is None or isinstance(root, Path)
    True
    """
    env = os.environ.get("SEQAE_DATA")
    if env:
        return Path(env).expanduser()
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def load_uea(name: str, split: str = "train", root: str | os.PathLike | None = None, *,
             missing: str = "raise") -> SequenceCollection:
    """Load a UEA/UCR classification data set from the shared benchmark data.

    Reads ``<root>/UEA/<name>/<name>_TRAIN.ts`` (or ``_TEST.ts``) with :func:`read_ts`.

    Parameters
    ----------
    name : str
        The data set, e.g. ``"JapaneseVowels"``, ``"BasicMotions"``, ``"GunPoint"``.
    split : {"train", "test"}, default "train"
    root : str or os.PathLike, optional
        The data root (the folder holding ``UEA/``); by default :func:`data_root`.
    missing : {"raise", "nan"}, default "raise"
        Passed to :func:`read_ts`.

    Returns
    -------
    SequenceCollection

    Raises
    ------
    DataFileError
        If the data cannot be found (the message says where it looked and which sets exist) or read.
    InputError
        For an invalid name or split.

    Examples
    --------
    >>> X, y, ids = load_uea("GunPoint", "test")  # doctest: +SKIP
    >>> len(X), X[0].shape  # doctest: +SKIP
    (150, (150, 1))
    """
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name:
        raise InputError(f"name must be a data set name such as 'GunPoint', got {name!r}")
    if not isinstance(split, str) or split.lower() not in ("train", "test"):
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    base = as_path(root, "root") if root is not None else data_root()
    if base is None:
        raise DataFileError("the shared benchmark data was not found: set SEQAE_DATA to the folder holding UEA/ "
                            "(or pass root=...)")
    uea = base / "UEA"
    path = uea / name / f"{name}_{split.upper()}.ts"
    if not path.is_file():
        if uea.is_dir():
            available = sorted(p.name for p in uea.iterdir() if p.is_dir())
            raise DataFileError(f"{path}: not found; data sets under {uea}: {', '.join(available) or 'none'}")
        raise DataFileError(f"{path}: not found ({uea} does not exist; set SEQAE_DATA or pass root=...)")
    return read_ts(path, missing=missing)
