"""One (N, T, F) array takes a whole-array path through validation, scaling, batching and scoring;
it must give exactly what the same sequences give as a list."""
from __future__ import annotations

import numpy as np
import pytest

from seqae import LSTMAutoencoder
from seqae.data.batching import collection_lengths, pad_sequences
from seqae.data.scaling import FeatureScaler
from seqae.data.validation import check_sequences
from seqae.exceptions import InputError
from conftest import BEFORE_16  # the training and read-out of before issue #16


@pytest.fixture(scope="module")
def windows():
    rng = np.random.default_rng(3)
    t = np.arange(24)
    x = np.sin(t[None, :, None] / 3.0 + rng.uniform(0, 6, (300, 1, 2))) + 0.05 * rng.standard_normal((300, 24, 2))
    return x.astype(np.float64)


@pytest.fixture(scope="module")
def model(windows):
    return LSTMAutoencoder(**BEFORE_16, hidden_size=8, latent_dim=4, epochs=2, batch_size=32, random_state=0).fit(windows)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_check_sequences_keeps_one_array_in_its_precision_with_rows_as_views(windows, dtype):
    data = check_sequences(windows.astype(dtype))
    assert data.array is not None and data.array.dtype == dtype and data.array.shape == windows.shape
    assert all(np.shares_memory(s, data.array) for s in data.sequences[:3])
    np.testing.assert_array_equal(np.stack(data.sequences), windows.astype(dtype))
    assert check_sequences(list(windows)).array is None


def test_a_bad_value_in_an_array_still_names_its_row(windows):
    bad = windows.copy()
    bad[7, 3, 1] = np.nan
    with pytest.raises(InputError, match=r"sequence 7: contains NaN at position \(3, 1\)"):
        check_sequences(bad)
    huge = windows.copy()
    huge[2, 0, 0] = 1e300
    with pytest.raises(InputError, match="sequence 2: values up to 1e\\+300 overflow float32"):
        check_sequences(huge)


def test_scaler_and_batches_agree_between_array_and_list(windows):
    data = check_sequences(windows)
    scaler = FeatureScaler.fit(data.sequences)
    dense, rows = scaler.transform(data.array), scaler.transform(data.sequences)
    assert isinstance(dense, np.ndarray) and isinstance(rows, list)
    np.testing.assert_array_equal(dense, np.stack(rows))
    np.testing.assert_allclose(scaler.inverse_transform(dense), windows, atol=1e-5)
    index = np.array([5, 0, 299, 17])
    a, b = pad_sequences(dense, index), pad_sequences(rows, index)
    np.testing.assert_array_equal(a.x.numpy(), b.x.numpy())
    np.testing.assert_array_equal(a.lengths.numpy(), b.lengths.numpy())
    np.testing.assert_array_equal(collection_lengths(dense), collection_lengths(rows))


@pytest.mark.parametrize("per_step, per_feature", [(False, False), (False, True), (True, False), (True, True)])
def test_scores_of_an_array_equal_scores_of_its_rows(model, windows, per_step, per_feature):
    dense = model.reconstruction_error(windows, per_step=per_step, per_feature=per_feature)
    rows = model.reconstruction_error(list(windows), per_step=per_step, per_feature=per_feature)
    assert isinstance(dense, np.ndarray)
    np.testing.assert_allclose(dense, np.stack(rows) if isinstance(rows, list) else rows, rtol=1e-5, atol=1e-7)


def test_reconstruct_transform_and_univariate_arrays(model, windows):
    np.testing.assert_allclose(model.reconstruct(windows), np.stack(model.reconstruct(list(windows))), atol=1e-5)
    np.testing.assert_allclose(model.transform(windows), model.transform(list(windows)), atol=1e-6)
    uni = LSTMAutoencoder(**BEFORE_16, hidden_size=4, latent_dim=2, epochs=1, random_state=0).fit(windows[:50, :, 0])
    out = uni.reconstruct(windows[:50, :, 0])
    assert out.shape == (50, 24)
    np.testing.assert_allclose(out, np.stack(uni.reconstruct(list(windows[:50, :, 0]))), atol=1e-5)


@pytest.mark.parametrize("dtype, kept", [(np.float16, np.float32), (np.int16, np.float32), (np.int64, np.float64),
                                         (np.longdouble, np.float64)])
def test_values_are_kept_as_float32_or_float64(windows, dtype, kept):
    assert check_sequences(windows.astype(dtype)).array.dtype == kept
