"""The NAB score: hand-checked cases, a published per-file score, and the corpus null/perfect baselines."""
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from seqae.exceptions import DataFileError, InputError
from seqae.metrics import (NAB_PROFILES, NABProfile, NABSeriesScore, load_nab_profiles, nab_normalize,
                           nab_profile, nab_score, windows_to_indices, windows_to_labels)


def sigma(x):
    """NAB's scaled sigmoid, written out independently of the implementation."""
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


# ---------------------------------------------------------------------------------------------- hand-checked
def tiny_case():
    """20 points, probationary period floor(0.15 * 20) = 3; windows [5, 9] (width 5) and [14, 15] (width 2)."""
    predictions = np.zeros(20, dtype=int)
    predictions[[1, 4, 7, 8, 11, 19]] = 1
    return predictions, [[5, 9], [14, 15]]


def test_tiny_case_by_hand():
    predictions, windows = tiny_case()
    expected = (
        0.0                                       # 1: inside the probationary period, ignored
        - 0.11                                    # 4: FP before any window, full cost
        + sigma(-(9 - 7 + 1) / 5) / sigma(-1.0)   # 7: first detection in [5, 9]; 8 is ignored
        + 0.11 * sigma((11 - 9) / (5 - 1))        # 11: FP 2 points after a width-5 window
        - 0.11                                    # 19: FP 4 widths after [14, 15]: beyond 3, full cost
        - 1.0                                     # [14, 15] missed
    )
    result = nab_score(predictions, windows)
    assert result.score == pytest.approx(expected, abs=1e-12)
    # The same with the numbers on paper: sigma(-0.6) / sigma(-1) = 0.905148 / 0.986614 = 0.917429 and
    # sigma(0.5) = -0.848284, so -0.11 + 0.917429 - 0.093311 - 0.11 - 1 = -0.395882.
    assert result.score == pytest.approx(-0.395882, abs=1e-6)
    assert (result.tp, result.fp, result.fn, result.tn) == (2, 3, 5, 7)
    assert (result.null_score, result.perfect_score) == (-2.0, 2.0)


def test_tiny_case_other_profiles():
    predictions, windows = tiny_case()
    tp = sigma(-0.6) / sigma(-1.0)
    fp_units = -1 + sigma(0.5) - 1
    low_fp = nab_score(predictions, windows, profile="reward_low_FP_rate")
    low_fn = nab_score(predictions, windows, profile="reward_low_FN_rate")
    assert low_fp.score == pytest.approx(tp + 0.22 * fp_units - 1.0, abs=1e-12)
    assert low_fn.score == pytest.approx(tp + 0.11 * fp_units - 2.0, abs=1e-12)
    assert low_fn.null_score == -4.0


def test_detection_at_window_start_earns_exactly_tp_weight():
    r = nab_score([0, 0, 1, 0, 0, 0, 0, 0], [[2, 6]], probationary_percent=0.0)
    assert r.score == 1.0
    # At the last point of the window the reward is small but positive (position -1/width).
    late = nab_score([0, 0, 0, 0, 0, 0, 1, 0], [[2, 6]], probationary_percent=0.0)
    assert late.score == pytest.approx(sigma(-1 / 5) / sigma(-1.0))
    assert 0 < late.score < 0.5


def test_earlier_detection_scores_higher():
    scores = [nab_score(np.eye(30, dtype=int)[i], [[10, 19]], probationary_percent=0.0).score
              for i in range(10, 20)]
    assert all(a > b for a, b in zip(scores, scores[1:]))


def test_false_positives_cost_more_further_from_the_window():
    costs = [nab_score(np.eye(60, dtype=int)[i], [[10, 19]], probationary_percent=0.0).score
             for i in range(20, 60)]
    assert all(a >= b for a, b in zip(costs, costs[1:]))
    assert costs[-1] == pytest.approx(-0.11 - 1.0)  # far FP: full cost, plus the missed window


def test_probationary_period():
    # n = 40: probation floor(6.0) = 6 points. A window inside it is not scored at all, but counts for
    # the perfect score (as NAB counts every labelled window).
    r = nab_score(np.zeros(40, dtype=int), [[1, 4], [20, 25]])
    assert (r.n_windows, r.n_scored_windows) == (2, 1)
    assert r.score == r.null_score == -1.0
    assert r.perfect_score == 2.0
    # The cap: probation is at most 0.15 * 5000 = 750 points however long the series.
    p = np.zeros(10_000, dtype=int)
    p[749] = 1
    assert nab_score(p, []).score == 0.0
    p[750] = 1
    assert nab_score(p, []).score == pytest.approx(-0.11)


def test_no_windows_and_no_detections():
    r = nab_score(np.zeros(100, dtype=int), [])
    assert (r.score, r.null_score, r.perfect_score) == (0.0, 0.0, 0.0)


def test_single_point_window_does_not_divide_by_zero():
    # NAB divides by (width - 1) for FPs after a window; a 1-point window uses 1 instead.
    p = np.zeros(20, dtype=int)
    p[[5, 7]] = 1
    r = nab_score(p, [[5, 5]], probationary_percent=0.0)
    assert r.score == pytest.approx(1.0 + 0.11 * sigma(2.0))


# ------------------------------------------------------------------------------- against NAB's published score
def test_matches_published_numenta_score_on_speed_7578():
    """NAB's published result for the 'numenta' detector, realTraffic/speed_7578.csv, standard profile.

    From NAB's results/numenta/numenta_standard_scores.csv (threshold 0.5126953125): score 1.23649741556,
    TP 4, TN 839, FP 3, FN 112. The detections are the rows of results/numenta/realTraffic/
    numenta_speed_7578.csv with anomaly_score >= that threshold, and the windows are the file's four
    label windows as row indices (1127 rows).
    """
    predictions = np.zeros(1127, dtype=int)
    predictions[[363, 632, 679, 754, 924, 960, 966]] = 1
    windows = [[303, 331], [740, 768], [909, 937], [945, 973]]
    r = nab_score(predictions, windows)
    assert r.score == pytest.approx(1.23649741556, abs=1e-10)
    assert (r.tp, r.tn, r.fp, r.fn) == (4, 839, 3, 112)


def test_normalisation_reproduces_published_final_score():
    # NAB's numenta detector: raw corpus total 46.634450197137596 (config/thresholds.json), null -116
    # and perfect 116 for the standard profile -> 70.10105611943965 in results/final_results.json.
    parts = [NABSeriesScore(46.634450197137596, -116.0, 116.0, 0, 0, 0, 0, 116, 116, "standard")]
    assert nab_normalize(parts) == pytest.approx(70.10105611943965, abs=1e-9)


def test_null_is_zero_and_perfect_is_hundred():
    windows = {"a": [[10, 20], [50, 60]], "b": [[30, 39]], "c": []}
    for profile in NAB_PROFILES:
        null = [nab_score(np.zeros(100, dtype=int), w, profile=profile, probationary_percent=0.0)
                for w in windows.values()]
        perfect = []
        for w in windows.values():
            p = np.zeros(100, dtype=int)
            p[[start for start, _ in w]] = 1
            perfect.append(nab_score(p, w, profile=profile, probationary_percent=0.0))
        assert nab_normalize(null) == 0.0
        assert nab_normalize(perfect) == pytest.approx(100.0, abs=1e-12)


def test_normalize_rejects_bad_sets():
    a = nab_score([0, 1, 0], [[1, 1]], probationary_percent=0.0)
    b = nab_score([0, 1, 0], [[1, 1]], profile="reward_low_FN_rate", probationary_percent=0.0)
    with pytest.raises(InputError, match="same profile"):
        nab_normalize([a, b])
    with pytest.raises(InputError, match="at least one"):
        nab_normalize([])
    with pytest.raises(InputError, match="undefined"):
        nab_normalize([nab_score([0, 0, 0], [])])
    with pytest.raises(InputError, match="NABSeriesScore"):
        nab_normalize([1.0])


# ------------------------------------------------------------------------------------------ windows, labels
def test_windows_from_timestamps():
    ts = ["2015-01-01 00:00:00", "2015-01-01 00:05:00", "2015-01-01 00:10:00", "2015-01-01 00:15:00"]
    windows = [["2015-01-01 00:10:00.000000", "2015-01-01 00:15:00.000000"],
               ["2015-01-01 00:00:00.000000", "2015-01-01 00:05:00.000000"]]
    assert windows_to_indices(ts, windows).tolist() == [[0, 1], [2, 3]]   # sorted by start
    assert windows_to_labels(ts, windows[:1]).tolist() == [0, 0, 1, 1]
    assert windows_to_labels(np.array(ts, dtype="datetime64[ns]"), windows[:1]).tolist() == [0, 0, 1, 1]
    # Limits between timestamps cover what lies inside them.
    assert windows_to_labels(ts, [["2015-01-01 00:01", "2015-01-01 00:11"]]).tolist() == [0, 1, 1, 0]


def test_windows_with_repeated_timestamps_follow_nab():
    # Some NAB files repeat a timestamp at a daylight-saving change. NAB's scorer ends a window at the
    # first row carrying the window's end timestamp.
    ts = [0, 1, 2, 2, 2, 3, 4]
    assert windows_to_indices(ts, [[1, 2]]).tolist() == [[1, 2]]
    assert windows_to_indices(ts, [[2, 3]]).tolist() == [[2, 5]]


def test_scoring_with_timestamps_equals_scoring_with_indices():
    ts = np.arange(np.datetime64("2020-01-01T00:00"), np.datetime64("2020-01-01T01:40"),
                   np.timedelta64(1, "m"))  # 100 minutes
    windows = [[str(ts[30]), str(ts[39])], [str(ts[70]), str(ts[74])]]
    p = np.zeros(100, dtype=int)
    p[[20, 33, 45, 72, 99]] = 1
    assert nab_score(p, windows, ts) == nab_score(p, [[30, 39], [70, 74]])


@pytest.mark.parametrize("windows, match", [
    ([[5, 3]], "ends before it starts"),
    ([[10.5, 10.7]], "contains none of the timestamps"),
    ([[1, 4], [3, 6]], "must not overlap"),
    ([[1, 2, 3]], r"\[start, end\] pairs"),
    ([["2015-01-01", "2015-01-02"]], "same kind"),
])
def test_bad_windows(windows, match):
    with pytest.raises(InputError, match=match):
        windows_to_indices(np.arange(20), windows)


def test_bad_index_windows_and_arguments():
    with pytest.raises(InputError, match="0 <= start <= end < 10"):
        nab_score(np.zeros(10, dtype=int), [[5, 12]])
    with pytest.raises(InputError, match="integer pairs"):
        nab_score(np.zeros(10, dtype=int), [[1.5, 3]])
    with pytest.raises(InputError, match="same length"):
        nab_score(np.zeros(10, dtype=int), [], timestamps=np.arange(9))
    with pytest.raises(InputError, match="probationary_percent"):
        nab_score(np.zeros(10, dtype=int), [], probationary_percent=1.5)
    with pytest.raises(InputError, match="unknown NAB profile"):
        nab_score(np.zeros(10, dtype=int), [], profile="strict")
    with pytest.raises(InputError, match="only 0 and 1"):
        nab_score(np.full(10, 0.5), [])


def test_inputs_are_not_modified():
    p = np.array([0, 1, 0, 1, 1, 0, 0, 0, 0, 1])
    w = [[3, 5]]
    p0 = p.copy()
    nab_score(p, w, probationary_percent=0.0)
    assert np.array_equal(p, p0) and w == [[3, 5]]


# -------------------------------------------------------------------------------------------------- profiles
def test_builtin_profiles_are_nab_numbers():
    assert NAB_PROFILES["standard"] == NABProfile("standard", 1.0, 0.11, 1.0)
    assert NAB_PROFILES["reward_low_FP_rate"].fp_weight == 0.22
    assert NAB_PROFILES["reward_low_FN_rate"].fn_weight == 2.0
    with pytest.raises(TypeError):
        NAB_PROFILES["mine"] = NAB_PROFILES["standard"]  # read-only


def test_profiles_from_a_file(tmp_path):
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps({"strict": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 3.0, "fpWeight": 0.5,
                                                          "tnWeight": 1.0}}}))
    assert load_nab_profiles(path)["strict"] == NABProfile("strict", 1.0, 0.5, 3.0, 1.0)
    r = nab_score([0, 0, 0, 0], [[1, 2]], profile="strict", profiles_path=path, probationary_percent=0.0)
    assert r.score == -3.0 and r.profile == "strict"
    custom = NABProfile("custom", tp_weight=2.0, fp_weight=0.0, fn_weight=1.0)
    assert nab_score([0, 1, 0, 1], [[1, 2]], profile=custom, probationary_percent=0.0).score == 2.0


@pytest.mark.parametrize("content, match", [
    ("not json", "cannot read"),
    ("[]", "JSON object"),
    ('{"p": {"Costs": {}}}', "CostMatrix"),
    ('{"p": {"CostMatrix": {"tpWeight": 1}}}', "fpWeight"),
])
def test_bad_profile_files(tmp_path, content, match):
    path = tmp_path / "profiles.json"
    path.write_text(content)
    with pytest.raises(DataFileError, match=match):
        load_nab_profiles(path)
    with pytest.raises(DataFileError, match="cannot read"):
        load_nab_profiles(tmp_path / "missing.json")


def test_nab_profile_passes_objects_through():
    p = NABProfile("x", 1.0, 0.1, 1.0)
    assert nab_profile(p) is p


# ------------------------------------------------------------------------------------- the real NAB corpus
def _shared_data() -> Path | None:
    env = os.environ.get("SEQAE_DATA")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


SHARED = _shared_data()
NAB_ROOT = SHARED / "NAB" if SHARED else None
needs_nab = pytest.mark.skipif(
    NAB_ROOT is None or not (NAB_ROOT / "labels" / "combined_windows.json").is_file(),
    reason="the NAB corpus (../shared/data/NAB, or $SEQAE_DATA/NAB) is not present on this machine")


@pytest.fixture(scope="module")
def nab_corpus():
    import pandas as pd

    windows = json.loads((NAB_ROOT / "labels" / "combined_windows.json").read_text())
    return {name: (pd.read_csv(NAB_ROOT / "data" / name)["timestamp"].to_numpy(), w)
            for name, w in windows.items()}


@pytest.mark.data
@needs_nab
def test_corpus_null_and_perfect(nab_corpus):
    # NAB's published null detector raw totals (results/null/null_<profile>_scores.csv, "Totals" row).
    published_null = {"standard": -116.0, "reward_low_FP_rate": -116.0, "reward_low_FN_rate": -232.0}
    published_null_per_file = {"realKnownCause/nyc_taxi.csv": -5.0, "realTweets/Twitter_volume_UPS.csv": -5.0,
                               "realTraffic/speed_7578.csv": -4.0, "artificialNoAnomaly/art_noisy.csv": 0.0,
                               "realAWSCloudwatch/ec2_cpu_utilization_c6585a.csv": 0.0}
    assert len(nab_corpus) == 58
    for profile, total in published_null.items():
        null, perfect = {}, []
        for name, (ts, windows) in nab_corpus.items():
            null[name] = nab_score(np.zeros(len(ts), dtype=int), windows, ts, profile=profile)
            starts = windows_to_indices(ts, windows)[:, 0]
            p = np.zeros(len(ts), dtype=int)
            p[starts] = 1
            perfect.append(nab_score(p, windows, ts, profile=profile))
        assert sum(r.score for r in null.values()) == total
        fn_weight = NAB_PROFILES[profile].fn_weight
        for name, value in published_null_per_file.items():
            assert null[name].score == value * fn_weight
        assert nab_normalize(null.values()) == 0.0
        assert nab_normalize(perfect) == pytest.approx(100.0, abs=1e-9)


@pytest.mark.data
@needs_nab
def test_speed_7578_windows_from_timestamps(nab_corpus):
    ts, windows = nab_corpus["realTraffic/speed_7578.csv"]
    assert windows_to_indices(ts, windows).tolist() == [[303, 331], [740, 768], [909, 937], [945, 973]]
    assert windows_to_labels(ts, windows).sum() == 4 * 29


@pytest.mark.data
@needs_nab
def test_profiles_file_matches_builtin():
    assert load_nab_profiles(NAB_ROOT / "config" / "profiles.json") == dict(NAB_PROFILES)


@pytest.mark.data
@pytest.mark.skipif(SHARED is None or not (SHARED.parent / "reference" / "NAB" / "final_results.json").is_file()
                    or not (SHARED / "NAB" / "config" / "thresholds.json").is_file(),
                    reason="NAB's published results (../shared/reference/NAB) are not present on this machine")
def test_normalisation_reproduces_published_final_results():
    final = json.loads((SHARED.parent / "reference" / "NAB" / "final_results.json").read_text())
    raw = json.loads((SHARED / "NAB" / "config" / "thresholds.json").read_text())
    # NAB's thresholds.json holds each detector's raw corpus total. For htmjava, knncad, random,
    # twitterADVec and windowedGaussian those entries are stale (not updated with the final results),
    # so only the detectors whose two files agree are compared.
    detectors = ["ARTime", "contextOSE", "earthgeckoSkyline", "expose", "null", "numenta", "numentaTM",
                 "randomCutForest", "relativeEntropy", "skyline"]
    for detector in detectors:
        for profile in NAB_PROFILES:
            n_windows = 116
            null = -NAB_PROFILES[profile].fn_weight * n_windows
            parts = [NABSeriesScore(raw[detector][profile]["score"], null, float(n_windows), 0, 0, 0, 0,
                                    n_windows, n_windows, profile)]
            assert nab_normalize(parts) == pytest.approx(final[detector][profile], abs=1e-6), (detector, profile)
