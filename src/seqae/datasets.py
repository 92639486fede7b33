"""Reading sequence data, and the small data sets that ship with seqae.

Two shapes of data come in:

- **Collections of sequences** (for embeddings and for training on many short series): the readers
  :func:`read_ts`, :func:`read_long_table`, :func:`read_npz` and :func:`load_uea` all return a
  :class:`SequenceCollection` ``(X, y, ids)`` where ``X`` is a list of float32 arrays of shape ``(T_i, F)``
  (lengths may differ, the number of features ``F`` may not), ``y`` the labels or ``None``, and ``ids`` one
  identifier per sequence.
- **One long time series** (for anomaly detection): :func:`read_table` reads a CSV or Parquet file into a
  float64 :class:`pandas.DataFrame`, and :func:`load_demo_series` returns one of the built-in NAB series.

Every problem with a file is a :class:`~seqae.exceptions.DataFileError` whose message names the file and,
where known, the line or row; every problem with an argument or an in-memory table is an
:class:`~seqae.exceptions.InputError`. No reader modifies its input, and nothing here keeps global state.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import zipfile
import zlib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from seqae.exceptions import DataFileError, InputError, MissingColumnError

__all__ = [
    "SequenceCollection", "data_root", "find_time_columns", "list_demo_series", "load_demo_series", "load_uea",
    "make_sine_collection", "read_long_table", "read_npz", "read_table", "read_ts", "save_npz",
]

# Largest finite float32: every value ends up float32 in the models, so bigger magnitudes would become inf.
from seqae.preprocessing.validation import FLOAT32_MAX as _FLOAT32_MAX  # noqa: E402
_MISSING_CHOICES = ("raise", "nan")
_NAN_TEXT = ("nan", "-nan", "+nan")


class SequenceCollection(NamedTuple):
    """A collection of multivariate sequences of possibly different lengths.

    Attributes
    ----------
    X : list of ndarray
        ``X[i]`` is a float32 array of shape ``(T_i, F)``; ``F`` is the same for all sequences.
    y : ndarray of shape (n,) or None
        One label per sequence (class labels from a ``.ts`` file are strings in an object array), or ``None``.
    ids : ndarray of shape (n,)
        One unique identifier per sequence (``0 .. n-1`` where the source has none).
    """

    X: list[np.ndarray]
    y: np.ndarray | None
    ids: np.ndarray


# ================================================================================================ small helpers
def _as_path(path: Any, what: str = "path") -> Path:
    if isinstance(path, (str, os.PathLike)):
        return Path(path)
    raise InputError(f"{what} must be a str or os.PathLike, got {type(path).__name__}")


def _check_missing(missing: Any) -> str:
    if missing not in _MISSING_CHOICES:
        raise InputError(f"missing must be one of {_MISSING_CHOICES}, got {missing!r}")
    return missing


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as err:
        raise DataFileError(f"{path}: file not found") from err
    except IsADirectoryError as err:
        raise DataFileError(f"{path}: is a directory, not a file") from err
    except OSError as err:
        raise DataFileError(f"{path}: cannot read the file: {err.strerror or err}") from err


def _decode_utf8(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataFileError(f"{path}, line {line}: not UTF-8 text (byte 0x{raw[err.start]:02x} at offset "
                            f"{err.start})") from err


def _object_labels(values: np.ndarray) -> np.ndarray:
    """String arrays of any numpy flavour (``<U``, bytes) as an object array of Python ``str``."""
    if values.dtype.kind == "S":
        return np.array([v.decode("utf-8", "replace") for v in values], dtype=object)
    if values.dtype.kind == "U":
        return values.astype(object)
    return values


# ================================================================================================== .ts files
_TS_BOOL_TAGS = ("@timestamps", "@missing", "@univariate", "@equallength", "@targetlabel")
_TS_INT_TAGS = ("@dimensions", "@dimension", "@serieslength")


def _parse_ts_values(text: str, path: Path, lineno: int, channel: int, missing: str) -> np.ndarray:
    """Parse one channel ``"1.0,2.5,?"`` into float64, missing values (``?`` or NaN) as NaN."""
    tokens = text.split(",")
    values = np.empty(len(tokens), dtype=np.float64)
    where = f"{path}, line {lineno}, channel {channel}"
    for j, raw_token in enumerate(tokens):
        token = raw_token.strip()
        if token == "?":
            value = math.nan
        else:
            try:
                value = float(token)
            except ValueError:
                shown = token if len(token) <= 40 else token[:40] + "..."
                raise DataFileError(f"{where}, value {j + 1}: {shown!r} is not a number") from None
            if math.isinf(value) or abs(value) > _FLOAT32_MAX:
                raise DataFileError(f"{where}, value {j + 1}: {token!r} is infinite or too large for float32 "
                                    f"(|x| > {_FLOAT32_MAX:.4g})")
        if math.isnan(value) and missing == "raise":
            raise DataFileError(f"{where}, value {j + 1}: missing value {token!r}; pass missing='nan' to keep "
                                "missing values as NaN")
        values[j] = value
    return values


def read_ts(path: str | os.PathLike, *, missing: str = "raise") -> SequenceCollection:
    """Read a file in the sktime/aeon ``.ts`` format (the UEA/UCR archive format).

    The header (lines starting with ``@``, before ``@data``) may give ``@problemName``, ``@timeStamps``,
    ``@missing``, ``@univariate``, ``@dimensions``, ``@equalLength``, ``@seriesLength``, ``@classLabel`` and
    ``@targetLabel``; tag names are case-insensitive and unknown tags are ignored (newer writers add some).
    After ``@data`` comes one case per line: channels separated by ``:``, values within a channel by ``,``,
    and the class label (or regression target) last when the header declares one. Lines starting with ``#``
    and blank lines are skipped anywhere.

    The declared header is enforced: the channel count must agree with ``@dimensions``/``@univariate`` and
    be the same on every line, lengths must agree with ``@equalLength``/``@seriesLength``, and each class
    label must be one of the declared ones. Within one case all channels must have the same length (a case
    becomes one ``(T, F)`` array). Timestamped files (``@timeStamps true``) are not supported.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.ts`` file (UTF-8).
    missing : {"raise", "nan"}, default "raise"
        What to do with missing values (``?``, or a literal NaN): raise a :class:`DataFileError` naming the
        line, or keep them as NaN.

    Returns
    -------
    SequenceCollection
        ``X[i]`` float32 of shape ``(T_i, F)``; ``y`` an object array of ``str`` class labels, a float64
        array of regression targets (``@targetLabel true``), or ``None``; ``ids`` is ``arange(n)``.

    Raises
    ------
    DataFileError
        If the file is missing, unreadable, empty or malformed; the message names the file and the line.
    InputError
        For an invalid argument.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "tiny.ts"
    >>> _ = p.write_text("@problemName tiny\\n@classLabel true a b\\n@data\\n1,2,3:4,5,6:a\\n7,8:9,10:b\\n")
    >>> X, y, ids = read_ts(p)
    >>> [x.shape for x in X], list(y)
    ([(3, 2), (2, 2)], ['a', 'b'])
    """
    path = _as_path(path)
    missing = _check_missing(missing)
    text = _decode_utf8(_read_bytes(path), path)
    if not text.strip():
        raise DataFileError(f"{path}: the file is empty")

    header: dict[str, Any] = {}
    header_line: dict[str, int] = {}
    labels: list[str] | None = None
    in_data = False
    data_line = 0
    X: list[np.ndarray] = []
    y: list[Any] = []
    n_channels: int | None = None
    channels_from = ""
    first_length: tuple[int, int] | None = None  # (length, line) of the first case, for @equalLength

    # Split on "\n" only (not str.splitlines, which also splits on rare control characters) so that line
    # numbers match what an editor shows.
    for lineno, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            if in_data:
                raise DataFileError(f"{path}, line {lineno}: header tag {line.split()[0]!r} after @data "
                                    f"(line {data_line})")
            parts = line.split(None, 1)
            tag, value = parts[0].lower(), (parts[1].strip() if len(parts) > 1 else "")
            if tag == "@data":
                in_data, data_line = True, lineno
                if header.get("@classlabel") and header.get("@targetlabel"):
                    raise DataFileError(f"{path}, line {lineno}: the header declares both @classLabel true and "
                                        "@targetLabel true")
                if header.get("@timestamps"):
                    raise DataFileError(f"{path}, line {header_line['@timestamps']}: timestamped .ts files "
                                        "(@timeStamps true) are not supported")
                dims = header.get("@dimensions", header.get("@dimension"))
                if header.get("@univariate") is True:
                    if dims is not None and dims != 1:
                        raise DataFileError(f"{path}: the header declares @univariate true but @dimensions {dims}")
                    n_channels, channels_from = 1, f"@univariate true (line {header_line['@univariate']})"
                elif dims is not None:
                    tag_name = "@dimensions" if "@dimensions" in header else "@dimension"
                    n_channels, channels_from = dims, f"{tag_name} {dims} (line {header_line[tag_name]})"
                continue
            if tag in header:
                raise DataFileError(f"{path}, line {lineno}: {parts[0]} given twice (first on line "
                                    f"{header_line[tag]})")
            if tag in _TS_BOOL_TAGS:
                if value.lower() not in ("true", "false"):
                    raise DataFileError(f"{path}, line {lineno}: {parts[0]} must be true or false, got {value!r}")
                header[tag] = value.lower() == "true"
            elif tag in _TS_INT_TAGS:
                if not value.isdigit() or int(value) < 1:  # isdigit: no sign, no spaces, no decimals
                    raise DataFileError(f"{path}, line {lineno}: {parts[0]} must be a positive integer, "
                                        f"got {value!r}")
                header[tag] = int(value)
            elif tag == "@classlabel":
                words = value.split()
                if not words or words[0].lower() not in ("true", "false"):
                    raise DataFileError(f"{path}, line {lineno}: @classLabel must be 'true <labels...>' or "
                                        f"'false', got {value!r}")
                header[tag] = words[0].lower() == "true"
                if header[tag]:
                    labels = words[1:]
                    if not labels:
                        raise DataFileError(f"{path}, line {lineno}: @classLabel true lists no labels")
                elif len(words) > 1:
                    raise DataFileError(f"{path}, line {lineno}: @classLabel false cannot list labels")
            else:
                header[tag] = value  # @problemName and tags unknown to us: kept, not used
            header_line[tag] = lineno
            continue

        if not in_data:
            raise DataFileError(f"{path}, line {lineno}: data before the @data line (is @data missing?)")

        # --- one case
        parts = line.split(":")
        label: Any = None
        if header.get("@classlabel") or header.get("@targetlabel"):
            if len(parts) < 2:
                raise DataFileError(f"{path}, line {lineno}: expected the channels followed by ':<label>', "
                                    "found no ':'")
            label_text = parts.pop().strip()
            if header.get("@classlabel"):
                assert labels is not None
                if label_text not in labels:
                    shown = " ".join(labels[:20]) + (" ..." if len(labels) > 20 else "")
                    raise DataFileError(f"{path}, line {lineno}: class label {label_text!r} is not one of the "
                                        f"declared labels ({shown}, line {header_line['@classlabel']})")
                label = label_text
            else:
                try:
                    label = float(label_text)
                except ValueError:
                    raise DataFileError(f"{path}, line {lineno}: target {label_text!r} is not a number") from None
                if not math.isfinite(label):
                    raise DataFileError(f"{path}, line {lineno}: target {label_text!r} is not finite")
        if n_channels is None:
            n_channels, channels_from = len(parts), f"the first case (line {lineno})"
        elif len(parts) != n_channels:
            raise DataFileError(f"{path}, line {lineno}: {len(parts)} channel(s), expected {n_channels} as set by "
                                f"{channels_from}")
        channels = []
        for c, part in enumerate(parts, start=1):
            if not part.strip():
                raise DataFileError(f"{path}, line {lineno}, channel {c}: no values")
            channels.append(_parse_ts_values(part, path, lineno, c, missing))
        lengths = {ch.size for ch in channels}
        if len(lengths) > 1:
            raise DataFileError(f"{path}, line {lineno}: the channels have different lengths "
                                f"({', '.join(str(ch.size) for ch in channels)})")
        length = channels[0].size
        if header.get("@equallength"):
            expected = header.get("@serieslength")
            if expected is not None and length != expected:
                raise DataFileError(f"{path}, line {lineno}: length {length}, but @seriesLength is {expected} "
                                    f"(line {header_line['@serieslength']})")
            if first_length is not None and length != first_length[0]:
                raise DataFileError(f"{path}, line {lineno}: length {length} differs from {first_length[0]} on "
                                    f"line {first_length[1]} although @equalLength is true")
        if first_length is None:
            first_length = (length, lineno)
        X.append(np.stack(channels, axis=1).astype(np.float32))
        y.append(label)

    if not in_data:
        raise DataFileError(f"{path}: no @data line, so no cases (is this a .ts file?)")
    if not X:
        raise DataFileError(f"{path}, line {data_line}: no cases after @data")
    if header.get("@classlabel"):
        y_arr: np.ndarray | None = np.array(y, dtype=object)
    elif header.get("@targetlabel"):
        y_arr = np.array(y, dtype=np.float64)
    else:
        y_arr = None
    return SequenceCollection(X, y_arr, np.arange(len(X), dtype=np.int64))


# ============================================================================================ tabular helpers
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_COMPRESSIONS = {"gz": "gzip", "bz2": "bz2", "zip": "zip", "xz": "xz"}


class _Frame(NamedTuple):
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


def _row_ref(frame: _Frame, i: int) -> str:
    """How to name data row ``i`` (0-based) in a message: 1-based, with the file line when it is certain."""
    return f"row {i + 1} (line {i + 2})" if frame.exact_lines else f"row {i + 1}"


def _load_frame(path: Path) -> _Frame:
    """Read a CSV or Parquet file (chosen by extension) into a DataFrame, all failures as DataFileError."""
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        import pyarrow  # a dependency of seqae; imported here because only Parquet input needs it

        if not path.exists():
            raise DataFileError(f"{path}: file not found")
        try:
            df = pd.read_parquet(path)
        except (OSError, ValueError, pyarrow.ArrowException) as err:
            raise DataFileError(f"{path}: cannot read as Parquet: {err}") from err
        return _Frame(df, str(path), False)
    if not name.endswith(_CSV_SUFFIXES):
        raise DataFileError(f"{path}: unknown file type; expected a CSV ({', '.join(_CSV_SUFFIXES)}) or Parquet "
                            f"({', '.join(_PARQUET_SUFFIXES)}) file")
    raw = _read_bytes(path)
    compressed = not name.endswith(".csv")
    if not compressed:
        _decode_utf8(raw, path)  # a precise message (line, byte) for non-UTF-8 input
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
        return _Frame(df, str(path), False, headerless=True)
    normalised = raw.replace(b"\r\n", b"\n")
    exact = (not compressed and b'"' not in raw and b"\r" not in normalised
             and re.search(rb"(^|\n)[ \t]*\n", normalised.rstrip(b"\n")) is None)
    return _Frame(df, str(path), exact)


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


def _check_columns(frame: _Frame, wanted: dict[str, Any], values: Sequence[Any] = ()) -> None:
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


def _float_column(frame: _Frame, col: Any, hint_time: bool = False) -> np.ndarray:
    """Column ``col`` as a new float64 array; NaN kept, anything else non-numeric is a DataFileError."""
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
            hint = (f" (is it the time column? pass time_column={col!r})"
                    if hint_time and _looks_like_time(original[i]) else "")
            raise DataFileError(f"{where}, {_row_ref(frame, i)}: {shown} is not a number{hint}")
    else:
        raise DataFileError(f"{where} has type {s.dtype}, not numbers")
    big = np.abs(values) > _FLOAT32_MAX  # NaN compares False: kept
    if big.any():
        i = int(np.flatnonzero(big)[0])
        raise DataFileError(f"{where}, {_row_ref(frame, i)}: {values[i]:g} is infinite or too large for float32 "
                            f"(|x| > {_FLOAT32_MAX:.4g})")
    return values


def _looks_like_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return False
    return True


# How text is parsed as times: fast strict ISO 8601 first; then pandas' per-element "mixed" parsing for other
# layouts ('01/31/2024 10:00').
_TIME_FORMATS = ("ISO8601", "mixed")
# Integer columns under these names (case, '_', '-' and spaces ignored) hold whole seconds since 1970 ...
_TIME_NAMES = ("time", "timestamp", "date", "datetime", "epoch", "unixtime")
# ... when every value lies in this range (1973-03-03 .. 2286-11-20): a 'time' column of step numbers 0, 1, 2
# or of milliseconds is not read as seconds since 1970.
_EPOCH_SECONDS = (10**8, 10**10)
# A column the caller names as the time column may also hold milliseconds since 1970 (1973 .. 2286).
_EPOCH_MILLISECONDS = (10**11, 10**13)
# Rows looked at to decide whether a text column holds times; read_table then parses all of it (and names the
# first row that does not parse), so a long file is not parsed twice.
_TIME_SAMPLE = 1000
AUTO = "auto"
"""``read_table(time_column=AUTO)``: find the time column (:func:`find_time_columns`)."""


def _epoch_seconds(s: pd.Series, name: Any) -> bool:
    """True for an integer column named like a time whose every value is a plausible count of seconds since 1970."""
    if not isinstance(name, str) or re.sub(r"[\s_-]", "", name.lower()) not in _TIME_NAMES:
        return False
    return _epoch_unit(s) == "s"


def _epoch_unit(s: pd.Series) -> str | None:
    """"s" or "ms" where every value of an integer column is a plausible count of seconds or milliseconds since
    1970, else None."""
    if not pd.api.types.is_integer_dtype(s.dtype) or len(s) == 0:
        return None
    for unit, (low, high) in (("s", _EPOCH_SECONDS), ("ms", _EPOCH_MILLISECONDS)):
        if s.between(low, high).all():
            return unit
    return None


def _text_holds_times(s: pd.Series) -> bool:
    """True when the first non-missing values of a text column all parse as dates/times."""
    sample = s.dropna().iloc[:_TIME_SAMPLE]
    if len(sample) == 0 or not all(isinstance(v, str) for v in sample):
        return False
    # dateutil (the "mixed" format) reads month and day names alone ('May', 'Monday') as dates: a text column
    # of those is categories, not times. Every date or time written out has a digit.
    if not sample.str.contains(r"\d").all():
        return False
    for fmt in _TIME_FORMATS:
        try:
            parsed = pd.to_datetime(sample, format=fmt, errors="coerce")
        except (ValueError, TypeError, OverflowError):
            continue  # mixed time zones, for one: the column as a whole does not parse
        if not parsed.isna().any():
            return True
    return False


def find_time_columns(df: pd.DataFrame) -> list[Any]:
    """The columns of a table that hold dates/times, in table order.

    A column holds times when it has a datetime dtype; when it holds text whose values (the first 1000
    non-missing ones) all parse as dates/times (ISO 8601, or layouts such as '01/31/2024 10:00') and each have a
    digit (month names alone are categories); or when it holds integers, is named ``time``, ``timestamp``,
    ``date`` or ``datetime`` (case, ``_``, ``-`` and spaces ignored) and every value is a plausible count of
    seconds since 1970 (1e8 to 1e10). :func:`read_table` with ``time_column="auto"`` uses the first.

    Examples
    --------
    >>> df = pd.DataFrame({"value": [1.0, 2.0], "when": ["2024-01-01 00:00", "2024-01-01 00:05"],
    ...                    "note": ["ok", "late"]})
    >>> find_time_columns(df)
    ['when']
    """
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(df).__name__}")
    found = []
    for col in df.columns:
        s = df[col]
        if isinstance(s, pd.DataFrame):
            continue  # a duplicated column name: read_table reports it
        if pd.api.types.is_datetime64_any_dtype(s.dtype) or _epoch_seconds(s, col):
            found.append(col)
        elif s.dtype.kind == "O" or pd.api.types.is_string_dtype(s.dtype):
            if _text_holds_times(s):
                found.append(col)
    return found


def _parse_times(frame: _Frame, col: Any, allow_numeric: bool, named: bool = False) -> pd.DatetimeIndex | np.ndarray:
    """Parse the time column: a DatetimeIndex, or float64 steps when ``allow_numeric`` and it holds numbers.
    ``named``: the caller chose this column as time, so whole seconds or milliseconds since 1970 are read as times
    whatever the column's name."""
    s = frame.df[col]
    where = f"{frame.source}: time column {col!r}"
    unit = _epoch_unit(s) if named else ("s" if _epoch_seconds(s, col) else None)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        times = pd.DatetimeIndex(s)
    elif not allow_numeric and unit is not None:  # read_long_table orders by the numbers as they are
        times = pd.DatetimeIndex(pd.to_datetime(s.to_numpy(dtype=np.int64), unit=unit))
    elif pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        if not allow_numeric:
            raise DataFileError(f"{where} holds numbers, not dates/times; convert it to dates (e.g. ISO 8601 "
                                "'2024-01-31 12:00:00') or pass time_column=None to index by position (whole "
                                "seconds or milliseconds since 1970, from 1973 on, are read as times)")
        steps = s.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(steps)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataFileError(f"{where}, {_row_ref(frame, i)}: missing or non-finite time {steps[i]}")
        return steps
    else:
        original = pd.Series(s.to_numpy(dtype=object), dtype=object)
        parsed = None
        for fmt in _TIME_FORMATS:
            try:
                parsed = pd.to_datetime(original, format=fmt, errors="coerce")
            except (ValueError, TypeError, OverflowError):
                parsed = None
                continue
            if not (parsed.isna() & original.notna()).any():
                break
        if parsed is None:
            # The column as a whole failed (mixed time zones, for one): find the first row that is the problem.
            first_tz = None
            for i, v in enumerate(original):
                try:
                    ts = pd.Timestamp(v)
                except (ValueError, TypeError, OverflowError):
                    raise DataFileError(f"{where}, {_row_ref(frame, i)}: cannot parse {v!r} as a date/time") from None
                if i == 0:
                    first_tz = ts.tz
                elif ts.tz != first_tz:
                    raise DataFileError(f"{where}, {_row_ref(frame, i)}: time zone of {v!r} differs from that of "
                                        "row 1")
            raise DataFileError(f"{where}: cannot parse the column as dates/times")
        for i in np.flatnonzero(parsed.isna().to_numpy())[:1]:
            v = original.iloc[i]
            problem = "missing time" if pd.isna(v) else f"cannot parse {v!r} as a date/time"
            raise DataFileError(f"{where}, {_row_ref(frame, int(i))}: {problem}")
        times = pd.DatetimeIndex(parsed)
    nat = np.flatnonzero(times.isna())
    if nat.size:
        raise DataFileError(f"{where}, {_row_ref(frame, int(nat[0]))}: missing time")
    return times


def _time_index(frame: _Frame, time_column: Any, named: bool = False) -> pd.DatetimeIndex:
    """The time column as the index: parsed, present on every row, strictly increasing."""
    times = _parse_times(frame, time_column, allow_numeric=False, named=named)
    assert isinstance(times, pd.DatetimeIndex)
    step = np.diff(times.asi8)
    if (step <= 0).any():
        i = int(np.flatnonzero(step <= 0)[0]) + 1
        kind = "duplicate time" if step[i - 1] == 0 else "time goes backwards (the rows must be sorted)"
        raise DataFileError(f"{frame.source}: time column {time_column!r}, {_row_ref(frame, i)}: {kind} "
                            f"{times[i]} after {times[i - 1]}")
    return times.rename(time_column)


# ================================================================================================= read_table
def read_table(path: str | os.PathLike, time_column: str | None = None,
               columns: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Read one time series (one row per step) from a CSV or Parquet file.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv`` file (optionally ``.csv.gz``/``.bz2``/``.zip``/``.xz``) with a header line, or a
        ``.parquet``/``.pq`` file; the type is chosen by extension.
    time_column : str, optional
        Column of dates/times to use as the index (a :class:`pandas.DatetimeIndex`). The times must parse,
        be present on every row, and be strictly increasing. Without it the index is a ``RangeIndex``.
        ``"auto"`` takes the first column :func:`find_time_columns` finds (none of ``columns``), if any; the
        other columns of times it finds are left out of the default value columns.
        An integer column named ``time``, ``timestamp``, ``date`` or ``datetime`` is read as seconds since 1970.
    columns : str or sequence of str, optional
        The value columns to return, in this order; by default every column except ``time_column``.

    Returns
    -------
    pandas.DataFrame
        One float64 column per value column; missing values (empty cells, ``NaN``) are kept as NaN for the
        caller to handle. The index is named after the time column. With ``time_column="auto"``,
        ``attrs["time_columns"]`` lists every column found to hold times (the first is the index), so that a
        caller can say which one it took and which others there were.

    Raises
    ------
    DataFileError
        If the file is missing, unreadable, empty or has only a header; a column is missing (a
        :class:`~seqae.exceptions.MissingColumnError` that lists those available), not numeric (it names the column and the first bad row) or holds values too
        large for float32 (``|x| > 3.4e38``); or the time column does not parse, has a gap, or is not strictly
        increasing (it names the first offending row). Rows are counted from 1 after the header; for a plain
        CSV the file line is given too.
    InputError
        For invalid arguments.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_text("time,value\\n2024-01-01 00:00,1.5\\n2024-01-01 00:05,\\n")
    >>> df = read_table(p, time_column="time")
    >>> df.index[1], df["value"].tolist()
    (Timestamp('2024-01-01 00:05:00'), [1.5, nan])
    """
    path = _as_path(path)
    if isinstance(columns, str):
        columns = [columns]
    elif columns is not None:
        columns = list(columns)
        if not columns:
            raise InputError("columns is empty: name at least one value column, or pass None for all of them")
        if len(set(map(str, columns))) != len(columns):
            raise InputError(f"columns names a column twice: {columns}")
    if time_column not in (None, AUTO) and columns is not None and time_column in columns:
        raise InputError(f"the time column {time_column!r} cannot also be a value column")

    frame = _load_frame(path)
    df = frame.df
    found = None
    if time_column == AUTO:
        _check_columns(frame, {})
        found = [c for c in find_time_columns(df) if columns is None or c not in columns]
        time_column = found[0] if found else None
    _check_columns(frame, {"time_column": time_column}, values=columns or ())
    if len(df) == 0:
        raise DataFileError(f"{path}: no data rows (only a header)")
    # Other columns of times ("auto" found several) cannot be values: left out, as attrs["time_columns"] tells.
    value_columns = columns if columns is not None else [c for c in df.columns
                                                         if c != time_column and c not in (found or ())]
    if not value_columns:
        raise DataFileError(f"{path}: no value columns besides the time column {time_column!r}")

    index: pd.Index
    if time_column is not None:
        try:
            index = _time_index(frame, time_column, named=found is None)
        except DataFileError as exc:
            if found:  # the caller did not name this column: say how to choose another, or none
                exc.args = (f"{exc} (found by time_column='auto'; pass another time_column, or time_column=None "
                            "for none)",)
            raise
    else:
        index = pd.RangeIndex(len(df))

    data = {col: _float_column(frame, col, hint_time=time_column is None) for col in value_columns}
    out = pd.DataFrame(data, index=index, columns=pd.Index(value_columns))
    if found is not None:
        out.attrs["time_columns"] = found
    if frame.headerless:
        out.attrs["headerless"] = True
    return out


# ============================================================================================ read_long_table
def read_long_table(data: str | os.PathLike | pd.DataFrame, id_column: str, time_column: str | None = None,
                    feature_columns: str | Sequence[str] | None = None, label_column: str | None = None, *,
                    missing: str = "raise") -> SequenceCollection:
    """Read many sequences stored in long format: one row per (sequence, step).

    Parameters
    ----------
    data : str, os.PathLike or pandas.DataFrame
        A CSV or Parquet file (chosen by extension, as in :func:`read_table`) or a DataFrame (not modified).
    id_column : str
        Column identifying the sequence each row belongs to. Sequences come out in the order in which their
        id first appears.
    time_column : str, optional
        Column used to order the rows within each sequence (numbers or dates/times); a time repeated within
        one sequence is an error. Without it the rows keep their order in the table.
    feature_columns : str or sequence of str, optional
        The feature columns, in this order; by default every column other than the id, time and label ones.
    label_column : str, optional
        Column holding each sequence's label; every row of a sequence must carry the same, non-missing label.
    missing : {"raise", "nan"}, default "raise"
        Missing feature values raise an error naming the row, or are kept as NaN.

    Returns
    -------
    SequenceCollection
        ``X[i]`` float32 of shape ``(T_i, F)``; ``y`` the labels (dtype as in the table, strings as an object
        array) or ``None``; ``ids`` the distinct ids.

    Raises
    ------
    DataFileError
        For a file that cannot be read or a bad value in it (naming column and row).
    InputError
        For bad arguments or a bad in-memory DataFrame (the same checks, the same messages).

    Examples
    --------
    >>> df = pd.DataFrame({"id": ["a", "a", "b"], "t": [2, 1, 1], "x": [0.2, 0.1, 5.0], "label": [0, 0, 1]})
    >>> X, y, ids = read_long_table(df, "id", time_column="t", label_column="label")
    >>> X[0].ravel().tolist(), y.tolist(), ids.tolist()
    ([0.10000000149011612, 0.20000000298023224], [0, 1], ['a', 'b'])
    """
    missing = _check_missing(missing)
    if isinstance(feature_columns, str):
        feature_columns = [feature_columns]
    elif feature_columns is not None:
        feature_columns = list(feature_columns)
        if not feature_columns:
            raise InputError("feature_columns is empty: name at least one, or pass None for all the others")
    named = {"id_column": id_column, "time_column": time_column, "label_column": label_column}
    given = [c for c in named.values() if c is not None]
    if len(set(given)) != len(given):
        raise InputError(f"id_column, time_column and label_column must be different columns, got {named}")
    for col in feature_columns or []:
        if col in given:
            raise InputError(f"column {col!r} cannot be both a feature and the id/time/label column")
    if isinstance(data, pd.DataFrame):
        try:
            return _collect_long(_Frame(data, "DataFrame", False), named, feature_columns, missing)
        except DataFileError as err:  # an in-memory table is not a file: the same message, as an InputError
            raise InputError(str(err)) from None
    return _collect_long(_load_frame(_as_path(data, "data")), named, feature_columns, missing)


def _collect_long(frame: _Frame, named: dict[str, Any], feature_columns: list[Any] | None,
                  missing: str) -> SequenceCollection:
    """The work of :func:`read_long_table` on a loaded table; every data problem is a DataFileError."""
    df, source = frame.df, frame.source
    id_column, time_column, label_column = named["id_column"], named["time_column"], named["label_column"]
    given = [c for c in named.values() if c is not None]
    _check_columns(frame, named)
    for col in feature_columns or []:
        _check_columns(frame, {"feature column": col})
    if feature_columns is None:
        feature_columns = [c for c in df.columns if c not in given]
    if not feature_columns:
        raise DataFileError(f"{source}: no feature columns besides {', '.join(map(repr, given))}")
    if len(df) == 0:
        raise DataFileError(f"{source}: no data rows")

    absent = np.flatnonzero(df[id_column].isna().to_numpy())
    if absent.size:
        raise DataFileError(f"{source}: id column {id_column!r}, {_row_ref(frame, int(absent[0]))}: missing id")
    codes, uniques = pd.factorize(df[id_column], sort=False)  # ids numbered in order of first appearance
    n_ids = len(uniques)

    values = np.column_stack([_float_column(frame, col) for col in feature_columns])
    nan_rows = np.flatnonzero(np.isnan(values).any(axis=1))
    if missing == "raise" and nan_rows.size:
        i = int(nan_rows[0])
        col = feature_columns[int(np.flatnonzero(np.isnan(values[i]))[0])]
        raise DataFileError(f"{source}: column {col!r}, {_row_ref(frame, i)}: missing value; pass missing='nan' "
                            "to keep missing values as NaN")

    if time_column is not None:
        times = _parse_times(frame, time_column, allow_numeric=True)
        keys = times.asi8 if isinstance(times, pd.DatetimeIndex) else times
        order = np.lexsort((keys, codes))  # by id, then by time; lexsort is stable
        same = (np.diff(codes[order]) == 0) & (np.diff(keys[order]) == 0)
        if same.any():
            j = int(np.flatnonzero(same)[0])
            first, second = sorted((int(order[j]), int(order[j + 1])))
            raise DataFileError(f"{source}: time column {time_column!r}, {_row_ref(frame, second)}: the time of "
                                f"{_row_ref(frame, first)} again, for id {uniques[codes[first]]!r}")
    else:
        order = np.argsort(codes, kind="stable")  # rows keep their table order within each id

    y = None
    if label_column is not None:
        labels = df[label_column]
        where = f"{source}: label column {label_column!r}"
        absent = np.flatnonzero(labels.isna().to_numpy())
        if absent.size:
            raise DataFileError(f"{where}, {_row_ref(frame, int(absent[0]))}: missing label")
        n_labels = labels.groupby(codes, sort=True).nunique().to_numpy()
        if (n_labels > 1).any():
            k = int(np.flatnonzero(n_labels > 1)[0])
            seen = pd.unique(labels[codes == k])[:5]
            raise DataFileError(f"{where}: id {uniques[k]!r} has more than one label "
                                f"({', '.join(map(repr, seen))})")
        _, first_rows = np.unique(codes, return_index=True)  # codes are 0..n_ids-1, so this is in id order
        y = labels.to_numpy()[first_rows]
        if y.dtype.kind in "OSU":
            y = _object_labels(y)

    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_ids))])
    sorted_values = values[order].astype(np.float32)
    X = [sorted_values[bounds[k]:bounds[k + 1]].copy() for k in range(n_ids)]
    ids = np.asarray(uniques)
    if ids.dtype.kind in "SU":
        ids = ids.astype(object)
    return SequenceCollection(X, y, ids)


# ====================================================================================================== .npz
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
    path = _as_path(path)
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
        if (np.abs(arr[~np.isnan(arr)]) > _FLOAT32_MAX).any() if arr.dtype.kind == "f" else False:
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
    path = _as_path(path)
    missing = _check_missing(missing)
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
                                                "seqae.datasets.save_npz") from None
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
        if (np.abs(values) > _FLOAT32_MAX).any():
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
            out[name] = _object_labels(arr)
    ids = out["ids"]
    assert ids is not None
    if len(pd.unique(ids)) != n:
        raise DataFileError(f"{path}: 'ids' holds duplicates")
    return SequenceCollection(X, out["y"], ids)


# ============================================================================================ benchmark data
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
    base = _as_path(root, "root") if root is not None else data_root()
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


# =============================================================================================== built-in data
_WINDOWS_FILE = "nab_windows.json"


def _data_dir():
    return resources.files("seqae") / "data"


def _demo_windows() -> dict[str, list[list[str]]]:
    """The NAB label windows of the shipped series, keyed by series name (file name without ``.csv``)."""
    raw = json.loads((_data_dir() / _WINDOWS_FILE).read_text(encoding="utf-8"))
    return {key.rsplit("/", 1)[-1].removesuffix(".csv"): windows for key, windows in raw.items()}


def list_demo_series() -> list[str]:
    """Names of the NAB series that ship with seqae, for :func:`load_demo_series`.

    Examples
    --------
    >>> list_demo_series()
    ['art_daily_jumpsup', 'nyc_taxi']
    """
    return sorted(name for name in _demo_windows() if (_data_dir() / f"{name}.csv").is_file())


def load_demo_series(name: str = "nyc_taxi") -> tuple[pd.DataFrame, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """Load a built-in series from the Numenta Anomaly Benchmark, with its labelled anomaly windows.

    Shipped (MIT licence, see ``seqae/data/NAB_LICENSE.txt``):

    - ``"nyc_taxi"``: NYC taxi passengers every 30 minutes, Jul 2014 - Jan 2015 (10,320 points, 5 windows
      around the NYC marathon, Thanksgiving, Christmas, New Year and a blizzard);
    - ``"art_daily_jumpsup"``: an artificial daily pattern, every 5 minutes (4,032 points, 1 window).

    Parameters
    ----------
    name : str, default "nyc_taxi"
        One of :func:`list_demo_series`.

    Returns
    -------
    series : pandas.DataFrame
        Indexed by ``timestamp`` (a DatetimeIndex), one float64 column ``value``.
    windows : list of (pandas.Timestamp, pandas.Timestamp)
        NAB's anomaly windows (start, end), inclusive, in time order.

    Raises
    ------
    InputError
        For an unknown name.

    Examples
    --------
    >>> series, windows = load_demo_series("nyc_taxi")
    >>> len(series), len(windows)
    (10320, 5)
    """
    available = list_demo_series()
    if name not in available:
        raise InputError(f"unknown demo series {name!r}; choose one of {', '.join(available)}")
    with resources.as_file(_data_dir() / f"{name}.csv") as csv_path:
        series = read_table(csv_path, time_column="timestamp", columns=["value"])
    windows = [(pd.Timestamp(start), pd.Timestamp(end)) for start, end in _demo_windows()[name]]
    return series, sorted(windows)


def make_sine_collection(n: int = 200, min_length: int = 20, max_length: int = 80, n_features: int = 1,
                         noise: float = 0.1, random_state: int | np.random.Generator | None = None) -> list[np.ndarray]:
    """Noisy sine waves of random length, frequency and phase: a small built-in collection of sequences.

    Each sequence has a length drawn uniformly from ``[min_length, max_length]``, a period drawn uniformly
    from 6 to 30 steps shared by its features, a phase drawn per feature, unit amplitude, and Gaussian noise
    of standard deviation ``noise``.

    Parameters
    ----------
    n : int, default 200
        Number of sequences.
    min_length, max_length : int, default 20, 80
        Range of lengths, inclusive; ``1 <= min_length <= max_length``.
    n_features : int, default 1
        Features (channels) per step.
    noise : float, default 0.1
        Standard deviation of the added noise, ``>= 0``.
    random_state : int, numpy.random.Generator or None
        Seed, or a generator to draw from; ``None`` for fresh randomness.

    Returns
    -------
    list of ndarray
        ``n`` float32 arrays of shape ``(T_i, n_features)``.

    Examples
    --------
    >>> X = make_sine_collection(n=3, min_length=5, max_length=9, n_features=2, random_state=0)
    >>> [x.shape[1] for x in X], all(5 <= len(x) <= 9 for x in X)
    ([2, 2, 2], True)
    """
    for arg, value, low in (("n", n, 1), ("min_length", min_length, 1), ("max_length", max_length, 1),
                            ("n_features", n_features, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise InputError(f"{arg} must be an integer >= {low}, got {value!r}")
    if min_length > max_length:
        raise InputError(f"min_length ({min_length}) must not exceed max_length ({max_length})")
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating, np.integer)) \
            or not math.isfinite(noise) or noise < 0:
        raise InputError(f"noise must be a finite number >= 0, got {noise!r}")
    rng = np.random.default_rng(random_state)
    out = []
    for _ in range(n):
        length = int(rng.integers(min_length, max_length + 1))
        period = rng.uniform(6.0, 30.0)
        phase = rng.uniform(0.0, 2.0 * np.pi, size=n_features)
        steps = np.arange(length, dtype=np.float64)[:, None]
        wave = np.sin(2.0 * np.pi * steps / period + phase) + noise * rng.standard_normal((length, n_features))
        out.append(wave.astype(np.float32))
    return out
