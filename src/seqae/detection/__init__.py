"""Anomaly detectors with PyOD's contract (higher score = more abnormal; ``threshold_``, ``labels_``, ``predict``)."""
from seqae.detection.sequences import SequenceAnomalyDetector
from seqae.detection.series import AnomalyDetector

__all__ = ["AnomalyDetector", "SequenceAnomalyDetector"]
