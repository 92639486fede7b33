"""Column names at scoring time must be the fitted ones (scikit-learn's ``feature_names_in_`` rule): a renamed
or reordered DataFrame is an error that names the columns, not a silent positional match."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seqae import AnomalyDetector
from seqae.data.series import check_series
from seqae.exceptions import InputError

N = 120


def frame(names=("a", "b")) -> pd.DataFrame:
    t = np.arange(N)
    return pd.DataFrame({names[0]: np.sin(t / 4), names[1]: 3 * np.cos(t / 7)})


# ============================================================================================= check_series
def test_same_names_pass():
    si = check_series(frame(), feature_names=["a", "b"])
    assert si.columns == ["a", "b"]


def test_reordered_names_say_it_is_the_order():
    with pytest.raises(InputError, match=r"another order: 'b', 'a' instead of 'a', 'b'"):
        check_series(frame()[["b", "a"]], feature_names=["a", "b"])


def test_renamed_and_extra_columns_are_named():
    with pytest.raises(InputError, match=r"differ from those seen in fit \('a', 'b'\): missing 'b'; "
                                         r"unexpected 'c'$"):
        check_series(frame(("a", "c")), feature_names=["a", "b"])
    with pytest.raises(InputError, match=r"differ from those seen in fit \('a'\): unexpected 'b'$"):
        check_series(frame(), feature_names=["a"])


def test_arrays_and_unnamed_frames_go_by_position():
    values = frame().to_numpy()
    assert check_series(values, feature_names=["a", "b"]).values.shape == (N, 2)
    assert check_series(pd.DataFrame(values), feature_names=["a", "b"]).values.shape == (N, 2)  # int names


def test_a_model_fitted_on_an_array_has_no_names_to_check():
    assert check_series(frame(("p", "q")), feature_names=["x0", "x1"]).columns == ["p", "q"]
    assert check_series(frame()[["a"]], feature_names=["value"]).columns == ["a"]


# ================================================================================================ detector
@pytest.fixture(scope="module")
def detector() -> AnomalyDetector:
    return AnomalyDetector(window=8, hidden_size=4, latent_dim=2, epochs=1, max_train_windows=32, random_state=0,
                           device="cpu").fit(frame())


@pytest.mark.parametrize("method", ["decision_function", "predict", "detect", "feature_contributions"])
def test_every_scoring_method_checks_the_names(detector, method):
    score = getattr(detector, method)
    with pytest.raises(InputError, match="another order"):
        score(frame()[["b", "a"]])
    with pytest.raises(InputError, match="missing 'b'; unexpected 'B'"):
        score(frame(("a", "B")))


def test_arrays_are_scored_by_position_like_the_named_frame(detector):
    np.testing.assert_array_equal(detector.decision_function(frame().to_numpy()), detector.decision_function(frame()))
    assert list(detector.feature_names_in_) == ["a", "b"]
