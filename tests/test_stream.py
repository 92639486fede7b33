"""Streaming scoring (AnomalyDetector.stream): final scores are decision_function's on the concatenated series bit
for bit whatever the chunking, provisional scores are decision_function's on the prefix, the state saves and loads
safely, labels and events agree with the batch ones, and bad input is named."""
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from seqae import AnomalyDetector, InputError, ModelFileError
from seqae._runtime import inference_batches
from seqae.detection.stream import AnomalyStream

# The default model size (hidden_size=32, latent_dim=16); a shorter window and two epochs keep the fit short.
SMALL = dict(window=32, epochs=2, random_state=0, device="cpu")


def _series(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    x = np.sin(np.arange(n) / 6) + 0.1 * rng.standard_normal(n)
    x[700:706] += 3.0
    x[850:880] = 2.0
    return x


@pytest.fixture(scope="module")
def det():
    return AnomalyDetector(**SMALL, threshold="quantile", contamination=0.02, event_gap=8).fit(_series()[:500])


def _stream_all(stream, x, chunk, check_provisional=None, start=0):
    """Feed x in chunks; return every final score, label and the events, placed by position (the stream has
    seen ``start`` points before)."""
    scores, labels = np.full(start + len(x), np.nan), np.full(start + len(x), -1)
    events = []
    for i in range(0, len(x), chunk):
        r = stream.update(x[i:i + chunk])
        scores[r.positions], labels[r.positions] = r.scores, r.labels
        events.append(r.events)
        if check_provisional is not None and len(r.provisional_positions):
            assert r.provisional_positions[-1] == i + len(x[i:i + chunk]) - 1
            assert np.array_equal(r.provisional_scores, check_provisional(x[:i + chunk])[r.provisional_positions])
    r = stream.finish()
    scores[r.positions], labels[r.positions] = r.scores, r.labels
    events.append(r.events)
    return scores, labels, pd.concat(events, ignore_index=True)


@pytest.mark.parametrize("chunk", [1, 7, 100])
def test_final_scores_equal_decision_function_bit_for_bit(det, chunk):
    x = _series()
    scores, _, _ = _stream_all(det.stream(), x, chunk)
    assert np.array_equal(scores, det.decision_function(x))


def test_provisional_scores_are_those_of_the_prefix(det):
    x = _series(400)
    _stream_all(det.stream(), x, 37, check_provisional=det.decision_function)


def test_a_score_is_final_once_window_minus_one_points_followed(det):
    stream = det.stream()
    r = stream.update(_series()[:40])
    assert r.positions.tolist() == list(range(40 - det.window + 1))
    assert r.provisional_positions.tolist() == list(range(40 - det.window + 1, 40))
    empty = stream.update(np.zeros(0))                          # nothing arrived: nothing new, same provisional
    assert len(empty.positions) == 0 and np.array_equal(empty.provisional_scores, r.provisional_scores)


@pytest.mark.parametrize("extra", [dict(stride=5), dict(score_aggregation="mean", forecast=True),
                                   dict(score_aggregation="max", bidirectional=True), dict(point_weight=0.3),
                                   dict(center_windows=True), dict(center_windows=False)])
def test_other_settings_bit_for_bit(extra):
    x = _series(700)
    det = AnomalyDetector(**{**SMALL, "hidden_size": 16}, **extra).fit(x[:400])
    scores, _, _ = _stream_all(det.stream(), x, 13, check_provisional=det.decision_function)
    assert np.array_equal(scores, det.decision_function(x))


def test_history_gives_the_first_points_their_context(det):
    x = _series()
    stream = det.stream(history=x[:500])
    assert stream.n_seen == 0
    scores, _, _ = _stream_all(stream, x[500:], 50)
    assert np.array_equal(scores, det.decision_function(x)[500:])


def test_state_round_trip_mid_stream(det, tmp_path):
    x = _series()
    reference, ref_labels, ref_events = _stream_all(det.stream(), x, 25)
    stream = det.stream()
    first = stream.update(x[:612])
    stream.save(tmp_path / "state.seqae-stream")
    assert not list(tmp_path.glob("*.tmp*"))                     # written atomically: no temporary file left
    resumed = AnomalyStream.load(tmp_path / "state.seqae-stream", det)
    assert resumed.n_seen == 612
    rest, rest_labels, rest_events = _stream_all(resumed, x[612:], 25, start=612)
    scores = np.full(len(x), np.nan)
    scores[first.positions] = first.scores
    done = ~np.isnan(rest)
    scores[done] = rest[done]
    assert np.array_equal(scores, reference)
    labels = np.where(done, rest_labels, -1)
    labels[first.positions] = first.labels
    assert np.array_equal(labels, ref_labels)
    assert pd.concat([first.events, rest_events], ignore_index=True).equals(ref_events)


def test_state_continues_with_the_detector_saved_and_loaded_elsewhere(det, tmp_path):
    from seqae import load
    x = _series()
    stream = det.stream()
    first = stream.update(x[:300])
    stream.save(tmp_path / "s.seqae-stream")
    det.save(tmp_path / "det.seqae")
    again = load(tmp_path / "det.seqae", device="cpu").set_params(num_threads=1)
    rest = AnomalyStream.load(tmp_path / "s.seqae-stream", again).update(x[300:])
    both = np.concatenate([first.scores, rest.scores])
    assert np.array_equal(both, det.decision_function(x)[:len(both)])


def test_a_state_saved_with_float32_points_still_loads(det, tmp_path):
    # States written before the stream kept its points in float64 hold them as float32.
    from seqae.tensorfile import load_tensor_file, save_tensor_file
    x = _series()
    stream = det.stream()
    stream.update(x[:300])
    stream.save(tmp_path / "s.seqae-stream")
    tensors, doc = load_tensor_file(tmp_path / "s.seqae-stream", what="test")
    assert tensors["tail"].dtype == torch.float64
    tensors["tail"] = tensors["tail"].float()
    save_tensor_file(tmp_path / "old.seqae-stream", tensors, doc)
    rest = AnomalyStream.load(tmp_path / "old.seqae-stream", det).update(x[300:])
    np.testing.assert_allclose(rest.scores, det.decision_function(x)[rest.positions], rtol=1e-4)


def test_state_file_of_another_detector_or_damaged_is_refused(det, tmp_path):
    stream = det.stream()
    stream.update(_series()[:100])
    path = tmp_path / "s.seqae-stream"
    stream.save(path)
    other = AnomalyDetector(**{**SMALL, "random_state": 1}, threshold="quantile").fit(_series()[:500])
    with pytest.raises(ModelFileError, match="another detector"):
        AnomalyStream.load(path, other)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        AnomalyStream.load(path, det)


def test_labels_and_events_equal_the_batch_ones_for_a_fixed_threshold(det):
    x = _series()
    _, labels, events = _stream_all(det.stream(), x, 9)
    assert np.array_equal(labels, det.predict(x))
    batch = det.detect_events(x)
    assert len(batch) >= 2                         # the spike and the level shift
    cols = ["start_pos", "end_pos", "length", "peak_score", "severity", "channels"]
    assert events[cols].equals(batch[cols])
    assert events["peak"].tolist() == batch["peak"].tolist()


def test_dynamic_rule_labels_the_newest_points_on_the_recent_scores():
    x = _series()
    det = AnomalyDetector(**SMALL, threshold="dynamic").fit(x[:500])
    stream = det.stream(label_window=300)
    _, labels, events = _stream_all(stream, x, 50)
    assert labels.min() == 0 and labels.max() == 1
    assert labels[700:706].any() or labels[850:880].any()
    assert len(events) >= 1 and (events["length"] >= 1).all()
    # each update's labels are those the rule gives the newest of the last label_window final scores
    fresh = det.stream(label_window=300)
    fresh.update(x[:600])
    recent_before = fresh._recent.copy()
    r = fresh.update(x[600:650])
    window = np.concatenate([recent_before, r.scores])[-300:]
    assert np.array_equal(r.labels, det._label(window)[-len(r.scores):])


def test_bad_input_is_named(det):
    with pytest.raises(NotFittedError):
        AnomalyDetector().stream()
    stream = det.stream()
    with pytest.raises(InputError, match=r"expected 1 feature\(s\) as in fit, got 2"):
        stream.update(np.zeros((5, 2)))
    with pytest.raises(InputError, match="NaN.*fill missing points"):
        stream.update(np.array([0.0, np.nan]))
    stream.update(_series()[:50])
    stream.finish()
    with pytest.raises(RuntimeError, match="finished"):
        stream.update([1.0])


def test_multivariate_dataframe_stream():
    rng = np.random.default_rng(3)
    t = np.arange(600)
    frame = pd.DataFrame({"a": np.sin(t / 5), "b": np.cos(t / 7) + 0.05 * rng.standard_normal(600)})
    det = AnomalyDetector(**{**SMALL, "hidden_size": 16}).fit(frame.iloc[:300])
    stream = det.stream()
    scores = np.full(600, np.nan)
    for i in range(0, 600, 60):
        r = stream.update(frame.iloc[i:i + 60])
        scores[r.positions] = r.scores
    r = stream.finish()
    scores[r.positions] = r.scores
    assert np.array_equal(scores, det.decision_function(frame))
    with pytest.raises(InputError, match="missing 'b'"):
        det.stream().update(frame.rename(columns={"b": "c"}))


def test_a_window_alone_gets_the_bits_it_gets_among_others(det):
    x = _series().astype(np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(x, det.window)[:, :, None].copy()
    together, _ = det.autoencoder_.step_errors(windows[:300])
    for i in (0, 150, 299):
        alone, _ = det.autoencoder_.step_errors(windows[i:i + 1])
        assert np.array_equal(alone[0], together[i])


def test_inference_batches_never_leave_a_lone_last_row():
    for n in (2, 1025, 2049, 513):
        for workers in (1, 2):
            batches = inference_batches(np.full(n, 32), workers)
            assert sorted(np.concatenate(batches).tolist()) == list(range(n))
            assert len(batches) == 1 or len(batches[-1]) > 1


def test_multivariate_events_name_the_channels_as_the_batch_does(tmp_path):
    rng = np.random.default_rng(5)
    t = np.arange(900)
    frame = pd.DataFrame({"a": np.sin(t / 5), "b": np.cos(t / 7), "c": np.sin(t / 11)})
    frame += 0.05 * rng.standard_normal(frame.shape)
    frame.iloc[600:610, 1] += 3.0                    # only b
    frame.iloc[750:760, [0, 2]] -= 2.5               # a and c
    det = AnomalyDetector(**{**SMALL, "hidden_size": 16}, threshold="quantile", contamination=0.02,
                          event_gap=10).fit(frame.iloc[:450])
    stream = det.stream()
    events = [stream.update(frame.iloc[:790]).events]
    assert stream._event is not None                              # saved in the middle of an event:
    stream.save(tmp_path / "s")                                   # the state carries its channel sums
    stream = AnomalyStream.load(tmp_path / "s", det)
    for i in range(790, 900, 3):
        events.append(stream.update(frame.iloc[i:i + 3]).events)
    events.append(stream.finish().events)
    events = pd.concat(events, ignore_index=True)
    batch = det.detect_events(frame)
    assert events["channels"].tolist() == batch["channels"].tolist()
    assert events["start_pos"].tolist() == batch["start_pos"].tolist()
    named = dict(zip(batch["start_pos"], batch["channels"]))
    assert any(s <= 605 <= e and named[s].startswith("b") for s, e in zip(batch["start_pos"], batch["end_pos"]))
