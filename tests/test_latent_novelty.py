"""The windows' latent novelty in AnomalyDetector's scores (``latent_weight``, ``latent_mix``): what it sees
that the reconstruction error does not, its mix, its bits in a stream, its files."""
import numpy as np
import pytest

from seqae import AnomalyDetector, load
from seqae.detection.neighbors import window_novelty

TINY = dict(window=16, hidden_size=8, latent_dim=3, epochs=4, random_state=0, device="cpu")


def _series(n=600, seed=0, level=0.0):
    rng = np.random.default_rng(seed)
    return level + np.sin(2 * np.pi * np.arange(n) / 25) + 0.05 * rng.standard_normal(n)


def _shifted():
    x = _series(900, seed=1)
    x[600:700] += 2.0           # the same sine, two units higher: an unseen level
    return x


def test_window_novelty_is_the_same_row_by_row_and_skips_a_windows_own_stretch():
    rng = np.random.default_rng(0)
    ref, codes = rng.normal(size=(50, 4)).astype(np.float32), rng.normal(size=(700, 4)).astype(np.float32)
    whole = window_novelty(ref, codes, 5)
    pieces = np.concatenate([window_novelty(ref, codes[i:i + 3], 5) for i in range(0, 700, 3)])
    np.testing.assert_array_equal(whole, pieces)                 # a stream's few windows get the batch's bits
    brute = np.sort(np.linalg.norm(codes[:, None, :] - ref[None], axis=2), axis=1)[:, :5].mean(axis=1)
    np.testing.assert_allclose(whole, brute, rtol=1e-4)
    # The reference rows themselves: with no gap each is its own nearest (distance 0); with a gap of 3 starts,
    # the rows of its own stretch are skipped.
    starts = np.arange(50)
    assert window_novelty(ref, ref, 1)[0] == pytest.approx(0.0, abs=1e-3)
    skipped = window_novelty(ref, ref, 1, reference_starts=starts, starts=starts, min_gap=3)
    far = np.linalg.norm(ref[:, None] - ref[None], axis=2)
    far[np.abs(starts[:, None] - starts[None]) < 3] = np.inf
    np.testing.assert_allclose(skipped, far.min(axis=1), rtol=1e-4)
    # fewer than k rows far enough (all within the gap): the nearest of all, not infinity
    assert np.isfinite(window_novelty(ref[:4], ref[:4], 2, reference_starts=starts[:4], starts=starts[:4],
                                      min_gap=10)).all()


def test_novelty_rises_where_the_level_is_unseen():
    x = _shifted()
    det = AnomalyDetector(**TINY).fit(x[:500])
    _, _, novelty = det._error_parts(det._validate(x, fitted=True))            # (n, 1)
    inside, before = novelty[620:680, 0].mean(), novelty[520:580, 0].mean()
    assert inside > 3 * before
    assert det.mix_scale_.shape == (2,) and (det.mix_scale_ > 0).all()
    assert det.latent_reference_.shape == (500 - 16 + 1, 3) and det.latent_reference_.dtype == np.float32


@pytest.mark.parametrize("mix", ["max", "sum"])
def test_latent_weight_mixes_the_two_in_units_of_their_training_means(mix):
    x = _shifted()
    det = AnomalyDetector(**TINY, latent_weight=0.3, latent_mix=mix).fit(x[:500])
    errors, fc, novelty = det._error_parts(det._validate(x, fitted=True))
    plain = det.set_params(latent_weight=0.0).decision_function(x)              # E alone, as before the novelty
    np.testing.assert_allclose(plain, det._combine(errors, fc).mean(axis=1))
    mixed = det.set_params(latent_weight=0.3).decision_function(x)
    e, n = 0.7 * plain / det.mix_scale_[0], 0.3 * novelty[:, 0] / det.mix_scale_[1]
    np.testing.assert_allclose(mixed, np.maximum(e, n) if mix == "max" else e + n, rtol=1e-6)
    if mix == "max":   # both sources take part somewhere on this series, so the rule is exercised both ways
        assert (n > e).any() and (e > n).any()
    # The training scores are the same mix (threshold and labels come from them).
    train = det._error_parts(det._validate(x[:500], fitted=True), novelty=True,
                             reference_starts=np.arange(500 - 16 + 1))
    np.testing.assert_allclose(det.mix_scale_[1], train[2].mean())
    with pytest.raises(ValueError, match="latent_weight"):
        AnomalyDetector(**TINY, latent_weight=1.5).fit(x[:500])
    with pytest.raises(ValueError, match="latent_mix"):
        AnomalyDetector(**TINY, latent_mix="product").fit(x[:500])


def test_max_keeps_the_channels_shares_of_the_error():
    # Two channels: where the novelty wins, its excess is added to both alike, so the channel that carries
    # more of the error still carries more, and the channels' mean is the larger of the two.
    x = np.column_stack([_shifted(), 0.5 * _series(900, seed=2)])
    det = AnomalyDetector(**TINY, channel_weights="equal").fit(x[:500])
    rec, fc, novelty = det._error_parts(det._validate(x, fitted=True))
    per_channel = det._combine(rec, fc, novelty)                                   # (n, 2)
    e = 0.5 * det._combine(rec, fc) / det.mix_scale_[0]
    n = 0.5 * novelty[:, 0] / det.mix_scale_[1]
    np.testing.assert_allclose(per_channel.mean(axis=1), np.maximum(e.mean(axis=1), n), rtol=1e-6)
    np.testing.assert_allclose(per_channel[:, 0] - per_channel[:, 1], e[:, 0] - e[:, 1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stride,mix", [(1, "max"), (3, "max"), (1, "sum")])
def test_a_stream_gives_the_batchs_bits_with_the_novelty(stride, mix):
    x = _shifted()
    det = AnomalyDetector(**TINY, stride=stride, latent_weight=0.5, latent_mix=mix).fit(x[:500])
    stream = det.stream(history=x[:300])
    parts = [stream.update(x[i:i + 29]).scores for i in range(300, 900, 29)] + [stream.finish().scores]
    np.testing.assert_array_equal(np.concatenate(parts), det.decision_function(x)[300:])


def test_files_keep_the_codes_and_old_files_score_without_them(tmp_path):
    from seqae.tensorfile import load_tensor_file, save_tensor_file
    x = _shifted()
    det = AnomalyDetector(**TINY).fit(x[:500])
    det.save(tmp_path / "d.seqae")
    loaded = load(tmp_path / "d.seqae")
    np.testing.assert_array_equal(loaded.latent_reference_, det.latent_reference_)
    np.testing.assert_array_equal(loaded.decision_function(x), det.decision_function(x))
    # A file from before the novelty: no codes, no mix_scale_, no latent_weight recorded -> E alone.
    tensors, doc = load_tensor_file(tmp_path / "d.seqae", what="test")
    for name in ("latent_reference_", "latent_center_", "latent_spread_"):
        tensors.pop(name)
    doc["state"].pop("mix_scale_")
    doc["params"].pop("latent_weight")
    save_tensor_file(tmp_path / "old.seqae", tensors, doc)
    old = load(tmp_path / "old.seqae")
    assert old.latent_weight == 0.0 and old.latent_reference_ is None
    np.testing.assert_allclose(old.decision_function(x), det.set_params(latent_weight=0.0).decision_function(x))
    with pytest.raises(ValueError, match="refit"):
        old.set_params(latent_weight=0.5).decision_function(x)
    # A file from before latent_mix added the novelty to the error, and still does.
    tensors, doc = load_tensor_file(tmp_path / "d.seqae", what="test")
    doc["params"].pop("latent_mix")
    save_tensor_file(tmp_path / "sum.seqae", tensors, doc)
    summed = load(tmp_path / "sum.seqae")
    assert summed.latent_mix == "sum" and det.latent_mix == "max"
    np.testing.assert_allclose(summed.decision_function(x),
                               det.set_params(latent_weight=0.5, latent_mix="sum").decision_function(x))
