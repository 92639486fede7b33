"""Evaluation metrics for time-series anomaly scores and detections.

Threshold-free, on anomaly scores:

* :func:`roc_auc`, :func:`pr_auc`: point-wise ROC-AUC and average precision;
* :func:`vus_roc`, :func:`vus_pr`, :func:`vus`: Volume Under the Surface (Paparrizos et al., VLDB 2022),
  identical to TSB-AD 1.5's implementation.

Threshold-dependent, on binary detections:

* :func:`precision_recall_f1`: point-wise;
* :func:`range_precision`, :func:`range_recall`, :func:`range_precision_recall_f1`: range-based
  (Tatbul et al., NeurIPS 2018);
* :func:`point_adjust`, :func:`point_adjusted_f1`: point-adjusted F1, which inflates results (see there);
* :func:`nab_score`, :func:`nab_normalize`: the NAB score, with :func:`windows_to_labels` and
  :func:`windows_to_indices` for NAB's timestamp windows.

:func:`evaluate` computes the usual set at once; it is what ``seqae evaluate`` and the benchmarks call.
All functions are pure: they validate their inputs, raise :class:`~seqae.exceptions.InputError` on bad
ones, and never modify them.
"""
from __future__ import annotations

from seqae.metrics._evaluate import evaluate
from seqae.metrics.nab import (NAB_PROFILES, NABProfile, NABSeriesScore, load_nab_profiles, nab_normalize,
                               nab_profile, nab_score, windows_to_indices, windows_to_labels)
from seqae.metrics.point import point_adjust, point_adjusted_f1, pr_auc, precision_recall_f1, roc_auc
from seqae.metrics.range_based import range_precision, range_precision_recall_f1, range_recall
from seqae.metrics.vus import vus, vus_pr, vus_roc

__all__ = [
    "NAB_PROFILES", "NABProfile", "NABSeriesScore", "evaluate", "load_nab_profiles", "nab_normalize",
    "nab_profile", "nab_score", "point_adjust", "point_adjusted_f1", "pr_auc", "precision_recall_f1",
    "range_precision", "range_precision_recall_f1", "range_recall", "roc_auc", "vus", "vus_pr", "vus_roc",
    "windows_to_indices", "windows_to_labels",
]
