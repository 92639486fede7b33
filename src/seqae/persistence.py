"""Saving and loading fitted estimators: one file, safetensors weights plus a JSON document in its header.

The document records the file format version, the seqae version, the estimator class (from a fixed list,
never imported by name from the file), its parameters and its non-tensor fitted state. ``load`` reads only
JSON and safetensors, so a model file can never run code, and it returns either a complete model or raises
:class:`~seqae.exceptions.ModelFileError`: the file's checksum is verified, every weight must be finite, and
the tensors' names, shapes and dtypes must be exactly those the recorded parameters need (checked on the
meta device before anything is allocated).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import torch

from seqae._params import resolve_device
from seqae._version import __version__
from seqae.exceptions import ModelFileError
from seqae.tensorfile import load_tensor_file, save_tensor_file
from seqae.training.checkpoint import CHECKPOINT_FORMAT

FORMAT = "seqae-model"
# Bump when the file layout changes incompatibly; files with a larger number are refused with a clear error,
# files with a smaller one must keep loading (tests/fixtures holds one saved by every version).
FORMAT_VERSION = 1


def _registry() -> dict[str, type]:
    # Imported here: the estimators import this module for their save() methods. A fixed list: the class
    # named in a file is looked up here, never imported by name.
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
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _json_safe(v) for k, v in value.items()}  # threshold_params: lost before, so get_params lied
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


def _check_document(where: str):
    """The checks that must come before the checksum: a newer format may checksum differently."""
    def check(doc: dict) -> None:
        if doc.get("format") == CHECKPOINT_FORMAT:
            raise ModelFileError(f"{where!r} is a training checkpoint, not a model file; resume it with "
                                 "fit(..., checkpoint=path), then save the fitted model")
        if doc.get("format") != FORMAT:
            raise ModelFileError(f"{where!r} is not a seqae model file (format {doc.get('format')!r})")
        version = doc.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ModelFileError(f"{where!r}: invalid format_version {version!r}")
        if version > FORMAT_VERSION:
            raise ModelFileError(f"{where!r} was saved by seqae {doc.get('seqae_version')} in model format "
                                 f"{version}; this seqae ({__version__}) reads format {FORMAT_VERSION} and older: "
                                 "upgrade seqae")
    return check


def _autoencoder_tensor_specs(estimator, state: dict) -> dict[str, tuple[tuple[int, ...] | None, torch.dtype]]:
    """Name -> (shape, dtype) of every tensor an LSTMAutoencoder with these parameters needs.

    The module is built on the meta device, so nothing is allocated: a file whose parameters ask for a huge
    model is refused before any memory is spent on it.
    """
    from seqae.nn.autoencoder import SequenceAutoencoder

    n_features = state.get("n_features_in_")
    if not isinstance(n_features, int) or isinstance(n_features, bool) or n_features < 1:
        raise ValueError(f"invalid n_features_in_ {n_features!r}")
    with torch.device("meta"):
        reference = SequenceAutoencoder(estimator._module_config(n_features))
    specs = {f"module.{k}": (tuple(v.shape), v.dtype) for k, v in reference.state_dict().items()}
    specs["scaler.mean"] = ((n_features,), torch.float64)
    specs["scaler.scale"] = ((n_features,), torch.float64)
    return specs


def _tensor_specs(estimator, state: dict) -> dict[str, tuple[tuple[int, ...] | None, torch.dtype]] | None:
    """The tensors an estimator's file must hold (shape None: any 1-D length), or None if not known here."""
    from seqae.autoencoder import LSTMAutoencoder

    if isinstance(estimator, LSTMAutoencoder):
        return _autoencoder_tensor_specs(estimator, state)
    if hasattr(estimator, "_make_autoencoder"):  # the detectors: an autoencoder under "ae." plus their scores
        inner = state.get("autoencoder")
        if not isinstance(inner, dict):
            raise ValueError("no autoencoder state")
        autoencoder = estimator._make_autoencoder()
        autoencoder._check_params()
        specs = {f"ae.{k}": v for k, v in _autoencoder_tensor_specs(autoencoder, inner).items()}
        specs["decision_scores_"] = (None, torch.float64)
        return specs
    return None


def _check_tensors(where: str, tensors: dict, specs: dict) -> None:
    missing = sorted(set(specs) - set(tensors))
    unexpected = sorted(set(tensors) - set(specs))
    if missing or unexpected:
        raise ModelFileError(f"{where!r}: the tensors do not match the recorded model (missing: {missing[:5]}, "
                             f"unexpected: {unexpected[:5]})")
    for name, (shape, dtype) in specs.items():
        t = tensors[name]
        if (t.dim() != 1 if shape is None else tuple(t.shape) != shape) or t.dtype != dtype:
            need = "a 1-D shape" if shape is None else f"shape {shape}"
            raise ModelFileError(f"{where!r}: tensor {name!r} has shape {tuple(t.shape)} and dtype "
                                 f"{str(t.dtype).removeprefix('torch.')} in the file, but the recorded parameters "
                                 f"need {need} and dtype {str(dtype).removeprefix('torch.')}")


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
    tensors, doc = load_tensor_file(path, what="seqae model file", check_document=_check_document(where))
    name = doc.get("class")
    cls = _registry().get(name) if isinstance(name, str) else None
    if cls is None:
        raise ModelFileError(f"{where!r}: unknown estimator class {name!r}; seqae loads {sorted(_registry())}")
    params = doc.get("params")
    if not isinstance(params, dict):
        raise ModelFileError(f"{where!r}: no parameter table for {cls.__name__}")
    known = set(cls().get_params(deep=False))
    if not set(params) <= known:
        raise ModelFileError(f"{where!r}: parameters do not match {cls.__name__} "
                             f"(unknown: {sorted(set(params) - known)})")
    state = doc.get("state")
    if not isinstance(state, dict):
        raise ModelFileError(f"{where!r}: no fitted state for {cls.__name__}")
    for key, t in tensors.items():
        # Via float64: isfinite is not implemented for every dtype safetensors can hold (float8, for one).
        if t.is_floating_point() and not bool(torch.isfinite(t.to(torch.float64)).all()):
            raise ModelFileError(f"{where!r}: tensor {key!r} holds NaN or inf values")
    if device is not None:
        params = {**params, "device": device}
    # Files saved before a parameter existed are loaded with the value that reproduces them, not the new default.
    params = {**{k: v for k, v in getattr(cls, "_legacy_params", {}).items() if k in known}, **params}
    try:
        estimator = cls(**params)
        if hasattr(estimator, "_check_params"):
            estimator._check_params()
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{where!r}: invalid parameters for {cls.__name__} "
                             f"({str(exc).splitlines()[0][:300]})") from None
    saved_device = getattr(estimator, "device", "auto")
    try:
        resolve_device(saved_device)
    except ValueError as exc:
        raise ModelFileError(f"{where!r}: {exc}; pass load(path, device='cpu') to load it here") from None
    try:
        specs = _tensor_specs(estimator, state)
        if specs is not None:
            _check_tensors(where, tensors, specs)
        estimator._set_state(state, tensors)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, OverflowError, AttributeError,
            MemoryError) as exc:
        # RuntimeError: load_state_dict on shape or name mismatches, i.e. a header that lies about the weights.
        raise ModelFileError(f"{where!r}: the weights or state do not match the recorded model "
                             f"({type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''})") from None
    return estimator
