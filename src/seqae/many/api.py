"""Many series in one call: one detector per series (:func:`detect_many`), one saved detector over many series
(:func:`score_many`), one saved autoencoder over many sequences (:func:`embed_many`), on pandas or an engine."""
from __future__ import annotations

import os
import shutil
from typing import Any

import numpy as np
import pandas as pd

from seqae.events import EVENT_COLUMNS
from seqae.exceptions import InputError
from seqae.many import _output, _tasks
from seqae.many._engine import ERROR, ROW, check_columns, check_engine, prepare, run_per_series
from seqae.many._output import ManyOutput
from seqae.many._result import ManyResult


def _check_ids(table, by: str) -> None:
    if isinstance(table, pd.DataFrame) and table[by].isna().any():
        raise InputError(f"the series id column {by!r} has {int(table[by].isna().sum())} missing value(s); every "
                         "row needs the id of its series")


def _finish(out: pd.DataFrame, table, by: str, time: str | None, contributions: list[str]) -> ManyResult:
    """Split the engine's rows into scores, events and failures, in one order and one set of types whatever
    the engine (an engine may hand text ids back as another string type than the table's)."""
    if out.empty:
        out = pd.DataFrame(columns=[by, ROW, ERROR])
    if isinstance(table, pd.DataFrame):
        out = out.astype({by: table[by].dtype} | ({time: table[time].dtype} if time else {}))
    # Arrow-backed engines hand all-missing float columns back as pandas' nullable Float64.
    out = out.astype({c: np.float64 for c in out.columns if str(out[c].dtype) == "Float64"})
    out[ERROR] = out[ERROR].astype(object).where(out[ERROR].notna(), None)
    failed = out[ERROR].notna()
    order = [by] + ([time] if time else []) + ([ROW] if ROW in out.columns else [])
    failures = out.loc[failed].sort_values(order, kind="stable")[[by, ERROR]].reset_index(drop=True)
    rows = out.loc[~failed].sort_values(order, kind="stable")
    scores = rows.drop(columns=[c for c in (ROW, ERROR, _tasks.THRESHOLD) if c in rows.columns])
    if "label" in scores.columns:
        scores = scores.astype({"score": np.float64, "label": np.int64, _tasks.EVENT: np.int64})
    return ManyResult(scores=scores.reset_index(drop=True), events=_events(rows, by, time, contributions),
                      failures=failures)


def _events(rows: pd.DataFrame, by: str, time: str | None, contributions: list[str]) -> pd.DataFrame:
    """One row per event of every series, rebuilt from the points' event numbers (as the workers do with
    ``output=``)."""
    columns = [by] + list(EVENT_COLUMNS)
    if _tasks.EVENT not in rows.columns or not (rows[_tasks.EVENT] > 0).any():
        return pd.DataFrame(columns=columns)
    frames = [_tasks.series_events(series, by, time, contributions)
              for _, series in rows.groupby(by, sort=True) if (series[_tasks.EVENT] > 0).any()]
    return pd.concat(frames, ignore_index=True)[columns]


def _run(table, prepared, fn, spec: dict, schema, engine, output, contributions: list[str], kind: str):
    """The per-series run, its rows collected here (``output`` None) or written from the workers into
    ``output`` (a :class:`~seqae.many.ManyOutput` back). ``kind``: "detect", "score" (rows and events per
    series) or "embed" (one row per sequence, no time in the result)."""
    by = spec["by"]
    time = None if kind == "embed" else spec["time"]
    if output is None:
        return _finish(run_per_series(prepared, fn, spec, by, schema, engine), table, by, time, contributions)
    target = _output.check_output(output)
    fa = check_engine(prepared, engine)
    folder = _output.temporary_dir(target)
    try:
        spec = {**spec, "with_kind": True} if kind == "embed" else {**spec, "with_events": True}
        summary = (_output.write_loop(prepared, fn, spec, folder) if fa is None
                   else _output.write_engine(prepared, fn, spec, schema, engine, folder))
        if isinstance(table, pd.DataFrame):
            summary = summary.astype({by: table[by].dtype})
        elif pd.api.types.is_string_dtype(summary[by]):    # engines' string types: text ids as pandas reads them
            summary = summary.astype({by: object})
        return _output.finish(summary, folder, target, by, time, kind)
    except BaseException:
        # Nothing half-written under the final name; a previous output there is untouched.
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _threads(params: dict) -> dict:
    # One torch thread per series by default: workers on the same cores must not fight over them.
    return {**params, "num_threads": params.get("num_threads", 1)}


def _scores_schema(contributions: list[str]) -> str:
    extra = ",".join(f"{c}:double" for c in contributions)
    return f"*,score:double,label:long,{_tasks.EVENT}:long,{_tasks.THRESHOLD}:double" + \
        (f",{extra}" if extra else "") + f",{ERROR}:str"


def detect_many(table, *, by: str, time: str | None = None, engine=None, train_fraction: float | None = None,
                random_state: int | None = 0, output: str | os.PathLike | None = None,
                **params: Any) -> ManyResult | ManyOutput:
    """Fit one :class:`~seqae.AnomalyDetector` per series of a long table and score every row of each.

    Each series (the rows that share a value of ``by``, in ``time`` order) gets a detector fitted on its first
    ``train_fraction`` of rows, with a seed derived from its id and ``random_state``: a rerun, or another
    engine, gives the same results series by series. A series that fails (too short for the window, all
    missing, ...) is listed in ``failures`` with its error; the others are not affected.

    Parameters
    ----------
    table : pandas DataFrame, or a frame of the engine (a Dask or Spark DataFrame)
        Long format: one row per time step of one series; every column but ``by`` and ``time`` is a value.
    by : str
        The column of series ids.
    time : str, optional
        The column that orders each series' rows; without it, a pandas table's row order is used.
    engine : None, "dask", a ``distributed.Client``, a Spark session, "ray", ...
        None (or Fugue's "native"/"pandas"): a loop over the series in this process (no Fugue needed). Otherwise
        Fugue runs the same per-series function on that engine (``pip install "seqae[dask]"``; Spark needs Java
        and pyspark, Ray its own install).
    train_fraction : float in (0, 1], default 0.3
        The first share of each series' rows the detector is trained on.
    random_state : int or None, default 0
        Mixed into every series' seed.
    output : path, optional
        A directory to write the results into instead of returning them: ``scores/`` and ``events/`` (Parquet
        datasets with the columns of ``ManyResult.scores`` and ``.events``), ``failures.parquet`` and
        ``manifest.json``. The engine's workers (or the pandas loop, series by series) write the rows; each
        worker makes its series' events too, so no per-row result comes back to this process. Written into a
        temporary directory beside it and renamed at the end: a run that fails leaves nothing, a killed one
        only its ``.NAME.tmp-*`` directory beside it, never a half output under the name; a previous output
        there is replaced only on success. It must be a filesystem path every
        worker can write to, new, empty, or a previous output. :func:`read_output` reads it back.
    **params
        :class:`~seqae.AnomalyDetector` parameters for every series; ``num_threads`` defaults to 1 here.

    Returns
    -------
    ManyResult or ManyOutput
        ``scores``, ``events``, ``failures`` and ``n_failed``; with ``output``, a :class:`ManyOutput` instead:
        the paths, ``n_series``, ``n_rows``, ``n_events``, ``failures`` and ``n_failed``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from seqae.many import detect_many
    >>> t = np.arange(300)
    >>> table = pd.DataFrame({"id": np.repeat(["a", "b"], 300), "t": np.tile(t, 2),
    ...                       "value": np.concatenate([np.sin(t / 5), np.cos(t / 7)])})
    >>> result = detect_many(table, by="id", time="t", window=16, hidden_size=8, latent_dim=4, epochs=2)
    >>> result.scores.shape[0], result.n_failed
    (600, 0)
    """
    from seqae.detection.series import DEFAULT_TRAIN_FRACTION

    fraction = DEFAULT_TRAIN_FRACTION if train_fraction is None else float(train_fraction)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"train_fraction must be in (0, 1], got {train_fraction!r}")
    if "random_state" in params:
        raise TypeError("random_state is set per series from its id; pass the base seed as random_state=")
    from seqae.detection import AnomalyDetector

    probe = AnomalyDetector(**params)   # a bad parameter is one error here, not one per series
    probe._check_params()
    values = check_columns(table, by, time)
    _check_ids(table, by)
    contributions = [f"contribution_{v}" for v in values] if len(values) > 1 else []
    spec = {"by": by, "time": time, "values": values, "contributions": contributions, "params": _threads(params),
            "train_fraction": fraction, "random_state": random_state}
    return _run(table, prepare(table, by, time, values), _tasks.detect_series, spec, _scores_schema(contributions),
                engine, output, contributions, "detect")


def _loaded(model, kind: type, what: str):
    from seqae.persistence import load

    loaded = load(model) if isinstance(model, (str, os.PathLike)) else model
    if not isinstance(loaded, kind):
        raise InputError(f"{what} needs a saved {kind.__name__}, got a {type(loaded).__name__}")
    return loaded


def score_many(table, model, *, by: str, time: str | None = None, engine=None, num_threads: int | None = 1,
               output: str | os.PathLike | None = None) -> ManyResult | ManyOutput:
    """Score every series of a long table with one fitted :class:`~seqae.AnomalyDetector` (or its file).

    The table must hold the detector's value columns (``feature_names_in_``); other columns are ignored.
    ``engine``, ``output`` and the results as in :func:`detect_many`. A path is loaded once per worker process.

    Examples
    --------
    >>> result = score_many(table, "model.seqae", by="id", time="t")   # doctest: +SKIP
    """
    from seqae.detection import AnomalyDetector

    detector = _loaded(model, AnomalyDetector, "score_many")
    check_columns(table, by, time)
    values = [str(v) for v in detector.feature_names_in_]
    missing = [v for v in values if v not in [str(c) for c in table.columns]]
    if missing:
        raise InputError(f"the table lacks the model's value column(s) {missing}; its columns are "
                         f"{[str(c) for c in table.columns]}")
    _check_ids(table, by)
    contributions = [f"contribution_{v}" for v in values] if len(values) > 1 else []
    spec = {"by": by, "time": time, "values": values, "contributions": contributions, "num_threads": num_threads,
            "model": os.fspath(model) if isinstance(model, (str, os.PathLike)) else
            detector.set_params(num_threads=num_threads)}
    return _run(table, prepare(table, by, time, values), _tasks.score_series, spec, _scores_schema(contributions),
                engine, output, contributions, "score")


def embed_many(table, model, *, by: str, time: str | None = None, engine=None, num_threads: int | None = 1,
               output: str | os.PathLike | None = None) -> ManyResult | ManyOutput:
    """Embed every sequence of a long table (the rows of one ``by`` value) with one fitted
    :class:`~seqae.LSTMAutoencoder` (or its file): ``scores`` has one row per sequence, its id, ``z0``..
    and ``reconstruction_error``; sequences that fail are in ``failures``. ``engine`` as in
    :func:`detect_many`; ``output``, a directory to write ``scores/`` (the embeddings), ``failures.parquet``
    and ``manifest.json`` into from where they are made, as there (no ``events/``).

    Examples
    --------
    >>> result = embed_many(table, "ae.seqae", by="session", time="t")   # doctest: +SKIP
    """
    from seqae.autoencoder import LSTMAutoencoder

    ae = _loaded(model, LSTMAutoencoder, "embed_many")
    values = check_columns(table, by, time)
    if len(values) != ae.n_features_in_:
        raise InputError(f"the table has {len(values)} value column(s) {values}, the autoencoder was fitted on "
                         f"{ae.n_features_in_}; leave the other columns out of the table")
    _check_ids(table, by)
    width = ae.transform([np.zeros((2, ae.n_features_in_))]).shape[1]
    embedding = [f"z{j}" for j in range(width)]
    spec = {"by": by, "time": time, "values": values, "embedding": embedding, "num_threads": num_threads,
            "model": os.fspath(model) if isinstance(model, (str, os.PathLike)) else
            ae.set_params(num_threads=num_threads)}
    drop = ",".join(([time] if time else []) + values)
    schema = [f"*-{drop}", ",".join(f"{z}:double" for z in embedding) + f",reconstruction_error:double,{ERROR}:str"]
    return _run(table, prepare(table, by, time, values), _tasks.embed_series, spec, schema, engine, output, [],
                "embed")
