"""AnomalyDetector and SequenceAnomalyDetector: every point scored, PyOD's contract, chunked scoring,
contributions, missing values, persistence; window helpers."""
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from conftest import sine_collection
from seqae import AnomalyDetector, InputError, SequenceAnomalyDetector, load
from seqae.data.windows import PointAccumulator, iter_windows, sample_starts, window_starts
from seqae.detection import series as series_module

TINY = dict(window=16, hidden_size=8, latent_dim=3, epochs=3, random_state=0, device="cpu")


def _series(n=400, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.sin(2 * np.pi * t / 25) + 0.05 * rng.standard_normal(n)


@pytest.fixture(scope="module")
def detector():
    return AnomalyDetector(**TINY).fit(_series())


def test_window_starts_cover_every_point():
    for n, w, s in [(10, 4, 1), (10, 4, 3), (11, 4, 4), (4, 4, 2), (100, 7, 7), (100, 13, 6)]:
        starts = window_starts(n, w, s)
        covered = np.zeros(n, bool)
        for st in starts:
            covered[st:st + w] = True
        assert covered.all() and starts[-1] == n - w and (np.diff(starts) > 0).all()


def test_stride_larger_than_window_is_refused():
    with pytest.raises(ValueError, match=r"stride \(5\) must be <= window \(4\)"):
        window_starts(11, 4, 5)
    with pytest.raises(ValueError, match=r"stride \(20\) must be <= window \(16\)"):
        AnomalyDetector(**{**TINY, "stride": 20}).fit(_series())


def test_iter_windows_are_the_right_slices():
    values = np.arange(20, dtype=np.float32).reshape(10, 2)
    starts = window_starts(10, 3, 2)
    chunks = list(iter_windows(values, 3, starts, chunk=2))
    assert [len(s) for s, _ in chunks] == [2, 2, 1]  # starts 0, 2, 4, 6 and 7 (aligned to the end)
    for s, w in chunks:
        for k, st in enumerate(s):
            np.testing.assert_array_equal(w[k], values[st:st + 3])


def test_point_accumulator_mean_and_max():
    acc = PointAccumulator(4, 1, "mean")
    acc.add(np.array([0, 1]), np.array([[[1.0], [2.0], [3.0]], [[5.0], [6.0], [7.0]]]))
    np.testing.assert_allclose(acc.result()[:, 0], [1.0, (2 + 5) / 2, (3 + 6) / 2, 7.0])
    acc = PointAccumulator(4, 1, "max")
    acc.add(np.array([0, 1]), np.array([[[1.0], [2.0], [3.0]], [[5.0], [1.0], [7.0]]]))
    np.testing.assert_allclose(acc.result()[:, 0], [1.0, 5.0, 3.0, 7.0])


def test_point_accumulator_window_level():
    errors = np.array([[[1.0], [2.0], [3.0]], [[5.0], [6.0], [7.0]]])  # window means 2 and 6
    step_mean = np.array([1.0, 3.5, 4.5, 7.0])  # per-step errors averaged over covering windows: the tie-break
    tb = PointAccumulator.TIE_BREAK
    acc = PointAccumulator(4, 1, "window_mean")
    acc.add(np.array([0, 1]), errors)
    np.testing.assert_allclose(acc.result()[:, 0], np.array([2.0, 4.0, 4.0, 6.0]) + tb * step_mean)
    acc = PointAccumulator(4, 1, "window_max")
    acc.add(np.array([0, 1]), errors)
    result = acc.result()[:, 0]
    np.testing.assert_allclose(result, np.array([2.0, 6.0, 6.0, 6.0]) + tb * step_mean)
    assert len(np.unique(result)) == 4  # the plateau of the worst window is ordered by the points' own errors


def test_point_accumulator_point_weight_mixes_window_and_step_errors():
    errors = np.array([[[1.0], [2.0], [3.0]], [[5.0], [6.0], [7.0]]])  # window means 2 and 6
    step_mean = np.array([1.0, 3.5, 4.5, 7.0])
    acc = PointAccumulator(4, 1, "window_max", point_weight=0.25)
    acc.add(np.array([0, 1]), errors)
    np.testing.assert_allclose(acc.result()[:, 0], 0.75 * np.array([2.0, 6.0, 6.0, 6.0]) + 0.25 * step_mean)
    acc = PointAccumulator(4, 1, "window_max", point_weight=1.0)   # all the way: the "mean" aggregation
    acc.add(np.array([0, 1]), errors)
    ref = PointAccumulator(4, 1, "mean")
    ref.add(np.array([0, 1]), errors)
    np.testing.assert_allclose(acc.result(), ref.result())


def test_point_weight_narrows_a_short_anomaly_to_its_points():
    x = _series(400, seed=4)
    x[250:253] += 5.0                                       # a 3-point spike
    # the errors alone: point_weight shapes how windows' errors make a point's, not the windows' latent novelty
    # (one value per window; with latent_mix="max" it can top the sharpened error a point before the spike)
    det = AnomalyDetector(**TINY, latent_weight=0.0).fit(_series())
    plateau = det.decision_function(x)
    sharp = det.set_params(point_weight=0.5).decision_function(x)
    assert 250 <= int(np.argmax(sharp)) <= 252
    # Away from the spike but inside windows that cover it: the spike's own points now stand further out.
    near = np.r_[230:245, 258:270]
    assert (sharp[250:253].min() / sharp[near].max()) > (plateau[250:253].min() / plateau[near].max())
    with pytest.raises(ValueError, match="point_weight"):
        AnomalyDetector(**TINY, point_weight=1.5).fit(_series())


def test_sample_starts_bounded_and_spread():
    starts = np.arange(1000)
    s = sample_starts(starts, 10)
    assert len(s) == 10 and s[0] == 0 and s[-1] == 999
    assert sample_starts(starts, None) is starts


def test_every_point_scored_and_pyod_contract():
    detector = AnomalyDetector(**TINY, threshold="quantile").fit(_series())
    x = _series(300, seed=1)
    scores = detector.decision_function(x)
    assert scores.shape == (300,) and np.isfinite(scores).all() and (scores >= 0).all()
    assert detector.decision_scores_.shape == (400,)
    assert detector.labels_.shape == (400,) and set(np.unique(detector.labels_)) <= {0, 1}
    # contamination 0.01 -> about 1% of training points above the threshold
    assert 0 < detector.labels_.mean() <= 0.02
    np.testing.assert_array_equal(detector.predict(x), (scores > detector.threshold_).astype(int))


def test_injected_spike_scores_highest(detector):
    x = _series(300, seed=2)
    x[150:154] += 4.0
    scores = detector.decision_function(x)
    assert 140 <= int(np.argmax(scores)) <= 170
    # Found, and nothing flagged beyond a window of it (window scores flag some of the spike's context).
    flagged = np.flatnonzero(detector.predict(x))
    window = detector.window
    assert np.isin(np.arange(150, 154), flagged).any()
    assert flagged.min() >= 150 - window and flagged.max() <= 153 + window


def test_chunked_scoring_equals_one_chunk(detector, monkeypatch):
    x = _series(500, seed=3)
    whole = detector.decision_function(x)
    monkeypatch.setattr(series_module, "_CHUNK", 7)  # many small chunks: same scores
    np.testing.assert_allclose(detector.decision_function(x), whole, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("how", ["mean", "max", "window_mean", "window_max"])
def test_stride_and_aggregations(how):
    x = _series()
    det = AnomalyDetector(**{**TINY, "stride": 5}, score_aggregation=how).fit(x)
    scores = det.decision_function(x)
    assert scores.shape == (400,) and np.isfinite(scores).all()


def test_pandas_input_keeps_index_and_multivariate_contributions():
    idx = pd.date_range("2024-01-01", periods=400, freq="min")
    df = pd.DataFrame({"a": _series(), "b": np.cos(np.arange(400) / 4)}, index=idx)
    det = AnomalyDetector(**TINY).fit(df)
    out = det.detect(df)
    assert out.index.equals(idx) and list(out.columns) == ["score", "label", "contribution_a", "contribution_b"]
    C = det.feature_contributions(df)
    np.testing.assert_allclose(C.sum(axis=1), det.decision_function(df), rtol=1e-6)
    # A disturbance in channel b is attributed to channel b.
    df2 = df.copy()
    df2.iloc[200:205, 1] += 5
    C2 = det.feature_contributions(df2)
    assert C2[200:205, 1].sum() > C2[200:205, 0].sum()
    assert det.feature_names_in_ == ["a", "b"]


def test_thresholds_sigma_and_pot():
    x = _series()
    sigma = AnomalyDetector(**TINY, threshold="sigma", threshold_params={"k": 2.0}).fit(x)
    s = sigma.decision_scores_
    assert sigma.threshold_ == pytest.approx(s.mean() + 2 * s.std())
    pot = AnomalyDetector(**TINY, threshold="pot", threshold_params={"q": 0.01, "level": 0.9}).fit(x)
    assert pot.threshold_ >= np.quantile(pot.decision_scores_, 0.9)


def test_missing_values_raise_or_interpolate():
    x = _series()
    x[100] = np.nan
    with pytest.raises(InputError, match=r"missing value \(NaN\) at row 100"):
        AnomalyDetector(**TINY).fit(x)
    det = AnomalyDetector(**TINY, missing="interpolate").fit(x)
    assert np.isfinite(det.decision_function(x)).all()


@pytest.mark.parametrize("bad, message", [
    (np.ones(10), r"has 10 point\(s\) but at least 16 are needed"),
    (np.ones((5, 5, 5)), r"3-D input"),
    (np.array([1.0, np.inf] * 20), r"inf at row 1"),
    (pd.DataFrame({"v": ["a"] * 40}), r"column 'v': expected numeric values"),
    (np.array([], dtype=float), r"non-empty"),
])
def test_bad_series(bad, message):
    with pytest.raises(InputError, match=message):
        AnomalyDetector(**TINY).fit(bad)


def test_wrong_features_at_scoring(detector):
    with pytest.raises(InputError, match="expected 1 feature"):
        detector.decision_function(np.ones((100, 2)))


def test_constant_series_scores_finite():
    det = AnomalyDetector(**TINY).fit(np.full(200, 3.0))
    assert np.isfinite(det.decision_function(np.full(50, 3.0))).all()


def test_save_load_and_clone(detector, tmp_path):
    path = tmp_path / "d.seqae"
    detector.save(path)
    loaded = load(path)
    x = _series(200, seed=5)
    np.testing.assert_array_equal(loaded.decision_function(x), detector.decision_function(x))
    assert loaded.threshold_ == detector.threshold_
    np.testing.assert_array_equal(loaded.labels_, detector.labels_)
    c = clone(detector)
    assert c.get_params() == detector.get_params() and not hasattr(c, "threshold_")


def test_threshold_params_survive_save_and_load(tmp_path):
    det = AnomalyDetector(**{**TINY, "epochs": 1}, threshold="pot", threshold_params={"q": 0.01, "min_peaks": 5})
    det.fit(_series(200)).save(tmp_path / "d.seqae")
    loaded = load(tmp_path / "d.seqae")
    assert loaded.threshold_params == {"q": 0.01, "min_peaks": 5} and loaded.get_params() == det.get_params()


def test_channel_scale_weighs_down_noisy_channels_only():
    from seqae.detection.series import _channel_scale
    errors = np.array([[1.0, 2.0, 8.0], [1.0, 2.0, 8.0]])          # channel means 1, 2, 8; median 2
    np.testing.assert_allclose(_channel_scale(errors), [1.0, 1.0, 4.0])


def test_channel_weights_train_lets_a_quiet_channel_speak(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(600)
    clean = np.sin(2 * np.pi * t / 25)
    noisy = rng.standard_normal(600)                               # unpredictable: large error everywhere
    test = np.c_[clean, noisy, np.cos(2 * np.pi * t / 25)]
    test[450:470, 0] = 0.0                                         # the clean channel goes flat
    # the channels' errors alone (latent_weight=0): the latent novelty is shared by every channel alike
    det = AnomalyDetector(**TINY, channel_weights="equal", latent_weight=0.0).fit(test[:400])
    assert det.channel_scale_.argmax() == 1 and det.channel_scale_[1] > 1 and det.channel_scale_.min() == 1
    errors = det._point_errors(det._validate(test, fitted=True))      # (n, F), equal weights
    weighted = det.set_params(channel_weights="train").decision_function(test)
    np.testing.assert_allclose(weighted, (errors / det.channel_scale_).mean(axis=1))
    # The noisy channel's share of the score shrinks; the flat-lined clean channel's grows.
    share = det.feature_contributions(test)[450:470] / weighted[450:470, None]
    plain = errors[450:470] / errors[450:470].sum(axis=1, keepdims=True)
    assert share[:, 1].mean() < plain[:, 1].mean() and share[:, 0].mean() > plain[:, 0].mean()
    det.save(tmp_path / "d.seqae")
    loaded = load(tmp_path / "d.seqae")
    np.testing.assert_array_equal(loaded.channel_scale_, det.channel_scale_)
    np.testing.assert_array_equal(loaded.decision_function(test), weighted)
    with pytest.raises(ValueError, match="channel_weights"):
        AnomalyDetector(**TINY, channel_weights="median").fit(test[:400])


def test_a_file_saved_before_channel_weights_loads_with_equal_weights(tmp_path):
    from seqae.tensorfile import load_tensor_file, save_tensor_file
    x = np.c_[_series(400), np.random.default_rng(1).standard_normal(400)]
    det = AnomalyDetector(**TINY, channel_weights="equal").fit(x)
    det.save(tmp_path / "d.seqae")
    tensors, doc = load_tensor_file(tmp_path / "d.seqae", what="seqae model file")
    del doc["params"]["channel_weights"]                      # as written before the parameter existed
    doc["state"].pop("channel_scale_", None)
    save_tensor_file(tmp_path / "old.seqae", tensors, doc)
    old = load(tmp_path / "old.seqae")
    assert old.channel_weights == "equal" and np.array_equal(old.channel_scale_, np.ones(2))
    np.testing.assert_array_equal(old.decision_function(x), det.decision_function(x))


def test_reproducible(detector):
    again = AnomalyDetector(**TINY).fit(_series())
    np.testing.assert_array_equal(again.decision_scores_, detector.decision_scores_)


def test_sequence_detector_flags_odd_sequence():
    rng = np.random.default_rng(0)
    X = sine_collection(rng, 60, 15, 40)
    det = SequenceAnomalyDetector(hidden_size=16, latent_dim=4, epochs=15, learning_rate=3e-3, random_state=0,
                                  device="cpu").fit(X)
    assert det.decision_scores_.shape == (60,) and det.labels_.sum() == pytest.approx(3, abs=1)
    odd = [rng.standard_normal((30, 1)).astype(np.float32) * 3]
    assert det.predict(odd)[0] == 1


def test_a_large_offset_keeps_its_digits():
    # A meter reading near 1e7 that moves by about 1: float32 holds whole units there, so a series cast before
    # standardisation would be rounded to steps (scores then 20x off); standardised in float64, the detector sees
    # the same windows as for the series without the offset, up to float32 rounding.
    x = _series(900, seed=1)
    x[700:705] += 1.0
    plain = AnomalyDetector(**TINY).fit(x[:600]).decision_function(x)
    offset = AnomalyDetector(**TINY).fit(x[:600] + 1e7)
    np.testing.assert_allclose(offset.decision_function(x + 1e7), plain, rtol=1e-3)
    stream = offset.stream()
    parts = [stream.update(x[i:i + 50] + 1e7) for i in range(0, 900, 50)] + [stream.finish()]
    streamed = np.concatenate([p.scores for p in parts])
    assert np.array_equal(streamed, offset.decision_function(x + 1e7))   # the stream keeps the digits too
