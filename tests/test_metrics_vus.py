"""VUS-ROC / VUS-PR against TSB-AD 1.5, and the other metrics on the same stored vectors.

``tests/data/vus_vectors.json`` was made by ``tools/make_vus_vectors.py`` from the reference
implementations (TSB-AD 1.5 and scikit-learn); this test needs neither.
"""
import json
import time
from pathlib import Path

import numpy as np
import pytest

from seqae.exceptions import InputError
from seqae.metrics import (evaluate, point_adjusted_f1, pr_auc, precision_recall_f1, range_precision,
                           range_recall, roc_auc, vus, vus_pr, vus_roc)

VECTORS = json.loads((Path(__file__).parent / "data" / "vus_vectors.json").read_text())["vectors"]
TOL = 1e-3  # the agreement required; in practice the difference is ~1e-15


def _binary(n, ranges):
    out = np.zeros(n, dtype=int)
    for start, end in ranges:
        out[start:end + 1] = 1
    return out


def _unpack(vector):
    labels = _binary(vector["n"], vector["label_ranges"])
    predictions = _binary(vector["n"], vector["prediction_ranges"])
    return labels, np.array(vector["scores"]), predictions


def test_vectors_cover_the_required_cases():
    names = {v["name"] for v in VECTORS}
    assert len(VECTORS) >= 12
    assert {"constant", "ties_5_levels", "single_points", "start_and_end"} <= names
    assert min(v["n"] for v in VECTORS) <= 200 and max(v["n"] for v in VECTORS) >= 3000


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vus_matches_tsb_ad(vector):
    labels, scores, _ = _unpack(vector)
    roc, pr = vus(labels, scores, sliding_window=vector["sliding_window"], n_thresholds=vector["n_thresholds"])
    assert roc == pytest.approx(vector["expected"]["vus_roc"], abs=TOL)
    assert pr == pytest.approx(vector["expected"]["vus_pr"], abs=TOL)
    assert vus_roc(labels, scores, vector["sliding_window"], vector["n_thresholds"]) == roc
    assert vus_pr(labels, scores, vector["sliding_window"], vector["n_thresholds"]) == pr


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_point_metrics_match_reference(vector):
    labels, scores, predictions = _unpack(vector)
    expected = vector["expected"]
    assert roc_auc(labels, scores) == pytest.approx(expected["roc_auc"], abs=1e-9)
    assert pr_auc(labels, scores) == pytest.approx(expected["pr_auc"], abs=1e-9)
    assert precision_recall_f1(labels, predictions)[2] == pytest.approx(expected["f1"], abs=1e-9)
    assert point_adjusted_f1(labels, predictions) == pytest.approx(expected["pa_f1"], abs=1e-9)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_range_metrics_match_tsb_ad(vector):
    labels, _, predictions = _unpack(vector)
    if predictions.all():
        pytest.skip("TSB-AD's range_convers_new finds no range in an all-ones vector (no 0/1 edge), so its "
                    "reference value is wrong here; test_metrics_range.py covers this case by hand")
    expected = vector["expected"]
    # TSB-AD: recall with alpha=0.2, precision with alpha=0; flat bias, reciprocal cardinality.
    assert range_recall(labels, predictions, alpha=0.2) == pytest.approx(expected["range_recall"], abs=1e-9)
    assert range_precision(labels, predictions) == pytest.approx(expected["range_precision"], abs=1e-9)
    result = evaluate(labels, np.zeros(len(labels)), predictions)
    assert result["range_f1"] == pytest.approx(expected["range_f1"], abs=1e-9)


def _example(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=int)
    for start, length in ((n // 6, n // 50), (3 * n // 5, 5), (5 * n // 6, n // 30)):
        labels[start:start + length] = 1
    scores = rng.random(n) + 0.8 * labels
    return labels, scores


def test_invariant_to_strictly_increasing_transforms():
    labels, scores = _example()
    reference = vus(labels, scores)
    for transform in (np.exp, lambda x: 10 * x + 3, lambda x: x ** 3):
        assert vus(labels, transform(scores)) == pytest.approx(reference, abs=1e-12)


def test_better_scores_score_higher():
    labels, scores = _example()
    noise = np.random.default_rng(1).random(len(labels))
    roc_good, pr_good = vus(labels, scores)
    roc_bad, pr_bad = vus(labels, noise)
    assert roc_good > roc_bad + 0.1 and pr_good > pr_bad + 0.1
    # VUS tolerates a small lag that the point-wise AUC punishes.
    lagged = np.roll(labels, 5).astype(float)
    assert vus_roc(labels, lagged, sliding_window=20) > roc_auc(labels, lagged)


def test_sliding_window_zero_is_the_border_free_range_auc():
    # With no border the soft labels are the labels; perfect scores give areas of 1.
    labels = np.r_[np.zeros(100), np.ones(20), np.zeros(80)]
    assert vus(labels, labels, sliding_window=0) == pytest.approx((1.0, 1.0))


def test_does_not_modify_inputs():
    labels, scores = _example(500)
    l0, s0 = labels.copy(), scores.copy()
    vus(labels, scores)
    assert np.array_equal(labels, l0) and np.array_equal(scores, s0)


def test_fast_on_a_long_series():
    # NAB's longest series has ~22,700 points; the benchmark scores 58 of them.
    rng = np.random.default_rng(2)
    n = 22_700
    labels = np.zeros(n, dtype=int)
    for start in rng.choice(np.arange(1000, n - 1000, 2000), size=4, replace=False):
        labels[start:start + 570] = 1
    scores = rng.random(n) + 0.5 * labels
    vus(labels, scores)  # warm-up
    t0 = time.perf_counter()
    vus(labels, scores)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0, f"VUS took {elapsed:.2f} s on {n} points"


@pytest.mark.parametrize("kwargs, match", [
    ({"sliding_window": -1}, "sliding_window"),
    ({"sliding_window": 2.5}, "sliding_window"),
    ({"sliding_window": True}, "sliding_window"),
    ({"n_thresholds": 0}, "n_thresholds"),
])
def test_bad_parameters(kwargs, match):
    labels, scores = _example(300)
    with pytest.raises(InputError, match=match):
        vus(labels, scores, **kwargs)


def test_bad_inputs():
    with pytest.raises(InputError, match="both normal"):
        vus_pr(np.zeros(10), np.arange(10.0))
    with pytest.raises(InputError, match="finite"):
        vus_roc([0, 1, 0], [0.0, np.nan, 1.0])
    with pytest.raises(InputError, match="same length"):
        vus([0, 1, 0], [0.0, 1.0])
