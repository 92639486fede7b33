"""AnomalyDetector's events and threshold rules, and the forecast head: detect_events, the dynamic rule with
pruning, next-step errors aligned with the step predicted and masked at padding, persistence of both."""
import numpy as np
import pandas as pd
import pytest
import torch

from seqae import AnomalyDetector, LSTMAutoencoder, load
from seqae.data.windows import ForecastAccumulator
from seqae.events import adaptive_runs
from seqae.exceptions import ModelFileError
from seqae.nn.autoencoder import AutoencoderConfig, SequenceAutoencoder
from seqae.nn.losses import forecast_loss, forecast_squared_error
from seqae.thresholds import dynamic_threshold

TINY = dict(window=16, hidden_size=8, latent_dim=3, epochs=4, random_state=0, device="cpu")


def _series(n=600, seed=0):
    rng = np.random.default_rng(seed)
    return np.sin(2 * np.pi * np.arange(n) / 25) + 0.05 * rng.standard_normal(n)


def _with_anomalies():
    x = _series(900, seed=1)
    x[400:403] += 4.0          # a short spike
    x[700:730] = 2.5           # a flat stretch above the range, where a sine is expected
    return x


@pytest.mark.parametrize("threshold", ["quantile", "dynamic"])
def test_detect_events_finds_the_injected_anomalies(threshold):
    det = AnomalyDetector(**TINY, threshold=threshold, event_gap=8).fit(_series())
    x = _with_anomalies()
    events = det.detect_events(x)
    spans = events[["start_pos", "end_pos"]].to_numpy()
    hit = lambda a, b: bool(((spans[:, 0] <= b) & (spans[:, 1] >= a)).any())  # noqa: E731
    # the dynamic rule keeps the clearest excursion (here the level shift) and may prune or not flag weaker ones
    assert hit(700, 729) and (threshold == "dynamic" or hit(400, 402))
    # events are the merged runs of predict's labels
    labels = det.predict(x)
    assert labels[events["peak"].to_numpy()].all()
    assert set(np.flatnonzero(labels)) <= set(np.concatenate([np.arange(a, b + 1) for a, b in spans]))
    assert (events["length"] == events["end_pos"] - events["start_pos"] + 1).all()


def test_dynamic_rule_flags_less_than_a_low_quantile_on_clean_data():
    clean = _series(900, seed=3)
    quantile = AnomalyDetector(**TINY, threshold="quantile", contamination=0.05).fit(_series())
    dynamic = AnomalyDetector(**TINY, threshold="dynamic").fit(_series())
    assert dynamic.predict(clean).sum() < quantile.predict(clean).sum()
    # With the latent novelty (the default) this tiny model's scores wander more on clean data: a few short
    # events (3 here, 27 of 900 points), where the errors alone give at most one.
    assert dynamic.predict(clean).mean() < 0.05
    errors_only = AnomalyDetector(**TINY, threshold="dynamic", latent_weight=0.0).fit(_series())
    assert len(errors_only.detect_events(clean)) <= 1


def test_dynamic_rule_parameters_reach_pruning_and_threshold():
    x = _with_anomalies()
    loose = AnomalyDetector(**TINY, threshold="dynamic", threshold_params={"min_percent": 0.0}).fit(_series())
    strict = AnomalyDetector(**TINY, threshold="dynamic", threshold_params={"min_percent": 0.9}).fit(_series())
    assert len(strict.detect_events(x)) <= len(loose.detect_events(x))
    with pytest.raises(Exception, match="does not take"):
        AnomalyDetector(**TINY, threshold="dynamic", threshold_params={"q": 0.1}).fit(_series())


def test_dynamic_rule_labels_in_rounds_that_threshold_params_set():
    det = AnomalyDetector(**TINY, threshold="dynamic", event_gap=8).fit(_series())
    x = _with_anomalies()
    scores = det.decision_function(x)
    for rounds in (None, 1, 2):
        det.set_params(threshold_params=None if rounds is None else {"rounds": rounds})
        runs, flags = adaptive_runs(scores, dynamic_threshold, gap=8, min_percent=0.05, rounds=rounds or 3,
                                    later_min_percent=0.1)
        assert det.predict(x).tolist() == flags.astype(int).tolist()
        assert det.detect_events(x)[["start_pos", "end_pos"]].to_numpy().tolist() == runs.tolist()
    with pytest.raises(Exception, match="rounds must be an integer >= 1, got 0"):
        AnomalyDetector(**TINY, threshold="dynamic", threshold_params={"rounds": 0}).fit(_series())


def test_a_saved_detector_labels_with_the_defaults_it_was_fitted_with(tmp_path, monkeypatch):
    from seqae.detection import base
    from seqae.tensorfile import load_tensor_file, save_tensor_file
    x = _series(1500, seed=1)
    x[400:403] += 8.0            # a large spike that, for one round, hides the two smaller ones
    x[800:803] += 1.5
    x[1200:1203] -= 1.5
    det = AnomalyDetector(**TINY, event_gap=8).fit(_series())
    three = det.predict(x)
    one = det.set_params(threshold_params={"rounds": 1}).predict(x)
    det.set_params(threshold_params=None)
    assert det.label_params_ == base.LABEL_PARAMS and (three != one).any()   # rounds matter on this series
    det.save(tmp_path / "d.seqae")
    # A later version's defaults do not change how a fitted or a saved detector labels.
    monkeypatch.setattr(base, "LABEL_PARAMS", {"dynamic": {"min_percent": 0.05, "rounds": 1}})
    assert det.predict(x).tolist() == three.tolist()
    assert load(tmp_path / "d.seqae").predict(x).tolist() == three.tolist()
    # A file saved before the defaults were recorded labels as it did then: one round.
    tensors, doc = load_tensor_file(tmp_path / "d.seqae", what="test")
    doc["state"].pop("label_params_")
    save_tensor_file(tmp_path / "old.seqae", tensors, doc)
    old = load(tmp_path / "old.seqae")
    assert old.label_params_ == base.LEGACY_LABEL_PARAMS and old.predict(x).tolist() == one.tolist()
    doc["state"]["label_params_"] = {"dynamic": {"min_percent": 0.05, "rounds": 0}}
    save_tensor_file(tmp_path / "bad.seqae", tensors, doc)
    with pytest.raises(ModelFileError, match="rounds"):
        load(tmp_path / "bad.seqae")


def test_events_of_a_dataframe_carry_timestamps_and_channels():
    x = _with_anomalies()
    idx = pd.date_range("2024-01-01", periods=len(x), freq="min")
    frame = pd.DataFrame({"a": x, "b": np.cos(np.arange(len(x)) / 4)}, index=idx)
    det = AnomalyDetector(**TINY).fit(frame.iloc[:600])
    events = det.detect_events(frame)
    assert len(events) and isinstance(events["start"].iloc[0], pd.Timestamp)
    assert all(set(c.split(";")) <= {"a", "b"} and c for c in events["channels"])


# ------------------------------------------------------------------------------------------------- forecast
def test_forecast_error_is_aligned_with_the_predicted_step():
    target = torch.zeros(1, 4, 1)
    forecast = torch.zeros(1, 4, 1)
    forecast[0, 1, 0] = 2.0                       # step 1's prediction of step 2 is wrong by 2
    err = forecast_squared_error(forecast, target, torch.tensor([4]))
    assert err[0].tolist() == [0.0, 0.0, 4.0, 0.0]


def test_forecast_loss_gives_padded_steps_zero_gradient():
    torch.manual_seed(0)
    module = SequenceAutoencoder(AutoencoderConfig(n_features=2, hidden_size=5, latent_dim=3, forecast=True)).train()
    x = torch.randn(3, 7, 2, requires_grad=True)
    lengths = torch.tensor([7, 4, 1])
    out = module(x, lengths)
    loss = forecast_loss(out.forecast, x, lengths)
    loss.backward()
    assert torch.isfinite(loss)
    assert x.grad[1, 4:].abs().sum() == 0 and x.grad[2, 1:].abs().sum() == 0
    assert x.grad[1, :4].abs().sum() > 0
    # changing padded values changes nothing
    x2 = x.detach().clone()
    x2[1, 4:] = 1e6
    assert torch.equal(forecast_loss(module(x2, lengths).forecast, x2, lengths), loss.detach()) or \
        torch.allclose(forecast_loss(module(x2, lengths).forecast, x2, lengths), loss.detach())


def test_forecast_accumulator_takes_the_most_informed_window():
    acc = ForecastAccumulator(6, 1)
    errors = np.arange(12, dtype=float).reshape(3, 4, 1)   # windows of 4 at starts 0, 1, 2
    acc.add(np.array([0, 1, 2]), errors)
    # point 3: position 3 in window 0 (value 3); point 4: position 3 in window 1 (7); point 5: window 2 (11)
    # point 1: position 1 in window 0 (1); point 2: position 2 in window 0 (2); point 0: never predicted
    assert acc.result()[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0, 7.0, 11.0]


def test_forecast_detector_sees_a_spike_at_its_point_and_round_trips(tmp_path):
    det = AnomalyDetector(**TINY, forecast=True, forecast_weight=1.0, latent_weight=0.0).fit(_series())
    x = _with_anomalies()
    scores = det.decision_function(x)
    assert 400 <= int(np.argmax(scores)) <= 404
    assert det.error_scale_.shape == (2,) and (det.error_scale_ > 0).all()
    path = tmp_path / "f.seqae"
    det.save(path)
    loaded = load(path)
    np.testing.assert_array_equal(loaded.decision_function(x), scores)
    np.testing.assert_array_equal(loaded.error_scale_, det.error_scale_)


def test_forecast_weight_zero_is_the_reconstruction_score():
    det = AnomalyDetector(**TINY, forecast=True, forecast_weight=0.0, forecast_margin=None,
                          latent_weight=0.0).fit(_series())
    x = _with_anomalies()
    rec, _, _ = det._error_parts(det._validate(x, fitted=True))
    np.testing.assert_allclose(det.decision_function(x), rec.mean(axis=1) / det.error_scale_[0])


def test_the_next_step_error_counts_beyond_its_margin(tmp_path):
    """forecast_margin: a point scores max(E, E_max * P / (margin * P_max)), E the error without it and P the
    next-step error, each in units of its training mean, E_max and P_max their training maxima."""
    from seqae.tensorfile import load_tensor_file, save_tensor_file
    x = _with_anomalies()
    plain = AnomalyDetector(**TINY, forecast_margin=None, latent_weight=0.0).fit(_series())
    det = AnomalyDetector(**TINY, forecast_margin=2.0, latent_weight=0.0).fit(_series())
    assert plain.forecast_range_ is not None and det.forecast_range_ is not None   # the same fit: same maxima
    np.testing.assert_array_equal(plain.forecast_range_, det.forecast_range_)
    rec, fc, _ = det._error_parts(det._validate(x, fitted=True), forecast=True)
    error = rec.mean(axis=1) / det.error_scale_[0]
    p = fc.mean(axis=1) / det.error_scale_[1]
    e_max, p_max = det.forecast_range_
    np.testing.assert_allclose(det.decision_function(x), np.maximum(error, e_max * p / (2.0 * p_max)), rtol=1e-12)
    np.testing.assert_allclose(plain.decision_function(x), error, rtol=1e-12)
    assert (det.decision_function(x) > plain.decision_function(x)).any()      # the spike's next-step error counts
    # saved and loaded: the maxima travel; a file written before the margin scores without it
    det.save(tmp_path / "d.seqae")
    np.testing.assert_array_equal(load(tmp_path / "d.seqae").decision_function(x), det.decision_function(x))
    tensors, doc = load_tensor_file(tmp_path / "d.seqae", what="seqae model file")
    del doc["params"]["forecast_margin"]
    doc["state"].pop("forecast_range_")
    save_tensor_file(tmp_path / "old.seqae", tensors, doc)
    old = load(tmp_path / "old.seqae")
    assert old.forecast_margin is None and old.forecast_range_ is None
    np.testing.assert_array_equal(old.decision_function(x), plain.decision_function(x))
    with pytest.raises(ValueError, match="forecast_margin"):
        AnomalyDetector(**TINY, forecast_margin=0.5).fit(_series())


def test_autoencoder_step_errors_and_determinism():
    X = np.stack([_series(20, seed=s) for s in range(8)])[..., None]
    a = LSTMAutoencoder(hidden_size=6, latent_dim=2, epochs=2, forecast=True, random_state=0).fit(X)
    b = LSTMAutoencoder(hidden_size=6, latent_dim=2, epochs=2, forecast=True, random_state=0).fit(X)
    rec, fc = a.step_errors(X)
    assert rec.shape == fc.shape == X.shape and (fc[:, 0] == 0).all()
    np.testing.assert_allclose(rec, a.reconstruction_error(X, per_step=True, per_feature=True), rtol=1e-6)
    np.testing.assert_array_equal(fc, b.step_errors(X)[1])
    plain_rec, plain_fc = LSTMAutoencoder(hidden_size=6, latent_dim=2, epochs=1, random_state=0).fit(X).step_errors(X)
    assert plain_fc is None and plain_rec.shape == X.shape
