"""Anomaly events: runs of labels, merging, Hundman's pruning, the event frame, and the event confusion matrix."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqae.events import adaptive_runs, events_frame, label_runs, merge_runs, prune_runs, runs_to_labels
from seqae.thresholds import dynamic_threshold
from seqae.exceptions import InputError
from seqae.metrics.events import EventCounts, event_confusion


# ------------------------------------------------------------------------------------------------- runs
@pytest.mark.parametrize("labels, runs", [
    ([], []),
    ([0, 0, 0], []),
    ([1, 1, 1], [[0, 2]]),
    ([1, 0, 1], [[0, 0], [2, 2]]),
    ([0, 1, 1, 0, 0, 1], [[1, 2], [5, 5]]),
])
def test_label_runs(labels, runs):
    got = label_runs(np.array(labels, dtype=np.int64))
    assert got.tolist() == runs and got.shape == (len(runs), 2)
    assert runs_to_labels(got, len(labels)).tolist() == [int(v) for v in labels]


def test_label_runs_refuses_2d():
    with pytest.raises(InputError, match="1-D"):
        label_runs(np.zeros((3, 2)))


def test_merge_runs_gap():
    runs = np.array([[20, 21], [0, 2], [5, 6]])             # unsorted on purpose
    assert merge_runs(runs, 0).tolist() == [[0, 2], [5, 6], [20, 21]]
    assert merge_runs(runs, 2).tolist() == [[0, 6], [20, 21]]   # 3, 4 unflagged: a gap of 2
    assert merge_runs(runs, 1).tolist() == [[0, 2], [5, 6], [20, 21]]
    assert merge_runs(np.array([[0, 10], [3, 4]]), 0).tolist() == [[0, 10]]   # contained
    with pytest.raises(InputError):
        merge_runs(runs, -1)


def test_prune_keeps_runs_down_to_the_last_clear_drop():
    s = np.zeros(100)
    s[[10, 30, 50, 70]] = [10.0, 9.5, 5.0, 4.9]
    s[90] = 1.0                                       # highest normal score
    runs = np.array([[10, 10], [30, 30], [50, 50], [70, 70]])
    # chain 10, 9.5, 5, 4.9, 1: drops 5%, 47%, 2%, 80% -> the last drop >= 10% is after 4.9: keep all
    assert prune_runs(s, runs, 0.1).tolist() == runs.tolist()
    s[90] = 4.8                                       # now 4.9 hardly stands out from normal
    assert prune_runs(s, runs, 0.1).tolist() == [[10, 10], [30, 30]]
    s[90] = 9.9                                       # sorted in: 10, 9.9, 9.5 | 5, 4.9 -> 10 and 9.5 stay
    assert prune_runs(s, runs, 0.1).tolist() == [[10, 10], [30, 30]]
    s[[10, 30, 50, 70, 90]] = [5.0, 4.9, 4.8, 4.7, 4.6]   # nothing stands out: all pruned
    assert prune_runs(s, runs, 0.1).tolist() == []
    with pytest.raises(InputError):
        prune_runs(s, runs, 1.5)


def _noise_with_excursions(*heights, n=3000, seed=0):
    """Noise between 0 and 1 with a 5-point excursion of each height, 600 points apart from position 300."""
    s = np.random.default_rng(seed).uniform(0.0, 1.0, n)
    for i, h in enumerate(heights):
        s[300 + 600 * i:305 + 600 * i] = h
    return s


def test_adaptive_runs_in_one_round_is_the_papers_procedure():
    s = _noise_with_excursions(40.0, 6.0, 3.0)
    runs, flags = adaptive_runs(s, dynamic_threshold, gap=10, min_percent=0.05)
    t = dynamic_threshold(s)
    expected = prune_runs(s, merge_runs(label_runs(s > t), 10), 0.05)
    assert runs.tolist() == expected.tolist()
    assert flags.tolist() == ((s > t) & runs_to_labels(expected, len(s)).astype(bool)).tolist()


def test_further_rounds_find_what_the_largest_excursion_masked():
    s = _noise_with_excursions(40.0, 6.0, 3.0)
    one = adaptive_runs(s, dynamic_threshold, gap=10, min_percent=0.05)[0]
    three, flags = adaptive_runs(s, dynamic_threshold, gap=10, min_percent=0.05, rounds=3)
    assert one.tolist() == [[300, 304]]                   # the 40 inflates the spread: 6 and 3 stay below
    assert three.tolist() == [[300, 304], [900, 904], [1500, 1504]]
    assert flags.sum() == 15 and flags[three[:, 0]].all()


def test_rounds_stop_when_nothing_new_stands_out():
    s = _noise_with_excursions(40.0)
    for rounds in (1, 2, 5):
        runs, flags = adaptive_runs(s, dynamic_threshold, gap=10, min_percent=0.05, rounds=rounds)
        assert runs.tolist() == [[300, 304]] and flags.sum() == 5
    calls = []
    adaptive_runs(s, lambda x: calls.append(1) or dynamic_threshold(x), gap=10, min_percent=0.05, rounds=5)
    assert len(calls) == 2                               # the second round found nothing new: no third


def test_later_rounds_prune_with_their_own_min_percent():
    s = np.tile([0.0, 1.0], 500)
    s[100:103], s[400:403], s[700:703] = 50.0, 8.0, 1.08   # the last only 8% above the normal peaks (1.0)

    def runs(**kwargs):                                      # thresholds 20, then 1.04: 50, then 8 and 1.08
        thresholds = iter([20.0, 1.04, 1.04])
        return adaptive_runs(s, lambda x: next(thresholds), gap=5, min_percent=0.05, rounds=3, **kwargs)[0]

    assert runs().tolist() == [[100, 102], [400, 402], [700, 702]]      # 0.05 in every round
    assert runs(later_min_percent=0.1).tolist() == [[100, 102], [400, 402]]


@pytest.mark.parametrize("rounds", [0, -1, 1.5, True, "3"])
def test_adaptive_runs_refuses_bad_rounds(rounds):
    with pytest.raises(InputError, match="rounds must be an integer >= 1"):
        adaptive_runs(np.arange(10.0), dynamic_threshold, gap=1, min_percent=0.05, rounds=rounds)
    with pytest.raises(InputError, match=r"later_min_percent must be in \[0, 1\), got 1.5"):
        adaptive_runs(np.zeros(10), dynamic_threshold, gap=1, min_percent=0.05, later_min_percent=1.5)


def test_events_frame_columns_channels_and_timestamps():
    idx = pd.date_range("2024-01-01", periods=10, freq="h")
    scores = np.array([0, 0, 3, 5, 2, 0, 0, 4, 0, 0], dtype=float)
    contrib = np.zeros((10, 2))
    contrib[2:5, 1] = scores[2:5]                     # channel "b" drives the first event
    contrib[7, 0] = 4.0                               # "a" the second
    frame = events_frame(np.array([[2, 4], [7, 7]]), scores, 2.0, index=idx, contributions=contrib,
                         channels=["a", "b"])
    assert frame["start"].tolist() == [idx[2], idx[7]] and frame["end"].tolist() == [idx[4], idx[7]]
    assert frame["peak"].tolist() == [idx[3], idx[7]]
    assert frame["length"].tolist() == [3, 1] and frame["peak_score"].tolist() == [5.0, 4.0]
    assert frame["severity"].tolist() == [2.5, 2.0]
    assert frame["channels"].tolist() == ["b", "a"]
    empty = events_frame(np.zeros((0, 2)), scores, 2.0)
    assert len(empty) == 0 and list(empty.columns)[:2] == ["start", "end"]


# ------------------------------------------------------------------------------------------------- confusion
@pytest.mark.parametrize("true, found, expected", [
    ([[10, 20]], [[15, 16]], (1, 0, 0)),              # inside
    ([[10, 20]], [[20, 30]], (1, 0, 0)),              # one shared point is an overlap
    ([[10, 20]], [[21, 30]], (0, 1, 1)),              # adjacent is not
    ([[10, 20], [30, 40]], [[15, 35]], (2, 0, 0)),    # one detection finds two labelled events
    ([[10, 20]], [[11, 12], [14, 15]], (1, 0, 0)),    # two detections of one event: no false alarm
    ([[10, 20], [50, 60]], [[15, 16], [30, 31]], (1, 1, 1)),
    ([], [[1, 2]], (0, 1, 0)),
    ([[1, 2]], [], (0, 0, 1)),
])
def test_event_confusion_by_overlap(true, found, expected):
    c = event_confusion(true, found)
    assert (c.tp, c.fp, c.fn) == expected


def test_event_f1_summed_over_signals():
    total = event_confusion([[0, 5]], [[2, 3], [40, 41]]) + event_confusion([[10, 12]], [])
    assert total == EventCounts(tp=1, fp=1, fn=1)
    assert total.f1 == pytest.approx(2 / (2 + 1 + 1))
    assert total.precision == 0.5 and total.recall == 0.5
    assert np.isnan(EventCounts(0, 0, 0).f1)


def test_event_confusion_refuses_reversed_pairs():
    with pytest.raises(InputError, match="start <= end"):
        event_confusion([[5, 1]], [])


@pytest.mark.parametrize("true, found", [
    # The two cases of Orion's own tests of contextual_confusion_matrix(method=_overlap_segment)
    # (tests/evaluation/test_contextual.py): both give tp 5, fp 1, fn 1.
    ([[1, 2], [5, 6], [7, 10], [12, 13], [16, 17], [22, 23]], [[2, 3], [4, 5], [8, 9], [11, 14], [19, 20], [22, 23]]),
    ([[2, 2], [5, 5], [8, 8], [12, 12], [15, 17], [18, 18]], [[2, 2], [3, 5], [8, 10], [11, 13], [16, 16], [20, 20]]),
])
def test_event_confusion_matches_orions_documented_cases(true, found):
    assert event_confusion(true, found) == EventCounts(tp=5, fp=1, fn=1)


def test_adaptive_events_are_the_flagged_points_merged_within_the_gap():
    # AnomalyDetector.events_of rebuilds the events from the labels (the flags) instead of running the rule again.
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(20, 300))
        s = rng.gamma(1.0, 1.0, n)
        for _ in range(int(rng.integers(0, 5))):
            a = int(rng.integers(0, n))
            s[a:a + int(rng.integers(1, 20))] += rng.uniform(1, 20)
        gap, rounds = int(rng.integers(0, 30)), int(rng.integers(1, 5))
        runs, flags = adaptive_runs(s, dynamic_threshold, gap=gap, min_percent=0.05, rounds=rounds,
                                    later_min_percent=0.1)
        assert merge_runs(label_runs(flags), gap).tolist() == runs.tolist()
