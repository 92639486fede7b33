"""The work done on one series (the rows of one id), as plain functions of a pandas frame: what the engines run.

Each returns the series' rows with their results, or, when the series fails (too short, all missing, a
training error), one row that carries the error in ``error``: one failed series never stops the job.
Everything a function needs comes in ``spec`` (a dict of plain values, so that it travels to workers).
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

from seqae.exceptions import InputError
from seqae.many._engine import ERROR, ROW, order_rows, series_seed

EVENT = "event"          # 1-based number of the event a point belongs to within its series; 0: none
THRESHOLD = "threshold"  # the threshold the series was labelled with (severity of its events = peak / it)


def _message(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _failed(group: pd.DataFrame, exc: BaseException, spec: dict, extra: dict[str, Any]) -> pd.DataFrame:
    """One row for a failed series: its id, its first row's time and position, NaN results, the error."""
    row = group.iloc[:1].copy()
    for name in spec["values"]:
        row[name] = np.nan
    for name, value in extra.items():
        row[name] = value
    row[ERROR] = _message(exc)
    return row.reset_index(drop=True)


def _scored(group: pd.DataFrame, detector, detected: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """The series' rows with score, label, event number, threshold and (several channels) contributions."""
    out = group.copy()
    out["score"] = detected["score"].to_numpy(np.float64)
    out["label"] = detected["label"].to_numpy(np.int64)
    event = np.zeros(len(group), dtype=np.int64)
    for k, (start, end) in enumerate(zip(*detector.events_of(detected)[["start_pos", "end_pos"]].to_numpy().T)):
        event[start:end + 1] = k + 1
    out[EVENT] = event
    out[THRESHOLD] = float(detector.threshold_)
    for name in spec["contributions"]:
        out[name] = detected[name].to_numpy(np.float64)
    out[ERROR] = None
    return out


def series_events(series: pd.DataFrame, by: str, time: str | None, contributions: list[str]) -> pd.DataFrame:
    """One series' events (its id, then :data:`~seqae.events.EVENT_COLUMNS`), rebuilt from its scored rows'
    event numbers with the function the detector uses: the same whether the driver or a worker calls it."""
    from seqae.events import EVENT_COLUMNS, events_frame

    event = series[EVENT].to_numpy()
    numbers = np.unique(event[event > 0])
    runs = np.array([[np.flatnonzero(event == k)[0], np.flatnonzero(event == k)[-1]] for k in numbers],
                    dtype=np.int64).reshape(-1, 2)
    names = [c.removeprefix("contribution_") for c in contributions]
    frame = events_frame(runs, series["score"].to_numpy(np.float64), float(series[THRESHOLD].iloc[0]),
                         index=pd.Index(series[time]) if time else None,
                         contributions=series[contributions].to_numpy(np.float64) if contributions else None,
                         channels=names or None)
    frame.insert(0, by, series[by].iloc[0])
    return frame[[by] + list(EVENT_COLUMNS)]


def _failed_scores(group: pd.DataFrame, exc: BaseException, spec: dict) -> pd.DataFrame:
    extra = {"score": np.nan, "label": 0, EVENT: 0, THRESHOLD: np.nan}
    extra.update({name: np.nan for name in spec["contributions"]})
    return _failed(group, exc, spec, extra)


def _with_events(out: pd.DataFrame, spec: dict) -> pd.DataFrame:
    # With output=, the worker makes the series' events too, so that they need no pass on the driver.
    if not spec.get("with_events"):
        return out
    from seqae.many._output import with_events

    return with_events(out, spec)


def detect_series(group: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Fit a detector on the first part of one series (seeded from its id) and score all its rows."""
    from seqae.detection import AnomalyDetector
    from seqae.detection.series import training_rows

    group = order_rows(group, spec["time"])
    try:
        seed = series_seed(group[spec["by"]].iloc[0], spec["random_state"])
        detector = AnomalyDetector(**spec["params"], random_state=seed)
        values = group[spec["values"]].reset_index(drop=True)
        n_train = training_rows(len(values), spec["train_fraction"])
        if n_train < detector.window:
            raise InputError(f"the training part (the first {spec['train_fraction']:g} of {len(values)} rows) has "
                             f"{n_train} rows, fewer than the window ({detector.window}); use a larger "
                             "train_fraction, a smaller window or a longer series")
        detector.fit(values.iloc[:n_train])
        out = _scored(group, detector, detector.detect(values), spec)
    except Exception as exc:  # noqa: BLE001 - any failure of one series is reported in its row, the job goes on
        out = _failed_scores(group, exc, spec)
    return _with_events(out, spec)


@functools.lru_cache(maxsize=4)
def _load(path: str, num_threads):
    """A saved model, loaded once per worker process (each series would otherwise read the file again)."""
    from seqae.persistence import load

    model = load(path)
    return model.set_params(num_threads=num_threads)


def _model(spec: dict):
    model = spec["model"]
    return _load(model, spec["num_threads"]) if isinstance(model, str) else model


def score_series(group: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Score one series with one saved detector."""
    group = order_rows(group, spec["time"])
    try:
        detector = _model(spec)
        out = _scored(group, detector, detector.detect(group[spec["values"]].reset_index(drop=True)), spec)
    except Exception as exc:  # noqa: BLE001 - reported in the series' row
        out = _failed_scores(group, exc, spec)
    return _with_events(out, spec)


def embed_series(group: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """One row for one sequence: its id, its first row's position, the embedding and its reconstruction error."""
    group = order_rows(group, spec["time"])
    keep = [spec["by"]] + ([ROW] if ROW in group.columns else [])
    try:
        model = _model(spec)
        values = [group[spec["values"]].to_numpy(np.float64)]
        z = model.transform(values)[0]
        error = float(model.reconstruction_error(values)[0])
        row = group[keep].iloc[:1].reset_index(drop=True)
        for j, name in enumerate(spec["embedding"]):
            row[name] = float(z[j])
        row["reconstruction_error"] = error
        row[ERROR] = None
    except Exception as exc:  # noqa: BLE001 - reported in the sequence's row
        row = group[keep].iloc[:1].reset_index(drop=True)
        for name in spec["embedding"] + ["reconstruction_error"]:
            row[name] = np.nan
        row[ERROR] = _message(exc)
    if spec.get("with_kind"):    # output=: the row marked for the writers (see seqae.many._output)
        from seqae.many._output import with_kind

        return with_kind(row, spec)
    return row
