"""Saving and loading fitted estimators: one file, safetensors weights plus a JSON document in its header.

The document records the file format version, the seqae version, the estimator class and the seqae module that
defines it, its parameters and its non-tensor fitted state. Each estimator describes its own state and registers
itself here (``@register``), so this module imports no estimator: ``load`` imports the recorded module (a module
of the ``seqae`` package, nothing else), then takes the class from the registry, never from the file's text. ``load`` reads only
JSON and safetensors, so a model file can never run code, and it returns either a complete model or raises
:class:`~seqae.exceptions.ModelFileError`: the file's checksum is verified, every weight must be finite, and
the tensors' names, shapes and dtypes must be exactly those the recorded parameters need (checked on the
meta device before anything is allocated).
"""
from __future__ import annotations

import importlib
import importlib.util
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


# class name -> class, filled by @register as the estimator modules are imported
_REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: ``cls`` can be saved and loaded.

    The class provides ``get_params`` (scikit-learn), ``_get_state() -> (document, tensors)`` (its fitted state:
    JSON values and named tensors), ``_set_state(document, tensors)`` (the reverse, on an unfitted instance made
    from the saved parameters) and optionally ``_tensor_specs(document)`` (name -> (shape, dtype) of every tensor
    the file must hold, shape None for any 1-D length), which lets ``load`` refuse a file whose weights do not
    match its parameters before building anything.

    Examples
    --------
    >>> from seqae import persistence
    >>> @persistence.register                                   # doctest: +SKIP
    ... class MyEstimator(BaseEstimator):
    ...     def _get_state(self): return {"n_features_in_": self.n_features_in_}, {"w": self.w_}
    ...     def _set_state(self, doc, tensors): self.n_features_in_, self.w_ = doc["n_features_in_"], tensors["w"]
    """
    for method in ("get_params", "_get_state", "_set_state"):
        if not callable(getattr(cls, method, None)):
            raise TypeError(f"{cls.__name__} cannot be registered for saving: it has no {method}()")
    if not cls.__module__.startswith("seqae."):
        raise TypeError(f"{cls.__name__}: only classes of the seqae package are registered "
                        f"(load imports the module a file names, within seqae only)")
    known = _REGISTRY.get(cls.__name__)
    if known is not None and known.__module__ != cls.__module__:
        raise TypeError(f"two estimators named {cls.__name__}: {known.__module__} and {cls.__module__}")
    _REGISTRY[cls.__name__] = cls
    return cls


def registered() -> dict[str, type]:
    """The estimator classes that can be saved, by name (those whose modules were imported)."""
    return dict(_REGISTRY)


def _class_of(name, module) -> type | None:
    """The registered class ``name``, importing ``module`` first (only a module of the seqae package) when the
    class is not registered yet: ``import seqae`` is lazy, so the estimator's module may never have been
    imported. Files written before the module was recorded name a public class of ``seqae``."""
    if not isinstance(name, str):
        return None
    if module is None:                                # written before the module was recorded
        import seqae                                  # the package only, for its name -> module table
        importing = seqae._LAZY.get(name)
    else:
        importing = module
    if name not in _REGISTRY:
        if not isinstance(importing, str) or not importing.startswith("seqae.") or not all(
                part.isidentifier() for part in importing.split(".")):
            return None
        try:
            found = importlib.util.find_spec(importing) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return None
        importlib.import_module(importing)
    cls = _REGISTRY.get(name)
    return cls if cls is not None and (module is None or cls.__module__ == module) else None


def _json_safe(value):
    """Parameters as JSON: generators and other objects become None (they cannot be restored anyway)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        items = [_json_safe(v) for v in value]
        # a list holding objects (ConcatPooling's estimators) is not a value: the estimator's state restores it
        return None if any(x is None and v is not None for x, v in zip(items, value)) else items
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
    cls = type(estimator)
    name = cls.__name__
    if _REGISTRY.get(name) is not cls:
        raise TypeError(f"cannot save a {name}; seqae saves {sorted(_REGISTRY)}")
    state, tensors = estimator._get_state()
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "seqae_version": __version__, "class": name,
           "module": cls.__module__,
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
    cls = _class_of(name, doc.get("module"))
    if cls is None:
        raise ModelFileError(f"{where!r}: unknown estimator class {name!r} (module {doc.get('module')!r}): not "
                             "an estimator of this seqae; a file from a newer seqae needs that version")
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
        if hasattr(estimator, "_tensor_specs"):
            _check_tensors(where, tensors, estimator._tensor_specs(state))
        estimator._set_state(state, tensors)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, OverflowError, AttributeError,
            MemoryError) as exc:
        # RuntimeError: load_state_dict on shape or name mismatches, i.e. a header that lies about the weights.
        raise ModelFileError(f"{where!r}: the weights or state do not match the recorded model "
                             f"({type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''})") from None
    return estimator
