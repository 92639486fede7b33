"""Reading and writing data: one module per file format, the data that ships with seqae, and a generator.

Two shapes of data come in:

- **Collections of sequences** (for embeddings and for training on many short series): :func:`read_ts`
  (``.ts`` files, :mod:`seqae.io.ts`), :func:`read_long_table` (long-format tables, :mod:`seqae.io.long_table`),
  :func:`read_npz` (:mod:`seqae.io.npz`) and :func:`load_uea` (:mod:`seqae.io.uea`) all return a
  :class:`SequenceCollection` ``(X, y, ids)`` where ``X`` is a list of float32 arrays of shape ``(T_i, F)``
  (lengths may differ, the number of features ``F`` may not), ``y`` the labels or ``None``, and ``ids`` one
  identifier per sequence.
- **One long time series** (for anomaly detection): :func:`read_table` (:mod:`seqae.io.table`) reads a CSV or
  Parquet file into a float64 :class:`pandas.DataFrame`, and :func:`load_demo_series` (:mod:`seqae.io.demo`)
  returns one of the built-in NAB series; :func:`read_windows` (:mod:`seqae.io.nab`) reads the known anomaly
  windows of a series from NAB-style JSON.

Every problem with a file is a :class:`~seqae.exceptions.DataFileError` whose message names the file and,
where known, the line or row; every problem with an argument or an in-memory table is an
:class:`~seqae.exceptions.InputError`. No reader modifies its input, and nothing here keeps global state.
:func:`read_frame` and :func:`write_table` (:mod:`seqae.io.tabular`) read and write a CSV or Parquet table as it is.
:mod:`seqae.datasets` offers the names it always had.
"""
from seqae.io.collection import SequenceCollection
from seqae.io.demo import list_demo_series, load_demo_series
from seqae.io.long_table import read_long_table
from seqae.io.nab import read_windows
from seqae.io.npz import read_npz, save_npz
from seqae.io.synthetic import make_sine_collection
from seqae.io.table import read_table
from seqae.io.tabular import read_frame, table_format, write_table
from seqae.io.times import AUTO, find_time_columns
from seqae.io.ts import read_ts
from seqae.io.uea import data_root, load_uea

__all__ = [
    "AUTO", "SequenceCollection", "data_root", "find_time_columns", "list_demo_series", "load_demo_series",
    "load_uea", "make_sine_collection", "read_frame", "read_long_table", "read_npz", "read_table", "read_ts",
    "read_windows", "save_npz", "table_format", "write_table",
]
