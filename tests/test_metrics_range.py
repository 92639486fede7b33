"""Range-based precision and recall (Tatbul et al., 2018), checked on cases worked out by hand."""
import numpy as np
import pytest

from seqae.exceptions import InputError
from seqae.metrics import range_precision, range_precision_recall_f1, range_recall

#             0  1  2  3  4  5  6  7  8  9 10 11
LABELS = [0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0]   # real ranges [1, 4] and [8, 9]
PREDS = [0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1]    # predicted ranges [2, 3], [7, 8] and [11, 11]


def test_flat_hand_computed():
    # Recall: [1,4] covered 2/4, [8,9] covered 1/2 -> 0.5. Precision: [2,3] 2/2, [7,8] 1/2, [11] 0 -> 0.5.
    assert range_recall(LABELS, PREDS) == pytest.approx(0.5)
    assert range_precision(LABELS, PREDS) == pytest.approx(0.5)
    assert range_precision_recall_f1(LABELS, PREDS) == pytest.approx((0.5, 0.5, 0.5))


def test_alpha_weights_the_existence_reward():
    # Both real ranges are touched: existence 1 each.
    assert range_recall(LABELS, PREDS, alpha=1.0) == pytest.approx(1.0)
    assert range_recall(LABELS, PREDS, alpha=0.2) == pytest.approx(0.2 * 1 + 0.8 * 0.5)
    # A missed range gets nothing from either term.
    assert range_recall([0, 1, 1, 0, 1, 1], [0, 1, 0, 0, 0, 0], alpha=0.5) == pytest.approx(
        ((0.5 * 1 + 0.5 * 0.5) + 0.0) / 2)


@pytest.mark.parametrize("bias, expected", [
    # Real range of length 4 whose first two points are detected; delta over positions 1..4:
    ("flat", 2 / 4),          # 1 1 1 1
    ("front", (4 + 3) / 10),  # 4 3 2 1
    ("back", (1 + 2) / 10),   # 1 2 3 4
    ("middle", (1 + 2) / 6),  # 1 2 2 1
])
def test_positional_bias(bias, expected):
    labels = [0, 1, 1, 1, 1, 0]
    preds = [0, 1, 1, 0, 0, 0]
    assert range_recall(labels, preds, bias=bias) == pytest.approx(expected)


def test_positional_bias_odd_length_middle():
    # Length 5: the paper's delta is i for i <= L/2 (i = 1, 2) and L - i + 1 after (3, 2, 1), so the
    # weights are 1 2 3 2 1. Detecting the centre point alone earns 3/9.
    assert range_recall([1, 1, 1, 1, 1], [0, 0, 1, 0, 0], bias="middle") == pytest.approx(3 / 9)


def test_bias_uses_position_inside_the_range_not_time_index():
    # Same shape shifted in time must score the same (TSB-AD gets this wrong for non-flat biases).
    a = range_recall([0, 1, 1, 1, 1, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0, 0], bias="front")
    b = range_recall([0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1, 0, 0], bias="front")
    assert a == pytest.approx(b) == pytest.approx(0.7)


def test_cardinality_penalises_fragmented_detection():
    labels = [0, 1, 1, 1, 1, 1, 1, 0]   # one range [1, 6]
    preds = [0, 1, 1, 0, 0, 1, 0, 0]    # two predicted ranges inside it, covering 3 of 6 points
    assert range_recall(labels, preds, cardinality="one") == pytest.approx(0.5)
    assert range_recall(labels, preds, cardinality="reciprocal") == pytest.approx(0.25)
    assert range_recall(labels, preds, alpha=0.5) == pytest.approx(0.5 * 1 + 0.5 * 0.25)
    # Both predicted ranges lie fully inside: precision 1 each, one real range each -> no penalty.
    assert range_precision(labels, preds) == pytest.approx(1.0)


def test_precision_cardinality_when_a_prediction_spans_two_ranges():
    labels = [1, 1, 0, 0, 1, 1]
    preds = [1, 1, 1, 1, 1, 1]   # one predicted range over everything, touching both real ranges
    # Overlap 4/6, two real ranges touched -> 1/2.
    assert range_precision(labels, preds) == pytest.approx(4 / 6 / 2)
    assert range_precision(labels, preds, cardinality="one") == pytest.approx(4 / 6)
    # Each real range is fully covered by the single prediction.
    assert range_recall(labels, preds) == pytest.approx(1.0)


def test_all_ones_vectors_are_one_range():
    assert range_precision_recall_f1([1, 1, 1], [1, 1, 1]) == pytest.approx((1.0, 1.0, 1.0))


def test_overlap_at_the_range_start_is_counted_once():
    # The prediction starts before the real range and runs into it: one touching range, not two.
    labels = [0, 0, 1, 1, 1, 1]
    preds = [1, 1, 1, 0, 1, 0]
    # Two predicted ranges touch the real range ([0,2] and [4]) -> 2/4 covered, halved.
    assert range_recall(labels, preds) == pytest.approx(0.25)
    # Precision: [0,2] overlap 1/3; [4,4] overlap 1/1 -> mean 2/3.
    assert range_precision(labels, preds) == pytest.approx((1 / 3 + 1) / 2)


def test_perfect_and_empty():
    labels = [0, 1, 1, 0, 0, 1, 0]
    assert range_precision_recall_f1(labels, labels) == pytest.approx((1.0, 1.0, 1.0))
    assert range_precision_recall_f1(labels, [0] * 7) == (0.0, 0.0, 0.0)
    assert range_recall([0] * 7, labels) == 0.0


def test_many_ranges_vectorised_matches_loop():
    # A simple loop over ranges, straight from the paper's definitions, on random data.
    rng = np.random.default_rng(5)
    labels = (rng.random(400) < 0.3).astype(int)
    preds = (rng.random(400) < 0.3).astype(int)

    def ranges(x):
        edges = np.diff(np.r_[0, x, 0])
        return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))

    def delta(i, length, bias):
        return {"flat": 1, "front": length - i + 1, "back": i,
                "middle": i if i <= length / 2 else length - i + 1}[bias]

    def score(of, other, alpha, bias):
        other_ranges = ranges(other)
        values = []
        for s, e in ranges(of):
            length = e - s + 1
            weights = [delta(i, length, bias) for i in range(1, length + 1)]
            my = sum(w for w, t in zip(weights, range(s, e + 1)) if other[t])
            touching = sum(1 for a, b in other_ranges if a <= e and b >= s)
            card = 1.0 if touching <= 1 else 1.0 / touching
            values.append(alpha * (touching > 0) + (1 - alpha) * card * my / sum(weights))
        return np.mean(values)

    for bias in ("flat", "front", "middle", "back"):
        assert range_recall(labels, preds, alpha=0.3, bias=bias) == pytest.approx(score(labels, preds, 0.3, bias))
        assert range_precision(labels, preds, bias=bias) == pytest.approx(score(preds, labels, 0.0, bias))


@pytest.mark.parametrize("kwargs, match", [
    ({"bias": "left"}, "bias must be one of"),
    ({"cardinality": "inverse"}, "cardinality must be one of"),
    ({"alpha": 1.5}, "alpha must be in"),
    ({"alpha": "x"}, "alpha must be a number"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(InputError, match=match):
        range_recall(LABELS, PREDS, **kwargs)


def test_bad_inputs():
    with pytest.raises(InputError, match="same length"):
        range_precision([0, 1], [0, 1, 0])
    with pytest.raises(InputError, match="predictions must contain only 0 and 1"):
        range_recall([0, 1, 0], [0, 0.3, 0])
