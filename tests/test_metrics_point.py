"""Point-wise metrics: ROC-AUC, PR-AUC, precision/recall/F1 and point adjustment."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

from seqae.exceptions import InputError
from seqae.metrics import point_adjust, point_adjusted_f1, pr_auc, precision_recall_f1, roc_auc


def test_roc_auc_hand_computed():
    # Ranked: 0.8 (1), 0.4 (0), 0.35 (1), 0.1 (0): of the 4 positive/negative pairs, 3 are ordered right.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)


def test_pr_auc_hand_computed():
    # Precision at each positive: 1/1 and 2/3; each adds recall 1/2.
    assert pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_ties_are_one_threshold():
    # All tied: the ROC curve is the diagonal (0.5), and AP is the positive rate.
    assert roc_auc([0, 1, 0, 1, 0], [3, 3, 3, 3, 3]) == pytest.approx(0.5)
    assert pr_auc([0, 1, 0, 1, 0], [3, 3, 3, 3, 3]) == pytest.approx(0.4)
    # A tie between one positive and one negative counts half.
    assert roc_auc([0, 1, 0], [0.0, 1.0, 1.0]) == pytest.approx(0.75)


def test_perfect_and_reversed():
    y = np.r_[np.zeros(50), np.ones(10), np.zeros(40)]
    assert roc_auc(y, y) == 1.0
    assert pr_auc(y, y) == 1.0
    assert roc_auc(y, -y) == 0.0


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 300), st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_agrees_with_sklearn(n, seed, levels):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    if y.min() == y.max():
        y[0] = 1 - y[0]
    # A few discrete levels make many ties, which is where implementations usually differ.
    s = rng.integers(0, levels + 1, n) + (0 if levels < 6 else rng.random(n))
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert pr_auc(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_invariant_to_monotone_transforms():
    rng = np.random.default_rng(3)
    y = (rng.random(500) < 0.1).astype(int)
    s = rng.normal(size=500) + y
    for transform in (np.exp, lambda x: 3 * x - 7, lambda x: np.arctan(x) ** 3):
        assert roc_auc(y, transform(s)) == pytest.approx(roc_auc(y, s), abs=1e-12)
        assert pr_auc(y, transform(s)) == pytest.approx(pr_auc(y, s), abs=1e-12)


def test_invariant_to_permuting_points():
    rng = np.random.default_rng(4)
    y = (rng.random(300) < 0.2).astype(int)
    s = np.round(rng.random(300) + 0.3 * y, 1)  # with ties
    perm = rng.permutation(300)
    assert roc_auc(y[perm], s[perm]) == pytest.approx(roc_auc(y, s), abs=1e-12)
    assert pr_auc(y[perm], s[perm]) == pytest.approx(pr_auc(y, s), abs=1e-12)


def test_precision_recall_f1_hand_computed():
    y = [0, 1, 1, 1, 0, 0, 1, 1, 0]
    p = [0, 0, 1, 0, 0, 1, 0, 0, 0]
    precision, recall, f1 = precision_recall_f1(y, p)
    assert (precision, recall) == (0.5, 0.2)
    assert f1 == pytest.approx(2 * 0.5 * 0.2 / 0.7)


def test_precision_recall_f1_zero_division_gives_zero():
    assert precision_recall_f1([0, 1, 0], [0, 0, 0]) == (0.0, 0.0, 0.0)
    assert precision_recall_f1([0, 0, 0], [1, 0, 0]) == (0.0, 0.0, 0.0)


def test_point_adjust_hand_computed():
    y = [0, 1, 1, 1, 0, 0, 1, 1, 0]
    p = [0, 0, 1, 0, 0, 1, 0, 0, 0]
    # First range hit once -> fully detected; second range missed; the FP at 5 stays.
    assert point_adjust(y, p).tolist() == [0, 1, 1, 1, 0, 1, 0, 0, 0]
    # Adjusted: TP 3, FP 1, FN 2 -> precision 3/4, recall 3/5.
    assert point_adjusted_f1(y, p) == pytest.approx(2 * 0.75 * 0.6 / 1.35)


def test_point_adjust_ranges_at_the_edges():
    y = [1, 1, 0, 0, 1, 1]
    assert point_adjust(y, [0, 1, 0, 0, 1, 0]).tolist() == [1, 1, 0, 0, 1, 1]
    assert point_adjust(y, [0, 0, 0, 0, 0, 0]).tolist() == [0, 0, 0, 0, 0, 0]


def test_point_adjust_inflates_a_random_detector():
    # The documented warning, as a fact: sparse random detections on long anomalies get a high PA-F1.
    rng = np.random.default_rng(0)
    y = np.zeros(5000, dtype=int)
    for start in range(300, 5000, 1000):
        y[start:start + 200] = 1
    p = (rng.random(5000) < 0.02).astype(int)
    assert precision_recall_f1(y, p)[2] < 0.1
    assert point_adjusted_f1(y, p) > 0.8


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=80))
def test_point_adjust_properties(pairs):
    y = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    adjusted = point_adjust(y, p)
    assert np.all(adjusted >= p)                             # only adds detections
    assert np.array_equal(adjusted[y == 0], p[y == 0])       # and only inside labelled ranges
    assert np.array_equal(point_adjust(y, adjusted), adjusted)  # idempotent
    assert point_adjusted_f1(y, p) >= precision_recall_f1(y, p)[2] - 1e-12


def test_inputs_are_not_modified():
    y = np.array([0, 1, 1, 0, 0])
    s = np.array([0.1, 0.9, 0.2, 0.3, 0.0])
    p = np.array([0, 0, 1, 0, 0])
    y0, s0, p0 = y.copy(), s.copy(), p.copy()
    roc_auc(y, s), pr_auc(y, s), point_adjust(y, p), point_adjusted_f1(y, p)
    assert np.array_equal(y, y0) and np.array_equal(s, s0) and np.array_equal(p, p0)


@pytest.mark.parametrize("labels, scores, match", [
    ([0, 1, 1], [0.1, 0.2], "same length"),
    ([0, 2, 1], [0.1, 0.2, 0.3], "only 0 and 1"),
    ([0, 1, 1], [0.1, np.nan, 0.3], "finite"),
    ([0, 1, 1], [0.1, np.inf, 0.3], "finite"),
    ([0, 0, 0], [0.1, 0.2, 0.3], "both normal"),
    ([1, 1, 1], [0.1, 0.2, 0.3], "both normal"),
    ([], [], "empty"),
    ([[0, 1], [1, 0]], [[0.1, 0.2], [0.3, 0.4]], "1-D"),
    (["a", "b"], [0.1, 0.2], "numeric"),
])
def test_bad_inputs_raise_input_error(labels, scores, match):
    with pytest.raises(InputError, match=match):
        roc_auc(labels, scores)
    with pytest.raises(ValueError):  # InputError is a ValueError, for callers that catch that
        pr_auc(labels, scores)


def test_bad_predictions_raise_input_error():
    with pytest.raises(InputError, match="predictions must contain only 0 and 1"):
        point_adjust([0, 1], [0, 0.5])
    with pytest.raises(InputError, match="same length"):
        precision_recall_f1([0, 1], [0, 1, 1])


def test_accepts_bool_and_column_vectors():
    y = np.array([False, True, True, False])
    s = np.array([[0.1], [0.8], [0.7], [0.2]])
    assert roc_auc(y, s) == 1.0
