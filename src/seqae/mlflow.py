"""An MLflow pyfunc flavour for a fitted :class:`~seqae.AnomalyDetector`: log it, load it with
``mlflow.pyfunc.load_model``, and ``predict`` on a DataFrame gives every row's score, label and event.

The detector travels as its own model file (safetensors + JSON, no pickle) among the MLflow model's artifacts; the
pyfunc wrapper is "models from code" (:mod:`seqae._mlflow_model`), so nothing is pickled either.

Needs the ``mlflow`` extra: ``pip install "seqae[mlflow]"`` (mlflow-skinny, which the full mlflow package
includes).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

OUTPUTS = ("points", "events")
ARTIFACT = "detector"    # the detector file's name among the MLflow model's artifacts


def _mlflow():
    try:
        import mlflow
    except ImportError:
        raise ImportError('the MLflow flavour needs mlflow: pip install "seqae[mlflow]"') from None
    return mlflow


def predict_frame(detector, frame: pd.DataFrame, output: str = "points") -> pd.DataFrame:
    """What the pyfunc's ``predict`` returns for a fitted detector and a DataFrame of its columns.

    ``output="points"``: one row per input row (the input's index) with ``score``, ``label`` and ``event``
    (the number of the event the row belongs to, in time order from 0; -1 outside every event).
    ``output="events"``: :meth:`~seqae.AnomalyDetector.detect_events`'s table.
    """
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    detected = detector.detect(frame)
    events = detector.events_of(detected)
    if output == "events":
        return events
    event = np.full(len(detected), -1, dtype=np.int64)
    for number, (start, end) in enumerate(zip(events["start_pos"], events["end_pos"])):
        event[start:end + 1] = number
    return pd.DataFrame({"score": detected["score"].to_numpy(), "label": detected["label"].to_numpy(),
                         "event": event}, index=detected.index)


def _signature(detector):
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    inputs = Schema([ColSpec("double", str(name)) for name in detector.feature_names_in_])
    outputs = Schema([ColSpec("double", "score"), ColSpec("long", "label"), ColSpec("long", "event")])
    return ModelSignature(inputs=inputs, outputs=outputs, params=ParamSchema([ParamSpec("output", "string", "points")]))


def _check(detector) -> None:
    from sklearn.utils.validation import check_is_fitted

    from seqae.detection.series import AnomalyDetector
    if not isinstance(detector, AnomalyDetector):
        raise TypeError(f"the seqae MLflow flavour takes a fitted AnomalyDetector, got a {type(detector).__name__}")
    check_is_fitted(detector, "threshold_")


def _requirements() -> list[str]:
    from seqae._version import __version__
    return [f"seqae=={__version__}", "mlflow-skinny"]


def save_model(detector, path: str | os.PathLike, **kwargs) -> None:
    """Save a fitted detector as an MLflow model in the folder ``path`` (which must not exist).

    Other keyword arguments go to ``mlflow.pyfunc.save_model`` (``metadata``, ``pip_requirements``, ...).

    Examples
    --------
    >>> import mlflow, seqae.mlflow                                  # doctest: +SKIP
    >>> seqae.mlflow.save_model(det, "taxi_model")                   # doctest: +SKIP
    >>> model = mlflow.pyfunc.load_model("taxi_model")               # doctest: +SKIP
    >>> model.predict(frame)                                         # doctest: +SKIP  score, label, event
    >>> model.predict(frame, params={"output": "events"})            # doctest: +SKIP
    """
    _check(detector)
    mlflow = _mlflow()
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "detector.seqae"
        detector.save(file)
        mlflow.pyfunc.save_model(path, **_model_arguments(detector, file, kwargs))


def log_model(detector, name: str = "model", **kwargs):
    """Log a fitted detector to the active MLflow run (one is started if none is) as a pyfunc model named
    ``name``; returns MLflow's ``ModelInfo`` (its ``model_uri`` loads it back). Other keyword arguments go to
    ``mlflow.pyfunc.log_model``."""
    _check(detector)
    mlflow = _mlflow()
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "detector.seqae"
        detector.save(file)
        return mlflow.pyfunc.log_model(name=name, **_model_arguments(detector, file, kwargs))


def _model_arguments(detector, file: Path, kwargs: dict) -> dict:
    code = Path(__file__).with_name("_mlflow_model.py")
    return {"python_model": str(code), "artifacts": {ARTIFACT: str(file)}, "signature": _signature(detector),
            "pip_requirements": _requirements(), **kwargs}
