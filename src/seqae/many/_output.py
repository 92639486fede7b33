"""Writing a many-series run's results from where they are made (``output=``): the workers of an engine, or the
pandas loop series by series, so that no per-row result passes through the driver.

Layout of an output directory (the same whichever engine wrote it)::

    OUTPUT/scores/*.parquet      one row per scored input row, or per embedded sequence (as ManyResult.scores)
    OUTPUT/events/*.parquet      one row per anomaly event (as ManyResult.events); not for embed_many
    OUTPUT/failures.parquet      one row per failed series: its id and ``error``
    OUTPUT/manifest.json         what the run was (kind, by, time, counts); marks the directory as seqae's output

Why one frame per series with a row kind: a Fugue transform yields one frame, and the events are made in the
same worker call as the scores (each series' events depend only on its own rows). The worker returns its
scored rows and its event rows together (event columns prefixed, filled with a value of the right type in the
other rows); the engine saves that frame once, then two map-only transforms (no shuffle, no refit) split it
into ``scores/`` and ``events/``. Everything is written into a temporary directory beside the target, renamed
over it at the end: a killed run never leaves a half output under the final name.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqae.events import EVENT_COLUMNS
from seqae.exceptions import InputError
from seqae.many._engine import ERROR, ROW, partition_spec, quiet_engine
from seqae.many._tasks import THRESHOLD

KIND = "__seqae_kind"       # what a row of the worker's frame is: one of the three below
SCORE, EVENT_ROW, FAILED = 0, 1, 2
EV = "__seqae_event_"       # prefix of the event columns in that frame (a value column may be called "start")
MANIFEST = "manifest.json"
FAILURES = "failures.parquet"
_INTS = ("start_pos", "end_pos", "length")
_FLOATS = ("peak_score", "severity")
_TIMES = ("start", "end", "peak")


@dataclass
class ManyOutput:
    """What :func:`~seqae.many.detect_many`, :func:`~seqae.many.score_many` or :func:`~seqae.many.embed_many`
    return with ``output=``: where the results are and how many there are; the rows themselves stay on disk.

    Attributes
    ----------
    path : pathlib.Path
        The output directory.
    scores, events : pathlib.Path
        The Parquet datasets (directories) ``path/scores`` and ``path/events``, with the columns of
        :attr:`ManyResult.scores <seqae.many.ManyResult>` and :attr:`ManyResult.events <seqae.many.ManyResult>`;
        ``events`` is None for :func:`~seqae.many.embed_many`, which makes none.
    n_series, n_rows, n_events : int
        Series (sequences) seen, score (embedding) rows written, events written.
    failures : DataFrame
        One row per failed series: its id and ``error`` (also in ``path/failures.parquet``).
    """

    path: Path
    scores: Path
    events: Path | None
    n_series: int
    n_rows: int
    n_events: int
    failures: pd.DataFrame

    @property
    def n_failed(self) -> int:
        """How many series failed (each listed in ``failures``)."""
        return len(self.failures)

    def read(self):
        """The whole output in memory, as a :class:`~seqae.many.ManyResult` (see :func:`read_output`)."""
        return read_output(self.path)

    def __repr__(self) -> str:
        return (f"ManyOutput({str(self.path)!r}: {self.n_rows} score rows of {self.n_series} series, "
                f"{self.n_events} events, {self.n_failed} failed series)")


def check_output(output) -> Path:
    """The output directory as a path, after checking that it can be (re)placed: a previous output of
    seqae's (it has a manifest) or an empty directory is replaced on success; anything else there is not ours."""
    if not isinstance(output, (str, os.PathLike)):
        raise InputError(f"output= takes a directory path, got {type(output).__name__}")
    text = os.fspath(output)
    if "://" in text:
        raise InputError(f"output={text!r}: a URL; the output is renamed into place at the end, which needs a "
                         "filesystem path that every worker can write to (local, or a shared mount)")
    path = Path(text).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise InputError(f"output={text!r} is a file; give a directory path (scores/ and events/ go inside it)")
    if path.is_dir() and any(path.iterdir()) and not (path / MANIFEST).is_file():
        raise InputError(f"output={text!r} is a directory that is not a seqae output (no {MANIFEST}); choose a "
                         "new path or empty it, so that nothing of yours is replaced")
    if not path.parent.is_dir():
        raise InputError(f"output={text!r}: its parent directory {str(path.parent)!r} does not exist; create it")
    return path


def with_events(rows: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """A worker's frame for one series: its scored rows (or its failure row), then one row per event."""
    from seqae.many._tasks import series_events

    failed = rows[ERROR].notna().any()
    body = rows.copy()
    body[KIND] = FAILED if failed else SCORE
    by, time = spec["by"], spec["time"]
    # A value of the right type in the non-event rows, not a missing one: engines would turn int columns to float.
    moment = rows[time].iloc[0] if time else 0
    for name in EVENT_COLUMNS:
        body[EV + name] = moment if name in _TIMES else 0 if name in _INTS else np.nan if name in _FLOATS else ""
    events = None if failed else series_events(rows, by, time, spec["contributions"])
    if events is None or events.empty:
        return body
    head = rows.iloc[np.zeros(len(events), dtype=np.int64)].reset_index(drop=True)
    head[KIND] = EVENT_ROW
    for name in EVENT_COLUMNS:
        head[EV + name] = events[name].to_numpy()
    return pd.concat([body, head], ignore_index=True)


def with_kind(rows: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """A worker's frame for one sequence of :func:`~seqae.many.embed_many`: its row, marked scored or failed."""
    return rows.assign(**{KIND: np.where(rows[ERROR].notna(), FAILED, SCORE).astype(np.int64)})


def scores_part(frame: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """The score rows of a worker's frame, with the columns of ``ManyResult.scores``."""
    drop = [ROW, ERROR, THRESHOLD, KIND] + [EV + n for n in EVENT_COLUMNS]
    return frame.loc[frame[KIND] == SCORE].drop(columns=[c for c in drop if c in frame.columns])


def events_part(frame: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """The event rows of a worker's frame, with the columns of ``ManyResult.events``."""
    rows = frame.loc[frame[KIND] == EVENT_ROW, [spec["by"]] + [EV + n for n in EVENT_COLUMNS]]
    return rows.rename(columns={EV + n: n for n in EVENT_COLUMNS})


def summary_part(frame: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """One row per series of a worker's frame: its score rows, its events, its error (None if it ran)."""
    kind = frame[KIND].to_numpy()
    parts = pd.DataFrame({spec["by"]: frame[spec["by"]].to_numpy(), "rows": (kind == SCORE).astype(np.int64),
                          "events": (kind == EVENT_ROW).astype(np.int64), ERROR: frame[ERROR].to_numpy()})
    return parts.groupby(spec["by"], sort=False, dropna=False).agg(
        rows=("rows", "sum"), events=("events", "sum"), error=(ERROR, "first")).reset_index()


def _schemas(table, union_schema: str | list[str], spec: dict):
    """The engine's schemas (triad) of the worker's frame, and of its scores, events (None without events)
    and summary parts. ``union_schema``: the run's own output schema, ``"*,added"`` or, for embed_many,
    ``["*-dropped", "added"]``."""
    import fugue.api as fa
    import pyarrow as pa

    by, time = spec["by"], spec["time"]
    base = fa.get_schema(table)
    if isinstance(union_schema, list):
        dropped, added = union_schema
        union = base.exclude(dropped.removeprefix("*-").split(",")) + added + f"{KIND}:long"
    else:
        union = base + union_schema.removeprefix("*,") + f"{KIND}:long"
    events = None
    if spec.get("with_events"):
        moment = base[time].type if time else pa.int64()
        kinds = {**{n: moment for n in _TIMES}, **{n: pa.int64() for n in _INTS},
                 **{n: pa.float64() for n in _FLOATS}, "channels": pa.string()}
        union = union + [pa.field(EV + n, kinds[n]) for n in EVENT_COLUMNS]
        events = union.extract([by] + [EV + n for n in EVENT_COLUMNS]).rename({EV + n: n for n in EVENT_COLUMNS})
    drop = {ROW, ERROR, THRESHOLD, KIND} | {EV + n for n in EVENT_COLUMNS}
    scores = union.extract([c for c in union.names if c not in drop])
    summary = union.extract([by]) + f"rows:long,events:long,{ERROR}:str"
    return union, scores, events, summary


def write_engine(table, fn, spec: dict, union_schema: str | list[str], engine, folder: Path) -> pd.DataFrame:
    """Run ``fn`` per series on ``engine`` and save its results under ``folder`` from the workers; returns
    the summary (one small row per series)."""
    import fugue.api as fa

    union, scores, events, summary = _schemas(table, union_schema, spec)
    rows = str(folder / "_rows")
    with quiet_engine(), fa.engine_context(engine):
        # Saved once by the workers: the two splits below read it back instead of fitting every series again.
        fa.transform(table, fn, schema=union, params={"spec": spec},
                     partition=partition_spec(table, spec["by"], fa, engine), save_path=rows)
        fa.transform(rows, scores_part, schema=scores, params={"spec": spec}, save_path=str(folder / "scores"))
        if events is not None:
            fa.transform(rows, events_part, schema=events, params={"spec": spec}, save_path=str(folder / "events"))
        result = fa.as_pandas(fa.transform(rows, summary_part, schema=summary, params={"spec": spec},
                                           as_local=True))
    shutil.rmtree(rows)
    return result


class _Appender:
    """One Parquet file written a frame at a time (the pandas loop's scores or events), one schema for all."""

    def __init__(self, path: Path):
        self.path, self.writer = path, None

    def append(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writer is None:
            self.path.parent.mkdir(exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, pa.Schema.from_pandas(frame, preserve_index=False))
        self.writer.write_table(pa.Table.from_pandas(frame, schema=self.writer.schema, preserve_index=False))

    def close(self, template: pd.DataFrame) -> None:
        """Close the file; if nothing was appended, write an empty one with the columns and types of ``template``
        (None: none, the run failed)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writer is not None or template is None:
            if self.writer is not None:
                self.writer.close()
            return
        self.path.parent.mkdir(exist_ok=True)
        pq.write_table(pa.Table.from_pandas(template, preserve_index=False).slice(0, 0), self.path)


def write_loop(table: pd.DataFrame, fn, spec: dict, folder: Path) -> pd.DataFrame:
    """The pandas loop's ``output=``: each series' results appended to ``folder``'s files as soon as made,
    without holding all of them; returns the summary (one row per series)."""
    parts = [(_Appender(folder / "scores" / "part.0.parquet"), scores_part, SCORE)]
    if spec.get("with_events"):
        parts.append((_Appender(folder / "events" / "part.0.parquet"), events_part, EVENT_ROW))
    summaries, first = [], None
    try:
        for _, group in table.groupby(spec["by"], sort=True, dropna=False):
            frame = fn(group, spec)
            first = frame.iloc[:1] if first is None else first
            for appender, part, _ in parts:
                rows = part(frame, spec)
                if len(rows):
                    appender.append(rows)
            summaries.append(summary_part(frame, spec))
    except BaseException:
        for appender, _, _ in parts:
            appender.close(None)
        raise
    # An empty part still gets a file with the columns' types: taken from any row, relabelled.
    if first is not None:
        for appender, part, kind in parts:
            appender.close(part(first.assign(**{KIND: kind}), spec))
    if not summaries:
        raise InputError("the table has no rows: there is no series to write")
    return pd.concat(summaries, ignore_index=True)


def finish(summary: pd.DataFrame, folder: Path, target: Path, by: str, time: str | None, kind: str) -> ManyOutput:
    """Write the failures and the manifest into ``folder``, then put ``folder`` in ``target``'s place.
    ``kind``: the function that ran ("detect", "score", "embed")."""
    from seqae.io import write_table

    summary = summary.sort_values(by, kind="stable").reset_index(drop=True)
    failures = summary.loc[summary[ERROR].notna(), [by, ERROR]].reset_index(drop=True)
    failures[ERROR] = failures[ERROR].astype(object)
    write_table(failures, folder / FAILURES)
    counts = {"n_series": len(summary), "n_rows": int(summary["rows"].sum()),
              "n_events": int(summary["events"].sum())}
    (folder / MANIFEST).write_text(json.dumps({"kind": kind, "by": by, "time": time, **counts,
                                               "n_failed": len(failures)}, indent=1) + "\n")
    events = target / "events" if (folder / "events").is_dir() else None
    replace_dir(folder, target)
    return ManyOutput(path=target, scores=target / "scores", events=events, failures=failures, **counts)


def temporary_dir(target: Path) -> Path:
    """A new directory beside ``target`` (same filesystem, so that the final rename is atomic)."""
    folder = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    folder.mkdir()
    return folder


def replace_dir(folder: Path, target: Path) -> None:
    """``folder`` renamed to ``target``; a previous ``target`` is moved aside first and removed only after."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
        os.replace(target, old)
    os.replace(folder, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_output(path) -> "ManyResult":  # noqa: F821 - imported below, in the function
    """Read an output directory written with ``output=`` back into memory, as the
    :class:`~seqae.many.ManyResult` the same call without ``output=`` returns (rows sorted by series, then time).

    Parameters
    ----------
    path : str or path-like
        The directory given as ``output=``.

    Returns
    -------
    ManyResult
    """
    import pyarrow.parquet as pq

    from seqae.many._result import ManyResult

    path = Path(path)
    if not (path / MANIFEST).is_file():
        raise InputError(f"{str(path)!r} is not an output of detect_many/score_many/embed_many (no {MANIFEST} "
                         "in it)")
    manifest = json.loads((path / MANIFEST).read_text())
    by, time = manifest["by"], manifest["time"]

    def read(name: str, order: list[str]) -> pd.DataFrame:
        # Without the pandas metadata: engines record their own dtypes (Arrow-backed ones), the loop numpy ones.
        frame = pq.read_table(path / name).to_pandas(ignore_metadata=True, coerce_temporal_nanoseconds=True)
        return frame.sort_values(order, kind="stable").reset_index(drop=True)

    scores = read("scores", [by] + ([time] if time else []))
    events = read("events", [by, "start_pos"]) if (path / "events").is_dir() else pd.DataFrame()
    if events.empty:
        events = pd.DataFrame(columns=[by] + list(EVENT_COLUMNS))
    failures = pd.read_parquet(path / FAILURES)
    return ManyResult(scores=scores, events=events, failures=failures)
