"""benchmarks/forecast_mix.py: its parts reproduce the detector's own score (rule "r"), and its synthetic spikes
are where they say."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import forecast_mix  # noqa: E402


def test_the_rules_are_the_detectors_scores_and_the_margin_lifts_spikes():
    """Rule "r" is the detector's score without the margin, "tail1x2" with forecast_margin=2 (the default):
    the study's parts (cached from fits with forecast_margin=None) and the library agree."""
    from seqae import AnomalyDetector
    from seqae.metrics import pr_auc

    case = forecast_mix.spike_cases(count=1, n=1200, n_train=400)[0]
    det = AnomalyDetector(random_state=0, num_threads=1, forecast_margin=None)   # smaller does not learn a step
    det.fit(case.values[:case.n_train])
    train = det._validate(case.values[:case.n_train], fitted=True)
    whole = det._validate(case.values, fitted=True)
    parts = forecast_mix._parts(det, *det._error_parts(whole, forecast=True, novelty=True))
    train_parts = forecast_mix._parts(det, *det._training_parts(train))
    scores = {rule: forecast_mix.RULES[rule](parts, train_parts) for rule in ("r", "tail1x2")}
    np.testing.assert_allclose(scores["r"], det.decision_function(case.values), rtol=1e-9, atol=1e-12)
    det.set_params(forecast_margin=2.0)
    det._calibrate(*det._training_parts(train))
    np.testing.assert_allclose(scores["tail1x2"], det.decision_function(case.values), rtol=1e-9, atol=1e-12)
    # the margin ranks the spikes higher than the reconstruction score does (the study's point)
    spikes = np.flatnonzero(case.labels)
    assert len(spikes) == 6 and spikes.min() >= 800
    after = slice(case.eval_from, None)
    assert pr_auc(case.labels[after], scores["tail1x2"][after]) > pr_auc(case.labels[after], scores["r"][after]) + 0.1


def test_spikes_whole_is_the_same_series_fitted_and_evaluated_whole():
    part, whole = forecast_mix.spike_cases(count=1)[0], forecast_mix.spike_cases(count=1, n_train=None)[0]
    assert (whole.group, whole.n_train, whole.eval_from) == ("spikes-whole", len(whole.values), 0)
    np.testing.assert_array_equal(whole.labels, part.labels)
    np.testing.assert_allclose(whole.values.mean(), 0.0, atol=1e-12)       # standardised on all of it
    # the same series up to the standardisation
    np.testing.assert_allclose(np.corrcoef(whole.values[:, 0], part.values[:, 0])[0, 1], 1.0)
