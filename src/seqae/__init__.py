"""seqae: LSTM sequence autoencoders, correct on variable-length sequences.

Two jobs: anomaly detection in time series (:class:`AnomalyDetector`) and fixed-length embeddings of
collections of variable-length sequences (:class:`LSTMAutoencoder`, a scikit-learn transformer).
"""
from seqae._version import __version__
from seqae.autoencoder import LSTMAutoencoder
from seqae.detection import AnomalyDetector, SequenceAnomalyDetector
from seqae.embedding import ConcatPooling
from seqae.exceptions import DataFileError, InputError, ModelFileError, SeqaeError, TrainingError
from seqae.persistence import load, save

__all__ = ["AnomalyDetector", "ConcatPooling", "DataFileError", "InputError", "LSTMAutoencoder", "SequenceAnomalyDetector", "ModelFileError", "SeqaeError", "TrainingError",
           "__version__", "load", "save"]
