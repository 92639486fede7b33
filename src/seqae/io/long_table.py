"""Many sequences stored in long format (one row per sequence and step) in a CSV or Parquet file or a DataFrame."""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from seqae.exceptions import DataFileError, InputError
from seqae.io._files import as_path, check_missing, object_labels
from seqae.io._frame import Frame, check_columns, float_column, load_frame, row_ref
from seqae.io.collection import SequenceCollection
from seqae.io.times import parse_times


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
    missing = check_missing(missing)
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
            return _collect_long(Frame(data, "DataFrame", False), named, feature_columns, missing)
        except DataFileError as err:  # an in-memory table is not a file: the same message, as an InputError
            raise InputError(str(err)) from None
    return _collect_long(load_frame(as_path(data, "data")), named, feature_columns, missing)


def _collect_long(frame: Frame, named: dict[str, Any], feature_columns: list[Any] | None,
                  missing: str) -> SequenceCollection:
    """The work of :func:`read_long_table` on a loaded table; every data problem is a DataFileError."""
    df, source = frame.df, frame.source
    id_column, time_column, label_column = named["id_column"], named["time_column"], named["label_column"]
    given = [c for c in named.values() if c is not None]
    check_columns(frame, named)
    for col in feature_columns or []:
        check_columns(frame, {"feature column": col})
    if feature_columns is None:
        feature_columns = [c for c in df.columns if c not in given]
    if not feature_columns:
        raise DataFileError(f"{source}: no feature columns besides {', '.join(map(repr, given))}")
    if len(df) == 0:
        raise DataFileError(f"{source}: no data rows")

    absent = np.flatnonzero(df[id_column].isna().to_numpy())
    if absent.size:
        raise DataFileError(f"{source}: id column {id_column!r}, {row_ref(frame, int(absent[0]))}: missing id")
    codes, uniques = pd.factorize(df[id_column], sort=False)  # ids numbered in order of first appearance
    n_ids = len(uniques)

    values = np.column_stack([float_column(frame, col) for col in feature_columns])
    nan_rows = np.flatnonzero(np.isnan(values).any(axis=1))
    if missing == "raise" and nan_rows.size:
        i = int(nan_rows[0])
        col = feature_columns[int(np.flatnonzero(np.isnan(values[i]))[0])]
        raise DataFileError(f"{source}: column {col!r}, {row_ref(frame, i)}: missing value; pass missing='nan' "
                            "to keep missing values as NaN")

    if time_column is not None:
        times = parse_times(frame, time_column, allow_numeric=True)
        keys = times.asi8 if isinstance(times, pd.DatetimeIndex) else times
        order = np.lexsort((keys, codes))  # by id, then by time; lexsort is stable
        same = (np.diff(codes[order]) == 0) & (np.diff(keys[order]) == 0)
        if same.any():
            j = int(np.flatnonzero(same)[0])
            first, second = sorted((int(order[j]), int(order[j + 1])))
            raise DataFileError(f"{source}: time column {time_column!r}, {row_ref(frame, second)}: the time of "
                                f"{row_ref(frame, first)} again, for id {uniques[codes[first]]!r}")
    else:
        order = np.argsort(codes, kind="stable")  # rows keep their table order within each id

    y = None
    if label_column is not None:
        labels = df[label_column]
        where = f"{source}: label column {label_column!r}"
        absent = np.flatnonzero(labels.isna().to_numpy())
        if absent.size:
            raise DataFileError(f"{where}, {row_ref(frame, int(absent[0]))}: missing label")
        n_labels = labels.groupby(codes, sort=True).nunique().to_numpy()
        if (n_labels > 1).any():
            k = int(np.flatnonzero(n_labels > 1)[0])
            seen = pd.unique(labels[codes == k])[:5]
            raise DataFileError(f"{where}: id {uniques[k]!r} has more than one label "
                                f"({', '.join(map(repr, seen))})")
        _, first_rows = np.unique(codes, return_index=True)  # codes are 0..n_ids-1, so this is in id order
        y = labels.to_numpy()[first_rows]
        if y.dtype.kind in "OSU":
            y = object_labels(y)

    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_ids))])
    sorted_values = values[order].astype(np.float32)
    X = [sorted_values[bounds[k]:bounds[k + 1]].copy() for k in range(n_ids)]
    ids = np.asarray(uniques)
    if ids.dtype.kind in "SU":
        ids = ids.astype(object)
    return SequenceCollection(X, y, ids)
