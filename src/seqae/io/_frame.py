"""Loading a CSV or Parquet file into a DataFrame, and checking its columns, with messages that name the file, the
column and the row: what every table reader (one series, or many sequences in long format) starts from."""
from __future__ import annotations

import io
import os
import re
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from seqae.exceptions import DataFileError, MissingColumnError
from seqae.io._files import decode_utf8, read_bytes
from seqae.preprocessing.validation import FLOAT32_MAX

# Text a numeric column may hold for a missing value (besides an empty cell).
_NAN_TEXT = ("nan", "-nan", "+nan")
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz")
PARQUET_SUFFIXES = (".parquet", ".pq")
_COMPRESSIONS = {"gz": "gzip", "bz2": "bz2", "zip": "zip", "xz": "xz"}


class Frame(NamedTuple):
    df: pd.DataFrame
    source: str                 # the file (or "DataFrame") for messages
    exact_lines: bool           # data row i is on file line i + 2 (a plain CSV with no blank lines or quotes)
    headerless: bool = False    # a CSV without a header row: columns named "0", "1", ... by position


def _header_is_data(df: pd.DataFrame) -> bool:
    """Every column name of a CSV reads as a number: the first row holds values, not names."""
    def number(name: Any) -> bool:
        try:
            float(name)
        except (TypeError, ValueError):
            return False
        return True
    return len(df.columns) > 0 and all(isinstance(c, str) and number(c) for c in df.columns)


def row_ref(frame: Frame, i: int) -> str:
    """How to name data row ``i`` (0-based) in a message: 1-based, with the file line when it is certain."""
    return f"row {i + 1} (line {i + 2})" if frame.exact_lines else f"row {i + 1}"


def table_format(path: str | os.PathLike) -> str:
    """``"csv"`` or ``"parquet"``, from the file name's extension; any other name is a DataFileError that lists
    the extensions known."""
    name = Path(path).name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise DataFileError(f"{path}: unknown file type; expected a CSV ({', '.join(CSV_SUFFIXES)}) or Parquet "
                        f"({', '.join(PARQUET_SUFFIXES)}) file")


def load_frame(path: Path) -> Frame:
    """Read a CSV or Parquet file (chosen by extension) into a DataFrame, all failures as DataFileError."""
    name = path.name.lower()
    if table_format(path) == "parquet":
        import pyarrow  # a dependency of seqae; imported here because only Parquet input needs it

        if not path.exists():
            raise DataFileError(f"{path}: file not found")
        try:
            df = pd.read_parquet(path)
        except (OSError, ValueError, pyarrow.ArrowException) as err:
            raise DataFileError(f"{path}: cannot read as Parquet: {err}") from err
        return Frame(df, str(path), False)
    raw = read_bytes(path)
    compressed = not name.endswith(".csv")
    if not compressed:
        decode_utf8(raw, path)  # a precise message (line, byte) for non-UTF-8 input
        if not raw.strip():
            raise DataFileError(f"{path}: the file is empty")
    compression = _COMPRESSIONS[name.rsplit(".", 1)[1]] if compressed else None
    try:
        # low_memory=False: infer each column's type from all of it, not chunk by chunk.
        df = pd.read_csv(io.BytesIO(raw), low_memory=False, compression=compression,
                         sep=_csv_separator(_first_line(raw, compression)))
    except pd.errors.EmptyDataError as err:
        raise DataFileError(f"{path}: the file is empty") from err
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:  # ParserError is a ValueError
        raise DataFileError(f"{path}: cannot parse as CSV: {str(err).strip()}") from err
    if _header_is_data(df):
        # A file without a header row: its first row holds values, not names. Read it as data, the columns named
        # by position ("0", "1", ...), which read_table records in attrs["headerless"] for the CLI to say.
        df = pd.read_csv(io.BytesIO(raw), low_memory=False, compression=compression, header=None,
                         sep=_csv_separator(_first_line(raw, compression)))
        df.columns = [str(i) for i in range(df.shape[1])]
        return Frame(df, str(path), False, headerless=True)
    normalised = raw.replace(b"\r\n", b"\n")
    exact = (not compressed and b'"' not in raw and b"\r" not in normalised
             and re.search(rb"(^|\n)[ \t]*\n", normalised.rstrip(b"\n")) is None)
    return Frame(df, str(path), exact)


# Field separators a CSV header is checked for, the default first: SKAB's files and many European exports use
# ';'. pandas' own sniffing (sep=None) needs its slow Python parser, so the header line alone decides here.
_SEPARATORS = (",", ";", "\t", "|")


def _first_line(raw: bytes, compression: str | None) -> bytes:
    """The header line of a (possibly compressed) CSV; b"" when it cannot be decompressed (read_csv says why)."""
    import bz2
    import gzip
    import lzma

    head_size = 1 << 16
    try:
        if compression is None:
            head = raw[:head_size]
        elif compression == "zip":
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                names = archive.namelist()
                head = archive.open(names[0]).read(head_size) if names else b""
        else:
            opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[compression]
            with opener(io.BytesIO(raw)) as stream:
                head = stream.read(head_size)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, lzma.LZMAError):
        return b""
    return head.split(b"\n", 1)[0]


def _csv_separator(header: bytes) -> str:
    """The separator the header line uses most (',' on a tie or when it has none: a one-column file)."""
    counts = [header.count(sep.encode()) for sep in _SEPARATORS]
    best = max(range(len(_SEPARATORS)), key=lambda k: (counts[k], -k))
    return _SEPARATORS[best] if counts[best] else _SEPARATORS[0]


def check_columns(frame: Frame, wanted: dict[str, Any], values: Sequence[Any] = ()) -> None:
    """Every named column (``wanted``: role -> name; ``values``: value columns) must exist; the message lists
    those available. The missing value columns are named together, and only they: one message fixes them all."""
    df = frame.df
    if not df.columns.is_unique:
        dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise DataFileError(f"{frame.source}: duplicate column name(s) {', '.join(dupes)}")
    available = ", ".join(repr(c) for c in df.columns[:30]) + (" ..." if df.shape[1] > 30 else "")
    for role, col in wanted.items():
        if col is not None and col not in df.columns:
            raise MissingColumnError(f"{frame.source}: no column {col!r} ({role}); available columns: {available}",
                                     [col], list(df.columns))
    absent = [col for col in values if col not in df.columns]
    if absent:
        what = (f"column {absent[0]!r} (value column)" if len(absent) == 1
                else f"columns {', '.join(map(repr, absent))} (value columns)")
        named = set(values) | {col for col in wanted.values() if col is not None}
        raise MissingColumnError(f"{frame.source}: no {what}; available columns: {available}", absent,
                                 [c for c in df.columns if c not in named])


def float_column(frame: Frame, col: Any, hint_time: bool = False, numeric_columns: Sequence[Any] | None = None
                 ) -> np.ndarray:
    """Column ``col`` as a new float64 array; NaN kept, anything else non-numeric is a DataFileError.

    ``numeric_columns``: the columns the caller could use instead, named in the error when most of ``col`` is
    text (a label or a name among the values, which the caller took by default)."""
    s = frame.df[col]
    where = f"{frame.source}: column {col!r}"
    if pd.api.types.is_bool_dtype(s.dtype):
        raise DataFileError(f"{where} holds true/false values, not numbers")
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_complex_dtype(s.dtype):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    elif isinstance(s.dtype, pd.CategoricalDtype) or s.dtype.kind in "OSU" or pd.api.types.is_string_dtype(s.dtype):
        original = s.to_numpy(dtype=object)
        with np.errstate(all="ignore"):
            coerced = pd.to_numeric(pd.Series(original, dtype=object), errors="coerce")
        values = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(np.isnan(values) & ~pd.isna(pd.Series(original, dtype=object)).to_numpy())
        # A literal "nan" is a missing value, which is allowed; anything else that did not parse is bad.
        bad = [i for i in bad if not (isinstance(original[i], str) and original[i].strip().lower() in _NAN_TEXT)]
        if bad:
            i = int(bad[0])
            shown = repr(original[i]) if len(repr(original[i])) <= 60 else repr(original[i])[:60] + "..."
            hint = ""
            if hint_time and looks_like_time(original[i]):
                hint = f" (is it the time column? pass time_column={col!r})"
            elif numeric_columns is not None and 2 * len(bad) > len(original):
                keep = [c for c in numeric_columns if c != col]
                hint = (f" (a column of text, not values? choose the value columns: columns={keep!r})" if keep
                        else " (a column of text, not values?)")
            raise DataFileError(f"{where}, {row_ref(frame, i)}: {shown} is not a number{hint}")
    else:
        raise DataFileError(f"{where} has type {s.dtype}, not numbers")
    big = np.abs(values) > FLOAT32_MAX  # NaN compares False: kept
    if big.any():
        i = int(np.flatnonzero(big)[0])
        raise DataFileError(f"{where}, {row_ref(frame, i)}: {values[i]:g} is infinite or too large for float32 "
                            f"(|x| > {FLOAT32_MAX:.4g})")
    return values


def looks_like_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return False
    return True
