"""seqae: LSTM sequence autoencoders, correct on variable-length sequences.

Two jobs: anomaly detection in time series (:class:`AnomalyDetector`) and fixed-length embeddings of
collections of variable-length sequences (:class:`LSTMAutoencoder`, a scikit-learn transformer).

The estimators are imported on first use (``seqae.AnomalyDetector`` imports torch then), so that ``import seqae``
and the ``seqae`` command start at once.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from seqae._version import __version__
from seqae.exceptions import DataFileError, InputError, ModelFileError, SeqaeError, TrainingError

# public name -> the module that defines it
_LAZY = {
    "LSTMAutoencoder": "seqae.autoencoder",
    "AnomalyDetector": "seqae.detection",
    "SequenceAnomalyDetector": "seqae.detection",
    "ConcatPooling": "seqae.embedding",
    "load": "seqae.persistence",
    "save": "seqae.persistence",
    "detect_many": "seqae.many",
    "score_many": "seqae.many",
    "embed_many": "seqae.many",
}

if TYPE_CHECKING:
    from seqae.autoencoder import LSTMAutoencoder
    from seqae.detection import AnomalyDetector, SequenceAnomalyDetector
    from seqae.embedding import ConcatPooling
    from seqae.many import detect_many, embed_many, score_many
    from seqae.persistence import load, save

__all__ = ["AnomalyDetector", "ConcatPooling", "DataFileError", "InputError", "LSTMAutoencoder", "ModelFileError",
           "SeqaeError", "SequenceAnomalyDetector", "TrainingError", "__version__", "detect_many", "embed_many", "load",
           "save", "score_many"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'seqae' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value            # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
