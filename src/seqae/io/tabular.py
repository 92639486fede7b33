"""CSV and Parquet files as they are: which format a file name means, a table with every column as read, and
writing a table (the format again chosen by the name) so that a reader never sees half a file."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pandas as pd

from seqae.exceptions import DataFileError
from seqae.io._files import as_path
from seqae.io._frame import CSV_SUFFIXES, PARQUET_SUFFIXES, load_frame, table_format

__all__ = ["CSV_SUFFIXES", "PARQUET_SUFFIXES", "read_frame", "table_format", "write_table"]


def read_frame(path: str | os.PathLike) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame, every column as read (numbers, text, dates as text).

    The file is read as :func:`~seqae.io.read_table` reads it (compressed CSV, the separator found from the
    header line, a file without a header row read as data with columns named ``"0"``, ``"1"``, ... and
    ``attrs["headerless"]`` set), but no column is converted or checked: for tables whose columns mean different
    things (scores, labels, many series in one file).

    Raises
    ------
    DataFileError
        If the file is missing, unreadable, of an unknown type, empty or only a header.
    """
    path = as_path(path)
    frame = load_frame(path)
    if len(frame.df) == 0:
        raise DataFileError(f"{path}: no data rows (only a header)")
    df = frame.df
    if frame.headerless:
        df.attrs["headerless"] = True
    return df


def _compressed(data: bytes, path: Path) -> bytes:
    """CSV bytes compressed as the name's extension says; the same table gives the same bytes (no time stamps)."""
    name = path.name.lower()
    if name.endswith(".gz"):
        import gzip

        return gzip.compress(data, mtime=0)
    if name.endswith(".bz2"):
        import bz2

        return bz2.compress(data)
    if name.endswith(".xz"):
        import lzma

        return lzma.compress(data)
    if name.endswith(".zip"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(zipfile.ZipInfo(path.name[: -len(".zip")], date_time=(1980, 1, 1, 0, 0, 0)), data,
                             compress_type=zipfile.ZIP_DEFLATED)
        return buf.getvalue()
    return data


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` (without its index) as CSV (optionally compressed) or Parquet, chosen by the extension as for
    reading, atomically: the whole file is made in memory, written to a temporary file and renamed, so that a
    failure half-way leaves any previous file at ``path`` as it was.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    DataFileError
        For a file name of an unknown type.
    OSError
        If the file cannot be written.
    """
    from seqae.tensorfile import write_atomic  # imported here: it brings torch, which reading tables does not need

    path = as_path(path)
    if table_format(path) == "parquet":
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        data = buf.getvalue()
    else:
        data = _compressed(df.to_csv(index=False, lineterminator="\n").encode("utf-8"), path)
    write_atomic(path, data)
    return path
