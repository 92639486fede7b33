"""Finding and parsing the time column of a table: dates as text, datetime columns, and whole seconds (or
milliseconds) since 1970."""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from seqae.exceptions import DataFileError, InputError
from seqae.io._frame import Frame, row_ref

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


def parse_times(frame: Frame, col: Any, allow_numeric: bool, named: bool = False) -> pd.DatetimeIndex | np.ndarray:
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
            raise DataFileError(f"{where}, {row_ref(frame, i)}: missing or non-finite time {steps[i]}")
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
                    raise DataFileError(f"{where}, {row_ref(frame, i)}: cannot parse {v!r} as a date/time") from None
                if i == 0:
                    first_tz = ts.tz
                elif ts.tz != first_tz:
                    raise DataFileError(f"{where}, {row_ref(frame, i)}: time zone of {v!r} differs from that of "
                                        "row 1")
            raise DataFileError(f"{where}: cannot parse the column as dates/times")
        for i in np.flatnonzero(parsed.isna().to_numpy())[:1]:
            v = original.iloc[i]
            problem = "missing time" if pd.isna(v) else f"cannot parse {v!r} as a date/time"
            raise DataFileError(f"{where}, {row_ref(frame, int(i))}: {problem}")
        times = pd.DatetimeIndex(parsed)
    nat = np.flatnonzero(times.isna())
    if nat.size:
        raise DataFileError(f"{where}, {row_ref(frame, int(nat[0]))}: missing time")
    return times


def time_index(frame: Frame, time_column: Any, named: bool = False) -> pd.DatetimeIndex:
    """The time column as the index: parsed, present on every row, strictly increasing."""
    times = parse_times(frame, time_column, allow_numeric=False, named=named)
    assert isinstance(times, pd.DatetimeIndex)
    step = np.diff(times.asi8)
    if (step <= 0).any():
        i = int(np.flatnonzero(step <= 0)[0]) + 1
        kind = "duplicate time" if step[i - 1] == 0 else "time goes backwards (the rows must be sorted)"
        raise DataFileError(f"{frame.source}: time column {time_column!r}, {row_ref(frame, i)}: {kind} "
                            f"{times[i]} after {times[i - 1]}")
    return times.rename(time_column)
