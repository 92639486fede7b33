"""One time series (one row per step) from a CSV or Parquet file."""
from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from seqae.exceptions import DataFileError, InputError
from seqae.io._files import as_path
from seqae.io._frame import check_columns, float_column, load_frame
from seqae.io.times import AUTO, find_time_columns, time_index


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
    path = as_path(path)
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

    frame = load_frame(path)
    df = frame.df
    found = None
    if time_column == AUTO:
        check_columns(frame, {})
        found = [c for c in find_time_columns(df) if columns is None or c not in columns]
        time_column = found[0] if found else None
    check_columns(frame, {"time_column": time_column}, values=columns or ())
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
            index = time_index(frame, time_column, named=found is None)
        except DataFileError as exc:
            if found:  # the caller did not name this column: say how to choose another, or none
                exc.args = (f"{exc} (found by time_column='auto'; pass another time_column, or time_column=None "
                            "for none)",)
            raise
    else:
        index = pd.RangeIndex(len(df))

    # Value columns taken by default may hold text (a name, a label): the error then names the numeric ones.
    numeric = None if columns is not None else [c for c in value_columns if pd.api.types.is_numeric_dtype(df[c])]
    data = {col: float_column(frame, col, hint_time=time_column is None, numeric_columns=numeric)
            for col in value_columns}
    out = pd.DataFrame(data, index=index, columns=pd.Index(value_columns))
    if found is not None:
        out.attrs["time_columns"] = found
    if frame.headerless:
        out.attrs["headerless"] = True
    return out
