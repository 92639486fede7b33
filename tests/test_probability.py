"""predict_proba and predict_confidence, as PyOD defines them, on both detectors."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf
from scipy.stats import binom

from seqae import AnomalyDetector, SequenceAnomalyDetector
from seqae.detection.probability import label_confidence, outlier_probability


def test_linear_and_unify_follow_their_definitions():
    train = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    s = np.array([0.0, 1.0, 3.0, 5.0, 9.0])
    np.testing.assert_allclose(outlier_probability(train, s, "linear"), [0, 0, 0.5, 1, 1])
    want = np.clip(erf((s - 3.0) / (train.std() * np.sqrt(2))), 0, 1)
    np.testing.assert_allclose(outlier_probability(train, s, "unify"), want)
    assert outlier_probability(train, s, "unify")[2] == 0.0          # the training mean: not an outlier at all
    with pytest.raises(ValueError, match="method must be one of 'linear', 'unify', got 'rank'"):
        outlier_probability(train, s, "rank")


def test_confidence_is_exceeds_binomial_rule():
    train = np.arange(100.0)
    s = np.array([10.0, 99.5, 200.0])
    labels = np.array([0, 1, 1])
    got = label_confidence(train, s, labels, contamination=0.05)
    k = np.array([11, 100, 100])
    outlier = 1 - binom.cdf(95, 100, (1 + k) / 102)
    np.testing.assert_allclose(got, [1 - outlier[0], outlier[1], outlier[2]])
    assert got[0] > 0.99                          # deep among the training scores, labelled 0: confident
    assert 0 <= got.min() and got.max() <= 1


def _series(n=700, seed=0):
    rng = np.random.default_rng(seed)
    x = np.sin(np.arange(n) / 6.0) + 0.05 * rng.normal(size=n)
    x[600:610] += 4.0
    return x


def test_detectors_give_probabilities_and_confidences_consistent_with_their_labels():
    x = _series()
    det = AnomalyDetector(window=16, epochs=3, min_steps=None, random_state=0, threshold="quantile").fit(x[:400])
    proba = det.predict_proba(x)
    assert proba.shape == (len(x), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    scores = det.decision_function(x)
    assert np.all(np.diff(proba[np.argsort(scores), 1]) >= -1e-12)      # monotone in the score
    proba_u, conf = det.predict_proba(x, method="unify", return_confidence=True)
    np.testing.assert_allclose(conf, det.predict_confidence(x))
    labels = det.predict(x)
    assert labels[600:610].any() and conf[labels == 1].min() >= 0 and conf.max() <= 1
    # Far above every training score: surely an outlier, and confidently so.
    top = int(np.argmax(scores))
    assert proba[top, 1] == 1.0 and proba_u[top, 1] > 0.99 and conf[top] > 0.95

    seqs = [np.sin(np.arange(30)[:, None] / (3 + i % 4)) for i in range(24)]
    sdet = SequenceAnomalyDetector(epochs=2, min_steps=None, random_state=0).fit(seqs)
    assert sdet.predict_proba(seqs).shape == (24, 2)
    assert sdet.predict_confidence(seqs).shape == (24,)


def test_unfitted_detectors_say_so():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AnomalyDetector().predict_proba(np.zeros(100))
    with pytest.raises(NotFittedError):
        AnomalyDetector().predict_confidence(np.zeros(100))
