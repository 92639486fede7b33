"""Running one plain function per series of a long table: a pandas group-by loop in this process, or Fugue's
``transform`` on an engine (Dask, Spark, Ray), which runs the same function on the engine's workers.

Why Fugue: the same per-series function then runs unchanged on pandas, Dask, Spark or Ray (statsforecast and
neuralforecast do the same), and seqae has no scheduler of its own. Fugue is imported only when an engine is
asked for, so a user with one machine needs none of it.
"""
from __future__ import annotations

import contextlib
import hashlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from seqae.exceptions import InputError

# Column that carries each input row's position through engines that do not keep row order within a group.
ROW = "__seqae_row"
ERROR = "error"
ENGINE_HINT = 'pip install "seqae[dask]" (Spark and Ray: install pyspark or ray beside fugue)'
# Dask settings for the workers of the clusters seqae starts (``seqae detect-many --engine dask``; the benchmarks
# start theirs the same way); a user's own cluster should have them too.
DASK_WORKER_CONFIG = {
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_ in its workers, which turns off glibc's dynamic mmap threshold:
    # torch's large buffers are then mapped and faulted in afresh at every step (12% more CPU per series in a
    # probe, benchmarks/results/scale.md). Training allocates the same sizes again and again: glibc's default.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # Each worker's statistical profiler samples the running task's stack every 10 ms and keeps a tree of every
    # stack it saw per task name, which torch's deep stacks keep growing (benchmarks/worker_memory.py finds its
    # nodes): a worker's peak after 500 series of 5,000 points fell from 1.5 to 1.3 GB without it.
    "distributed.worker.profile.enabled": False,
}
# Series in one partition of an engine's table. One series a partition made the engine's work per partition (its
# tasks, the shuffle's shards, Fugue's frame conversions) a cost per series: with five, the driver's CPU per series
# fell from 0.06 to 0.04 s and 300 series on 2 Dask workers took 162 s against 174-179 s (at 1,000 series 543 s
# against 548 s), each worker holding five series' rows at once (peaks within 35 MB of before;
# benchmarks/results/scale.md).
SERIES_PER_PARTITION = 5


# Fugue's names of its in-process pandas engine: run as engine=None.
LOCAL_ENGINES = ("native", "pandas")


def series_seed(series_id: Any, base: int | None) -> int:
    """A seed for one series, the same on every engine and every run: a hash of its id (Python's ``hash()``
    changes between processes for text), mixed with the caller's ``random_state`` (``base``)."""
    value = series_id.item() if isinstance(series_id, np.generic) else series_id
    text = f"{0 if base is None else int(base)}\x00{type(value).__name__}\x00{value}"
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=4).digest(), "little") & 0x7FFFFFFF


def check_columns(table, by: str, time: str | None) -> list[str]:
    """The value columns of ``table`` (every column but ``by`` and ``time``), after checking that those exist."""
    columns = [str(c) for c in table.columns]
    for name, what in ((by, "by"), (time, "time")):
        if name is not None and name not in columns:
            raise InputError(f"{what}={name!r} is not a column of the table; its columns are {columns}")
    if by == time:
        raise InputError(f"by and time name the same column {by!r}; the series id and the time must differ")
    values = [c for c in columns if c not in (by, time, ROW)]
    if not values:
        raise InputError(f"the table has no value column beside by={by!r} and time={time!r}")
    return values


def prepare(table, by: str, time: str | None, values: list[str]):
    """The columns the workers need, values as float64, and the input order in ``ROW`` (pandas input)."""
    if isinstance(table, pd.DataFrame):
        out = table[[by] + ([time] if time else []) + values].copy()
        out[ROW] = np.arange(len(out), dtype=np.int64)
    elif time is None:
        raise InputError("a distributed frame keeps no row order inside a series: pass time= (the column that "
                         "orders each series' rows), or a pandas DataFrame")
    else:
        out = table[[by, time] + values]
    return out.astype({v: "float64" for v in values})


def order_rows(group: pd.DataFrame, time: str | None) -> pd.DataFrame:
    """One series' rows in time order (ties, and tables without time, in input order)."""
    keys = ([time] if time else []) + ([ROW] if ROW in group.columns else [])
    return group.sort_values(keys, kind="stable").reset_index(drop=True) if keys else group.reset_index(drop=True)


def check_engine(table, engine):
    """Fugue's API for ``engine`` (None for the pandas loop, after checking that ``table`` is pandas)."""
    # Fugue's own local engine does what the loop does, but saves single files where the output's layout has
    # folders: it failed after fitting every series, and read_output read its events as none.
    if isinstance(engine, str) and engine.lower() in LOCAL_ENGINES:
        engine = None
    if engine is None:
        if not isinstance(table, pd.DataFrame):
            raise InputError(f"engine=None runs on a pandas DataFrame, got {type(table).__name__}; pass the engine "
                             "that made it (engine='dask', a Spark session, ...)")
        return None
    try:
        import fugue.api as fa
    except ImportError:
        raise InputError(f"engine={engine!r} runs through Fugue, which is not installed: {ENGINE_HINT}") from None
    return fa


@contextlib.contextmanager
def quiet_engine():
    """Silence what Dask and Fugue warn about their own internals, which a user cannot act on: deprecations
    inside fugue_dask, and the dtype mismatch Dask reports when "even" partitioning merges a frame whose ids are
    objects (Parquet read without Dask's string conversion) with Fugue's own table of those ids, which Dask
    turns into strings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message="Merging dataframes with merge column data type mismatches")
        yield


def partition_spec(table, by: str, fa, engine) -> dict:
    """Fugue's partitioning of ``table`` for the per-series function: by series, spread evenly ("even": a hash
    of the ids can give one worker most of a small table's series), SERIES_PER_PARTITION series a partition,
    but at least four partitions per worker slot while there are series for them, so that a small table still
    keeps every worker busy to the end. An engine's frame is counted on the engine (a pass over its ``by``
    column)."""
    with fa.engine_context(engine):
        slots = fa.get_current_parallelism()
        if isinstance(table, pd.DataFrame):
            n_series = int(table[by].nunique(dropna=False))
        else:
            n_series = int(fa.count(fa.distinct(fa.select_columns(table, [by]))))
    num = min(n_series, max(-(-n_series // SERIES_PER_PARTITION), 4 * slots))
    return {"by": [by], "algo": "even", "num": max(1, num)}


def run_per_series(table, fn: Callable[..., pd.DataFrame], spec: dict, by: str, schema: str, engine) -> pd.DataFrame:
    """``fn(group, spec)`` on each series (the rows of one value of ``by``), results concatenated (pandas).

    ``engine`` None: a group-by loop here. Otherwise Fugue's transform, partitioned by ``by``, on ``engine``
    ("dask", a Dask ``Client``, a Spark session, "ray", ...); ``schema`` is the output's Fugue schema.
    """
    fa = check_engine(table, engine)
    if fa is None:
        parts = [fn(group, spec) for _, group in table.groupby(by, sort=True, dropna=False)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    with quiet_engine():
        out = fa.transform(table, fn, schema=schema, params={"spec": spec},
                           partition=partition_spec(table, by, fa, engine),
                           engine=engine, as_local=True)
        return fa.as_pandas(out)
