"""Saving and loading fitted estimators: one file, safetensors weights plus a JSON document in its header.

The document records the file format version, the seqae version, the estimator class (from a fixed list,
never imported by name from the file), its parameters and its non-tensor fitted state. ``load`` reads only
JSON and safetensors, so a model file can never run code, and it returns either a complete model or raises
:class:`~seqae.exceptions.ModelFileError`.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from seqae._version import __version__
from seqae.exceptions import ModelFileError
from seqae.tensorfile import load_tensor_file, save_tensor_file

FORMAT = "seqae-model"
# Bump when the file layout changes incompatibly; files with a larger number are refused with a clear error,
# files with a smaller one must keep loading (tests/fixtures holds one saved by every version).
FORMAT_VERSION = 1


def _registry() -> dict[str, type]:
    # Imported here: the estimators import this module for their save() methods.
    from seqae.autoencoder import LSTMAutoencoder
    from seqae.detection import AnomalyDetector, SequenceAnomalyDetector
    return {cls.__name__: cls for cls in (LSTMAutoencoder, AnomalyDetector, SequenceAnomalyDetector)}


def _json_safe(value):
    """Parameters as JSON: generators and other objects become None (they cannot be restored anyway)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return None


def save(estimator, path: str | os.PathLike) -> None:
    """Write a fitted estimator to ``path`` atomically (temporary file, then rename).

    Examples
    --------
    >>> ae.save("model.seqae")          # doctest: +SKIP
    >>> ae2 = seqae.load("model.seqae")  # doctest: +SKIP
    """
    name = type(estimator).__name__
    if name not in _registry():
        raise TypeError(f"cannot save a {name}; seqae saves {sorted(_registry())}")
    state, tensors = estimator._get_state()
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "seqae_version": __version__, "class": name,
           "params": {k: _json_safe(v) for k, v in estimator.get_params(deep=False).items()}, "state": state}
    try:
        json.dumps(doc, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"cannot save: fitted state is not JSON-serialisable ({exc})") from None
    save_tensor_file(path, tensors, doc)


def load(path: str | os.PathLike, *, device: str | None = None):
    """Load a model saved by :func:`save` (or ``estimator.save``).

    Parameters
    ----------
    path : path to the file
    device : str, optional
        Override the device the model was saved with (e.g. "cpu" to load a GPU-trained model on a laptop).
        By default the saved ``device`` parameter is used ("auto" picks CUDA when available).

    Raises
    ------
    ModelFileError
        Missing, truncated or corrupted file, not a seqae model, a newer format, or weights that do not match
        the recorded parameters. Nothing half-loaded is ever returned.
    """
    where = str(Path(path))
    tensors, doc = load_tensor_file(path, what="seqae model file")
    if doc.get("format") != FORMAT:
        raise ModelFileError(f"{where!r} is not a seqae model file (format {doc.get('format')!r})")
    version = doc.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{where!r}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{where!r} was saved by seqae {doc.get('seqae_version')} in model format {version}; "
                             f"this seqae ({__version__}) reads format {FORMAT_VERSION} and older: upgrade seqae")
    cls = _registry().get(doc.get("class"))
    if cls is None:
        raise ModelFileError(f"{where!r}: unknown estimator class {doc.get('class')!r}")
    params = doc.get("params")
    if not isinstance(params, dict) or not set(params) <= set(cls().get_params(deep=False)):
        raise ModelFileError(f"{where!r}: parameters do not match {cls.__name__} "
                             f"(unknown: {sorted(set(params or {}) - set(cls().get_params(deep=False)))})")
    if device is not None:
        params = {**params, "device": device}
    try:
        estimator = cls(**params)
        estimator._set_state(doc["state"], tensors)
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        # RuntimeError: load_state_dict on shape or name mismatches, i.e. a header that lies about the weights.
        raise ModelFileError(f"{where!r}: the weights or state do not match the recorded model "
                             f"({type(exc).__name__}: {str(exc).splitlines()[0][:300]})") from None
    return estimator
