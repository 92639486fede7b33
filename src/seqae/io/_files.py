"""What every reader shares: argument checks, reading bytes and decoding text with messages that name the file."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from seqae.exceptions import DataFileError, InputError

MISSING_CHOICES = ("raise", "nan")
"""What the sequence readers do with a missing value: raise an error naming it, or keep it as NaN."""


def as_path(path: Any, what: str = "path") -> Path:
    if isinstance(path, (str, os.PathLike)):
        return Path(path)
    raise InputError(f"{what} must be a str or os.PathLike, got {type(path).__name__}")


def check_missing(missing: Any) -> str:
    if missing not in MISSING_CHOICES:
        raise InputError(f"missing must be one of {MISSING_CHOICES}, got {missing!r}")
    return missing


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as err:
        raise DataFileError(f"{path}: file not found") from err
    except IsADirectoryError as err:
        raise DataFileError(f"{path}: is a directory, not a file") from err
    except OSError as err:
        raise DataFileError(f"{path}: cannot read the file: {err.strerror or err}") from err


def decode_utf8(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataFileError(f"{path}, line {line}: not UTF-8 text (byte 0x{raw[err.start]:02x} at offset "
                            f"{err.start})") from err


def object_labels(values: np.ndarray) -> np.ndarray:
    """String arrays of any numpy flavour (``<U``, bytes) as an object array of Python ``str``."""
    if values.dtype.kind == "S":
        return np.array([v.decode("utf-8", "replace") for v in values], dtype=object)
    if values.dtype.kind == "U":
        return values.astype(object)
    return values
