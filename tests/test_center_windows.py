"""AnomalyDetector(center_windows=True): the autoencoder sees each window minus its own mean, and the latent
novelty compares the windows' codes followed by those means: the error is blind to a window's level, the
novelty is not; a saved file and an older file score as they should (a stream: tests/test_stream.py)."""
import numpy as np
import pytest

from seqae import AnomalyDetector, load

TINY = dict(window=16, hidden_size=8, latent_dim=3, epochs=4, random_state=0, device="cpu")


def _series(n=900, seed=1):
    rng = np.random.default_rng(seed)
    return np.sin(2 * np.pi * np.arange(n) / 25) + 0.05 * rng.standard_normal(n)


@pytest.mark.parametrize("center", [True, False])
def test_a_constant_offset_moves_the_error_only_without_centering(center):
    x = _series()
    det = AnomalyDetector(**TINY, center_windows=center, latent_weight=0.0).fit(x[:500])
    here, moved = det.decision_function(x), det.decision_function(x + 3.0)
    if center:
        np.testing.assert_allclose(moved, here, rtol=1e-4, atol=1e-6)
    else:
        assert moved.mean() > 10 * here.mean()


def test_the_novelty_still_sees_an_unseen_level():
    x = _series()
    x[600:700] += 2.0                      # the same sine, two units higher
    det = AnomalyDetector(**TINY, center_windows=True).fit(x[:500])
    rec, _, novelty = det._error_parts(det._validate(x, fitted=True))
    # inside the stretch (away from its edges, where a window holds the step) the centred windows are the
    # training sine: the error stays at its level before the stretch; the novelty rises
    inside, before = slice(620, 680), slice(520, 580)
    assert rec[inside].mean() < 2 * rec[before].mean()
    assert novelty[inside].mean() > 3 * novelty[before].mean()
    # the reference codes carry the level: latent_dim values, then one mean per feature
    assert det.latent_reference_.shape == (500 - 16 + 1, 3 + 1)


def test_saved_files_keep_it_and_older_files_load_without_it(tmp_path):
    from seqae.tensorfile import load_tensor_file, save_tensor_file
    x = _series()
    det = AnomalyDetector(**TINY, center_windows=True).fit(x[:500])
    det.save(tmp_path / "d.seqae")
    loaded = load(tmp_path / "d.seqae")
    assert loaded.center_windows is True
    np.testing.assert_array_equal(loaded.decision_function(x), det.decision_function(x))
    plain = AnomalyDetector(**TINY, center_windows=False).fit(x[:500])
    plain.save(tmp_path / "p.seqae")
    tensors, doc = load_tensor_file(tmp_path / "p.seqae", what="test")
    doc["params"].pop("center_windows")              # a file saved before the parameter existed
    save_tensor_file(tmp_path / "old.seqae", tensors, doc)
    old = load(tmp_path / "old.seqae")
    assert old.center_windows is False
    np.testing.assert_array_equal(old.decision_function(x), plain.decision_function(x))


def test_bad_value_is_named():
    with pytest.raises(ValueError, match="center_windows"):
        AnomalyDetector(**TINY, center_windows="yes").fit(_series())
