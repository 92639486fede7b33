"""``evaluate``: the metric set the CLI and the benchmarks use."""
import math

import numpy as np
import pytest

from seqae.exceptions import InputError
from seqae.metrics import (evaluate, point_adjusted_f1, pr_auc, precision_recall_f1, range_precision_recall_f1,
                           roc_auc, vus)

SCORE_KEYS = {"roc_auc", "pr_auc", "vus_roc", "vus_pr"}
PREDICTION_KEYS = {"precision", "recall", "f1", "range_precision", "range_recall", "range_f1",
                   "point_adjusted_f1"}


def _series(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=int)
    labels[200:230] = 1
    labels[700:705] = 1
    scores = rng.random(n) + 0.7 * labels
    return labels, scores


def test_scores_only():
    labels, scores = _series()
    result = evaluate(labels, scores)
    assert set(result) == SCORE_KEYS
    assert result["roc_auc"] == roc_auc(labels, scores)
    assert result["pr_auc"] == pr_auc(labels, scores)
    assert (result["vus_roc"], result["vus_pr"]) == vus(labels, scores, sliding_window=100)
    assert all(isinstance(v, float) for v in result.values())


def test_with_predictions():
    labels, scores = _series()
    predictions = (scores > 0.95).astype(int)
    result = evaluate(labels, scores, predictions, sliding_window=20)
    assert set(result) == SCORE_KEYS | PREDICTION_KEYS
    assert (result["vus_roc"], result["vus_pr"]) == vus(labels, scores, sliding_window=20)
    assert (result["precision"], result["recall"], result["f1"]) == precision_recall_f1(labels, predictions)
    assert (result["range_precision"], result["range_recall"], result["range_f1"]) == \
        range_precision_recall_f1(labels, predictions, alpha=0.2)
    assert result["point_adjusted_f1"] == point_adjusted_f1(labels, predictions)
    assert evaluate(labels, scores, predictions, range_alpha=0.0)["range_recall"] == \
        range_precision_recall_f1(labels, predictions, alpha=0.0)[1]


def test_series_without_anomalies_gives_nan_for_the_curves():
    scores = np.random.default_rng(1).random(300)
    predictions = (scores > 0.9).astype(int)
    result = evaluate(np.zeros(300, dtype=int), scores, predictions)
    assert all(math.isnan(result[k]) for k in SCORE_KEYS)
    assert result["precision"] == 0.0 and result["f1"] == 0.0
    # Parameters are still checked, whatever the labels.
    with pytest.raises(InputError, match="sliding_window"):
        evaluate(np.zeros(300, dtype=int), scores, sliding_window=-5)


def test_bad_inputs():
    labels, scores = _series()
    with pytest.raises(InputError, match="same length"):
        evaluate(labels, scores[:-1])
    with pytest.raises(InputError, match="same length"):
        evaluate(labels, scores, np.zeros(999, dtype=int))
    with pytest.raises(InputError, match="predictions must contain only 0 and 1"):
        evaluate(labels, scores, scores)
    with pytest.raises(InputError, match="finite"):
        evaluate(labels, np.where(labels == 1, np.nan, scores))
