"""LSTMAutoencoder as a scikit-learn estimator: structure of outputs, masking through the public API, VAE batch
sizes, reproducibility, persistence, clone, and a small learning test."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from conftest import VARIANTS, sine_collection, variant_id
from seqae import InputError, LSTMAutoencoder, load
from conftest import BEFORE_16  # the training and read-out of before issue #16

TINY = dict(hidden_size=8, latent_dim=3, epochs=2, batch_size=8, random_state=0, device="cpu", **BEFORE_16)


@pytest.fixture(scope="module")
def data():
    return sine_collection(np.random.default_rng(0), 24, 5, 30)


@pytest.fixture(scope="module")
def fitted(data):
    return LSTMAutoencoder(**TINY).fit(data)


def test_init_only_stores_and_params_roundtrip():
    ae = LSTMAutoencoder(hidden_size=-5, pooling="nonsense")  # invalid values are accepted until fit
    assert ae.get_params()["hidden_size"] == -5
    with pytest.raises(ValueError, match="hidden_size must be an integer >= 1"):
        ae.fit([np.zeros((3, 1))])
    with pytest.raises(TypeError):
        LSTMAutoencoder(64)  # keyword-only


def test_output_structures(fitted, data):
    assert fitted.transform(data).shape == (24, 3)
    R = fitted.reconstruct(data)
    assert isinstance(R, list) and [r.shape for r in R] == [d.shape for d in data]
    assert fitted.reconstruction_error(data).shape == (24,)
    E = fitted.reconstruction_error(data, per_step=True)
    assert isinstance(E, list) and [e.shape for e in E] == [(len(d),) for d in data]
    assert fitted.reconstruction_error(data, per_feature=True).shape == (24, 1)
    # Per-sequence error is the mean of the per-step errors.
    np.testing.assert_allclose(fitted.reconstruction_error(data), [e.mean() for e in E], rtol=1e-5)
    # Univariate (T_i,) lists and (N, T) arrays come back in the same structure.
    flat = [d[:, 0] for d in data]
    assert [r.shape for r in fitted.reconstruct(flat)] == [f.shape for f in flat]
    arr = np.stack([d[:5, 0] for d in data])
    assert fitted.reconstruct(arr).shape == arr.shape
    assert fitted.reconstruction_error(arr, per_step=True).shape == arr.shape


def test_not_fitted():
    with pytest.raises(NotFittedError):
        LSTMAutoencoder().transform([np.zeros((3, 1))])


@pytest.mark.parametrize("v", VARIANTS, ids=variant_id)
def test_masking_invariance_through_public_api(v, data):
    ae = LSTMAutoencoder(**{**TINY, "epochs": 1}, **v).fit(data)
    short = data[0][:6]
    long_batch = [np.tile(d, (3, 1)) for d in data[1:4]]  # much longer neighbours
    alone_z, alone_e = ae.transform([short]), ae.reconstruction_error([short], per_step=True)
    mixed = long_batch[:1] + [short] + long_batch[1:]
    np.testing.assert_allclose(ae.transform(mixed)[1], alone_z[0], atol=1e-5)
    np.testing.assert_allclose(ae.reconstruction_error(mixed, per_step=True)[1], alone_e[0], atol=1e-5)
    np.testing.assert_allclose(ae.reconstruct(mixed)[1], ae.reconstruct([short])[0], atol=1e-5)


@pytest.mark.parametrize("batch_size", [32, 1])
def test_vae_trains_and_scores_with_odd_batch_sizes(batch_size, rng):
    X = sine_collection(rng, 33, 5, 15)
    ae = LSTMAutoencoder(**{**TINY, "batch_size": batch_size, "epochs": 1, "validation_fraction": 0.0},
                         variational=True).fit(X)
    assert ae.n_epochs_ == 1
    assert np.isfinite(ae.reconstruction_error(X)).all()
    assert ae.transform(X).shape == (33, 3)


def test_reproducible_with_random_state(data):
    a = LSTMAutoencoder(**TINY, variational=True, dropout=0.2, num_layers=2).fit(data)
    b = LSTMAutoencoder(**TINY, variational=True, dropout=0.2, num_layers=2).fit(data)
    np.testing.assert_array_equal(a.transform(data), b.transform(data))
    assert a.history_ == b.history_
    c = LSTMAutoencoder(**{**TINY, "random_state": 1}, variational=True).fit(data)
    assert not np.array_equal(a.transform(data), c.transform(data))


def test_fit_leaves_global_torch_rng_alone(data):
    import torch
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    LSTMAutoencoder(**TINY).fit(data)
    torch.testing.assert_close(torch.rand(3), expected)


def test_save_load_roundtrip_identical(fitted, data, tmp_path):
    path = tmp_path / "m.seqae"
    fitted.save(path)
    loaded = load(path)
    assert type(loaded) is LSTMAutoencoder and loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.transform(data), fitted.transform(data))
    np.testing.assert_array_equal(loaded.reconstruction_error(data), fitted.reconstruction_error(data))
    assert loaded.history_ == fitted.history_
    assert not list(tmp_path.glob("*.tmp"))


def test_clone_gives_unfitted_copy(fitted):
    c = clone(fitted)
    assert c.get_params() == fitted.get_params()
    assert not hasattr(c, "module_")


def test_fit_transform_and_pipeline(data):
    Z1 = LSTMAutoencoder(**TINY).fit_transform(data)
    Z2 = LSTMAutoencoder(**TINY).fit(data).transform(data)
    np.testing.assert_array_equal(Z1, Z2)
    pipe = make_pipeline(LSTMAutoencoder(**TINY), FunctionTransformer(np.abs))
    assert pipe.fit_transform(data).shape == (24, 3)
    assert list(LSTMAutoencoder(**TINY).fit(data).get_feature_names_out())[:2] == ["lstmautoencoder0",
                                                                                   "lstmautoencoder1"]


def test_constant_feature_does_not_divide_by_zero(rng):
    X = [np.c_[np.sin(np.arange(n) / 3), np.full(n, 7.0)] for n in range(8, 20)]
    ae = LSTMAutoencoder(**TINY).fit(X)
    assert ae.scaler_.scale[1] == 1.0
    assert np.isfinite(ae.reconstruction_error(X)).all()


def test_attention_weights_public(data):
    ae = LSTMAutoencoder(**TINY, pooling="attention").fit(data)
    w = ae.attention_weights(data[:3])
    assert [len(x) for x in w] == [len(d) for d in data[:3]]
    np.testing.assert_allclose([x.sum() for x in w], 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="pooling='attention'"):
        LSTMAutoencoder(**TINY).fit(data).attention_weights(data)


@pytest.mark.parametrize("bad, message", [
    ([np.array([[1.0], [np.nan]])], r"sequence 0: contains NaN"),
    ([np.ones((3, 1)), np.array([[np.inf]])], r"sequence 1: contains inf"),
    ([], r"empty collection"),
    ([np.ones((3, 1)), np.ones((0, 1))], r"sequence 1: is empty"),
    ([np.ones((3, 1)), np.ones((3, 2))], r"sequence 1: has 2 features but sequence 0 has 1"),
    (np.ones((2, 3, 4, 5)), r"got 4-D input"),
    ([np.array(["a", "b"])], r"sequence 0: expected a numeric dtype"),
    ([np.array([[1e39]])], r"overflow float32"),
])
def test_bad_input_errors(bad, message):
    with pytest.raises(InputError, match=message):
        LSTMAutoencoder(**TINY).fit(bad)


def test_wrong_feature_count_after_fit(fitted):
    with pytest.raises(InputError, match="has 2 features, but the model was fitted with 1"):
        fitted.transform([np.ones((4, 2))])


def test_input_not_modified(data):
    before = [d.copy() for d in data]
    ae = LSTMAutoencoder(**TINY).fit(data)
    ae.reconstruct(data)
    for a, b in zip(before, data):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_learns_sines_and_flags_an_odd_sequence():
    rng = np.random.default_rng(42)
    train, test = sine_collection(rng, 240), sine_collection(rng, 40)
    ae = LSTMAutoencoder(**BEFORE_16, hidden_size=32, latent_dim=8, epochs=40, learning_rate=3e-3, random_state=0,
                         device="cpu").fit(train)
    err = ae.reconstruction_error(test)
    # Predicting each feature's mean scores 1.0 in standardised units.
    mean_baseline = np.mean([np.mean(((t - ae.scaler_.mean) / ae.scaler_.scale) ** 2) for t in test])
    assert err.mean() < 0.35 * mean_baseline, (err.mean(), mean_baseline)
    odd = [np.sign(np.sin(np.arange(50) / 2.0))[:, None] * 2.0]  # a square wave of twice the amplitude
    assert ae.reconstruction_error(odd)[0] > np.quantile(err, 0.95)


def test_pooled_features_latent_part_and_masking(data):
    ae = LSTMAutoencoder(**TINY, bidirectional=True).fit(data)
    F = ae.pooled_features(data)
    assert F.shape == (24, 3 + 3 * 16)
    np.testing.assert_allclose(F[:, :3], ae.transform(data), atol=1e-6)
    short, longer = data[0][:5], [np.tile(d, (3, 1)) for d in data[1:3]]
    np.testing.assert_allclose(ae.pooled_features([longer[0], short, longer[1]])[1],
                               ae.pooled_features([short])[0], atol=1e-5)
    with pytest.raises(ValueError, match="outputs must be"):
        ae.pooled_features(data, outputs=("median",))


def test_decoder_hidden_size_narrows_only_the_decoder_and_survives_save(data, tmp_path):
    ae = LSTMAutoencoder(**BEFORE_16, hidden_size=12, decoder_hidden_size=3, latent_dim=4, epochs=2, random_state=0).fit(data)
    assert ae.module_.encoder.forward_layers[0].hidden_size == 12
    assert ae.module_.decoder.lstm.hidden_size == 3
    assert ae.module_.decoder.head.in_features == 3
    path = tmp_path / "narrow.seqae"
    ae.save(path)
    loaded = load(path)
    assert loaded.decoder_hidden_size == 3
    np.testing.assert_array_equal(loaded.reconstruction_error(data), ae.reconstruction_error(data))
    same = LSTMAutoencoder(**BEFORE_16, hidden_size=12, latent_dim=4, epochs=1, random_state=0).fit(data)
    assert same.module_.decoder.lstm.hidden_size == 12          # None: the encoder's width
    with pytest.raises(ValueError, match="decoder_hidden_size"):
        LSTMAutoencoder(decoder_hidden_size=0).fit(data)
