"""Reading sequence data, and the small data sets that ship with seqae: the public names of :mod:`seqae.io`.

Each reader lives in :mod:`seqae.io`, one module per file format; this module gathers them under the name they
have always been imported by (``from seqae.io import read_table``), and stays supported.
"""
from seqae.io import (
    AUTO,  # noqa: F401 (read_table(time_column=AUTO): imported from here before seqae.io existed)
    SequenceCollection,
    data_root,
    find_time_columns,
    list_demo_series,
    load_demo_series,
    load_uea,
    make_sine_collection,
    read_long_table,
    read_npz,
    read_table,
    read_ts,
    save_npz,
)

__all__ = [
    "SequenceCollection", "data_root", "find_time_columns", "list_demo_series", "load_demo_series", "load_uea",
    "make_sine_collection", "read_long_table", "read_npz", "read_table", "read_ts", "save_npz",
]
