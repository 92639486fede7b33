"""benchmarks/forecast_mix.py: its parts reproduce the detector's own score (rule "r"), and its synthetic spikes
are where they say."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import forecast_mix  # noqa: E402


def test_rule_r_is_the_detectors_score_and_tail_lifts_a_spike():
    from seqae import AnomalyDetector

    case = forecast_mix.spike_cases(count=1, n=1200, n_train=400)[0]
    det = AnomalyDetector(random_state=0, num_threads=1)   # a smaller model does not learn the next step
    det.fit(case.values[:case.n_train])
    train = det._validate(case.values[:case.n_train], fitted=True)
    whole = det._validate(case.values, fitted=True)
    parts = forecast_mix._parts(det, *det._error_parts(whole, forecast=True, novelty=True))
    train_parts = forecast_mix._parts(det, *det._training_parts(train))
    np.testing.assert_allclose(forecast_mix.RULES["r"](parts, train_parts), det.decision_function(case.values),
                               rtol=1e-9, atol=1e-12)
    assert det.forecast_weight == 0.0                    # _parts leaves the detector as it found it
    # the tail rule ranks the spikes higher than the reconstruction score does (the study's point)
    from seqae.metrics import pr_auc
    spikes = np.flatnonzero(case.labels)
    assert len(spikes) == 6 and spikes.min() >= 800
    after = slice(case.eval_from, None)
    scores = {rule: forecast_mix.RULES[rule](parts, train_parts)[after] for rule in ("r", "tail1")}
    assert pr_auc(case.labels[after], scores["tail1"]) > pr_auc(case.labels[after], scores["r"]) + 0.1
