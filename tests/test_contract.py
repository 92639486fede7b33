"""A shared estimator contract, run over every estimator seqae exports (as scikit-learn's ``check_estimator``,
tslearn and aeon do): clone, get/set params, fit returns self, NotFittedError before fit, the fitted input's
columns checked when scoring, save/load to the same outputs, and the same model twice from the same seed.

Tiny models (4 hidden units, one epoch) so that the whole file runs in seconds."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import seqae
from seqae.exceptions import InputError

TINY = dict(hidden_size=4, latent_dim=2, epochs=1, batch_size=4, random_state=0, device="cpu")


def _collection(n_features=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, n_features)) for n in range(5, 13)]


def _series(names=("a", "b")):
    t = np.arange(80)
    return pd.DataFrame({names[0]: np.sin(t / 3.0), names[1]: np.cos(t / 5.0)})


# name -> (unfitted estimator, training input, input with other columns, scoring methods)
CASES = {
    "LSTMAutoencoder": (lambda: seqae.LSTMAutoencoder(**TINY), _collection, lambda: _collection(3),
                        ("transform", "reconstruction_error")),
    "SequenceAnomalyDetector": (lambda: seqae.SequenceAnomalyDetector(**TINY), _collection,
                                lambda: _collection(3), ("decision_function", "predict")),
    "AnomalyDetector": (lambda: seqae.AnomalyDetector(**TINY, window=8, stride=4), _series,
                        lambda: _series(("a", "c")), ("decision_function", "predict")),
    "ConcatPooling": (lambda: seqae.ConcatPooling([seqae.LSTMAutoencoder(**TINY)], outputs=("latent", "mean")),
                      _collection, lambda: _collection(3), ("transform",)),
}


def test_the_contract_covers_every_exported_estimator():
    from sklearn.base import BaseEstimator
    exported = {n for n in seqae.__all__ if isinstance(getattr(seqae, n), type)
                and issubclass(getattr(seqae, n), BaseEstimator)}
    assert exported == set(CASES)


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    make, data, other, methods = CASES[request.param]
    est = make()
    fitted = est.fit(data())
    return request.param, make, data, other, methods, est, fitted


def test_fit_returns_self(case):
    _, _, _, _, _, est, fitted = case
    assert fitted is est


def test_clone_and_params(case):
    _, make, _, _, _, est, _ = case
    params = make().get_params(deep=False)
    copy = clone(est)
    assert type(copy) is type(est)
    assert repr(copy.get_params(deep=False)) == repr(params)
    assert not any(k.endswith("_") and not k.startswith("_") for k in vars(copy))   # clone is unfitted
    # every parameter is stored as given (scikit-learn: __init__ only stores)
    for key, value in params.items():
        copy.set_params(**{key: value})
        assert getattr(copy, key) is value
    assert copy.set_params(**{next(iter(params)): params[next(iter(params))]}) is copy


def test_not_fitted_error_before_fit(case):
    _, make, data, _, methods, _, _ = case
    unfitted = make()
    for method in methods:
        with pytest.raises(NotFittedError):
            getattr(unfitted, method)(data())
    with pytest.raises(NotFittedError):
        unfitted.save("never-written.seqae")


def test_scoring_checks_the_fitted_columns(case):
    _, _, _, other, methods, est, _ = case
    for method in methods:
        with pytest.raises(InputError, match=r"feature|column|fit"):
            getattr(est, method)(other())


def test_save_and_load_give_the_same_outputs(case, tmp_path):
    _, _, data, _, methods, est, _ = case
    path = tmp_path / "model.seqae"
    est.save(path)
    loaded = seqae.load(path)
    assert type(loaded) is type(est)
    assert repr(loaded.get_params(deep=False)) == repr(est.get_params(deep=False))
    for method in methods:
        np.testing.assert_array_equal(getattr(loaded, method)(data()), getattr(est, method)(data()),
                                      err_msg=method)


def test_the_same_seed_gives_the_same_model(case):
    _, make, data, _, methods, est, _ = case
    again = make().fit(data())
    for method in methods:
        np.testing.assert_array_equal(getattr(again, method)(data()), getattr(est, method)(data()),
                                      err_msg=method)
