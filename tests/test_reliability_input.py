"""Reliability of input handling (issue #6): bad inputs give seqae.InputError with a message naming the
problem, edge-case inputs train, inputs are never modified, and ``check_sequences`` never leaks another
exception whatever it is given (hypothesis).
"""
from __future__ import annotations

import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqae import InputError, LSTMAutoencoder
from seqae.preprocessing.validation import SequenceInput, check_sequences, value_dtype
from conftest import BEFORE_16  # the training and read-out of before issue #16

SMALL = dict(hidden_size=8, latent_dim=4, epochs=2, batch_size=8, random_state=0, device="cpu", **BEFORE_16)


def _good(n=6, t=10, f=2, seed=0):
    return np.random.default_rng(seed).standard_normal((n, t, f))


@pytest.fixture(scope="module")
def fitted():
    return LSTMAutoencoder(**SMALL).fit(_good())


def _with(value, at=(1, 2, 0)):
    x = _good()
    x[at] = value
    return x


def _obj(rows):
    a = np.empty((1, len(rows), 2), dtype=object)
    a[0] = rows
    return a


# (case id, X, regex the message must match). Every one of them must raise exactly InputError from fit,
# transform, reconstruct and reconstruction_error (the fitted model has 2 features).
BAD_INPUTS = [
    ("nan", _with(np.nan), r"sequence 1: contains NaN at position \(2, 0\)"),
    ("inf", _with(np.inf), r"sequence 1: contains inf at position \(2, 0\)"),
    ("minus-inf-in-list", [_good()[0], _with(-np.inf)[1]], r"sequence 1: contains inf"),
    ("nan-float32", _with(np.nan).astype(np.float32), r"contains NaN"),
    ("nan-float16", _with(np.nan).astype(np.float16), r"contains NaN"),
    ("huge-1e39", _with(1e39), r"values up to 1e\+39 overflow float32"),
    ("huge-negative", _with(-3.5e38), r"overflow float32"),
    ("unicode-strings", np.array([[["a", "b"], ["c", "d"]]]), r"expected a numeric dtype.*strings"),
    ("byte-strings", np.array([[[b"1", b"2"]]]), r"expected a numeric dtype.*strings"),
    ("object-strings", _obj([["1.5", "x"], [1.0, 2.0]]), r"expected numeric values, got strings"),
    ("object-none", _obj([[1.0, 1.0], [None, 2.0]]), r"contains NaN at position \(1, 0\)"),  # None = missing
    ("object-huge-int", _obj([[10**400, 1.0], [1.0, 2.0]]), r"dtype object"),
    ("complex", _good().astype(np.complex128), r"expected a numeric dtype.*complex128"),
    ("datetime", np.zeros((2, 3, 2), dtype="datetime64[s]"), r"expected a numeric dtype.*datetime64"),
    ("empty-list", [], r"expected at least one sequence, got an empty collection"),
    ("empty-tuple", (), r"empty collection"),
    ("empty-array", np.zeros((0, 10, 2)), r"empty collection \(N = 0\)"),
    ("zero-length-in-list", [np.zeros((4, 2)), np.zeros((3, 2)), np.zeros((0, 2))],
     r"sequence 2: is empty \(zero length\)"),
    ("zero-length-array", np.zeros((3, 0, 2)), r"sequence 0: is empty \(zero length\)"),
    ("zero-features", np.zeros((3, 5, 0)), r"(at least one feature|has 0 features)"),
    ("ragged-features", [np.zeros((5, 2)), np.zeros((4, 2)), np.zeros((4, 3))],
     r"sequence 2: has 3 features,? but (sequence 0 has 2|the model was fitted with 2)"),
    ("mixed-univariate", [np.zeros(5), np.zeros((4, 2))], r"all to be \(T,\), got a mix"),
    ("4d-array", np.zeros((2, 3, 4, 2)), r"expected an array of shape \(N, T, F\) or \(N, T\), got 4-D input"),
    ("1d-array", np.zeros(10), r"got 1-D input with shape \(10,\)"),
    ("scalar", 3.0, r"got 0-D input"),
    ("3d-in-list", [np.zeros((4, 2)), np.zeros((1, 4, 2))], r"sequence 1: expected shape \(T, F\) or \(T,\)"),
    ("ragged-nested-list", [[[1.0, 2.0], [3.0]]], r"sequence 0: cannot be read as a numeric array"),
    ("dataframe", pd.DataFrame(np.zeros((5, 2))), r"got a pandas object"),
    ("masked", np.ma.masked_invalid(_with(np.nan)), r"masked arrays"),
    ("none", None, r"got None"),
    ("none-in-list", [np.zeros((3, 2)), None], r"sequence 1: expected shape \(T, F\) or \(T,\)"),
]


@pytest.mark.parametrize("method", ["fit", "transform", "reconstruct", "reconstruction_error"])
@pytest.mark.parametrize("X, pattern", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_raises_input_error_naming_the_problem(fitted, method, X, pattern):
    est = LSTMAutoencoder(**SMALL) if method == "fit" else fitted
    with pytest.raises(InputError, match=pattern) as info:
        getattr(est, method)(X)
    assert info.type is InputError  # exactly, not some subclass or a ValueError that merely looks like it


@pytest.mark.parametrize("method", ["transform", "reconstruct", "reconstruction_error", "score"])
@pytest.mark.parametrize("X, got", [(np.zeros((3, 10, 3)), 3), ([np.zeros((5, 1))], 1), (np.zeros((3, 10)), 1)])
def test_wrong_number_of_features_at_inference_says_expected_and_got(fitted, method, X, got):
    with pytest.raises(InputError, match=rf"sequence 0: has {got} features?, but the model was fitted with 2"):
        getattr(fitted, method)(X)


@pytest.mark.parametrize("V, pattern", [
    (_with(np.nan)[:2], r"sequence 1: contains NaN"),
    (np.zeros((2, 5, 3)), r"has 3 features, but the model was fitted with 2"),
    ([], r"empty collection"),
])
def test_bad_validation_data_raises_input_error(V, pattern):
    with pytest.raises(InputError, match=pattern):
        LSTMAutoencoder(**SMALL).fit(_good(), validation_data=V)


@pytest.mark.parametrize("X", [np.full((6, 12, 2), 3.0), np.full((4, 7), -1e30),
                               [np.full((5, 1), 2.0), np.full((9, 1), 2.0)],
                               np.stack([np.full((8, 10), 5.0), np.random.default_rng(0).normal(size=(8, 10))], -1)],
                         ids=["constant", "constant-huge", "constant-list", "one-constant-feature"])
def test_constant_collection_trains_and_scores_without_nan(X):
    ae = LSTMAutoencoder(**SMALL).fit(X)
    assert all(np.isfinite(v) for v in ae.history_["train_loss"])
    assert np.isfinite(ae.transform(X)).all()
    err = ae.reconstruction_error(X)
    assert np.isfinite(err).all() and (err >= 0).all()
    rec = ae.reconstruct(X)
    assert all(np.isfinite(r).all() for r in (rec if isinstance(rec, list) else [rec]))


@pytest.mark.parametrize("X", [[np.array([[0.5]])], np.array([[0.5]]), [np.array([1.0, 2.0])[:1]],
                               np.array([[[1.0, -2.0, 3.0]]])],
                         ids=["list-1x1", "array-NxT", "list-univariate", "array-3f"])
def test_single_sequence_of_a_single_point_trains(X):
    ae = LSTMAutoencoder(**{**SMALL, "epochs": 3}).fit(X)
    assert ae.n_epochs_ == 3
    z = ae.transform(X)
    assert z.shape == (1, 4) and np.isfinite(z).all()
    assert np.isfinite(ae.reconstruction_error(X)).all()
    rec = ae.reconstruct(X)
    assert type(rec) is type(X)  # an array comes back as an array, a list as a list
    assert np.shape(rec[0]) == np.shape(X[0]) and np.isfinite(rec[0]).all()


def _inputs_not_to_modify():
    rng = np.random.default_rng(1)
    f64 = rng.standard_normal((5, 9, 2))
    return {
        "float64-array": f64,
        "float32-array": f64.astype(np.float32),
        "int-array": (f64 * 10).astype(np.int32),
        "float32-list": [rng.standard_normal((n, 2)).astype(np.float32) for n in (4, 9, 6)],
        "univariate-list": [rng.standard_normal(n) for n in (5, 3)],
        "nonconstant-with-big-offset": f64 * 1e6 + 1e9,
    }


@pytest.mark.parametrize("name", list(_inputs_not_to_modify()))
def test_inputs_are_never_modified(name):
    X = _inputs_not_to_modify()[name]
    V = _inputs_not_to_modify()[name]

    def snapshot(a):
        return [np.array(x, copy=True) for x in a] if isinstance(a, list) else np.array(a, copy=True)

    def same(a, b):
        if isinstance(a, list):
            return len(a) == len(b) and all(x.dtype == y.dtype and np.array_equal(x, y)
                                            for x, y in zip(a, b, strict=True))
        return a.dtype == b.dtype and np.array_equal(a, b)

    before_x, before_v = snapshot(X), snapshot(V)
    ae = LSTMAutoencoder(**SMALL).fit(X, validation_data=V)
    assert same(X, before_x) and same(V, before_v)
    for call in (ae.transform, ae.reconstruct, ae.reconstruction_error,
                 lambda a: ae.reconstruction_error(a, per_step=True, per_feature=True), ae.score):
        out = call(X)
        assert same(X, before_x)
        # Results never alias the caller's memory (writing into them cannot change the input).
        for o in out if isinstance(out, list) else [out]:
            assert not any(np.shares_memory(np.asarray(o), x) for x in (X if isinstance(X, list) else [X]))


# ------------------------------------------------------------------------------------------------ properties
_dtypes = st.one_of(
    hnp.boolean_dtypes(), hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(),
    hnp.floating_dtypes(sizes=(16, 32, 64)), st.just(np.dtype(np.longdouble)), hnp.complex_number_dtypes(),
    hnp.byte_string_dtypes(max_len=3), hnp.unicode_string_dtypes(max_len=3), hnp.datetime64_dtypes(),
    hnp.timedelta64_dtypes(), hnp.array_dtypes(max_size=2),
)
_shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)
_typed_arrays = hnp.arrays(dtype=_dtypes, shape=_shapes)
_object_elements = st.one_of(
    st.floats(), st.integers(), st.integers(min_value=10**38, max_value=10**400), st.booleans(), st.none(),
    st.text(max_size=3), st.sampled_from(["1.5", "nan", "inf", "-1e39"]), st.binary(max_size=2),
    st.complex_numbers(), st.decimals(allow_nan=True, allow_infinity=True), st.lists(st.floats(), max_size=2),
)
_object_arrays = hnp.arrays(dtype=np.dtype(object), shape=_shapes, elements=_object_elements)
_nested_lists = st.recursive(st.floats() | st.integers(-10**40, 10**40) | st.booleans(),
                             lambda inner: st.lists(inner, max_size=4), max_leaves=16)
_sequence_like = st.one_of(_typed_arrays, _object_arrays, _nested_lists)
_any_input = st.one_of(_typed_arrays, _object_arrays, _nested_lists,
                       st.lists(_sequence_like, max_size=4), st.lists(_sequence_like, max_size=3).map(tuple))


def _assert_valid(out: SequenceInput, n_features):
    assert isinstance(out, SequenceInput)
    assert isinstance(out.sequences, list) and len(out.sequences) >= 1
    f = out.sequences[0].shape[-1]
    assert f >= 1 and (n_features is None or f == n_features)
    for s in out.sequences:
        assert isinstance(s, np.ndarray) and s.dtype in (np.float32, np.float64) and s.ndim == 2
        assert s.shape[0] >= 1 and s.shape[1] == f
        assert np.isfinite(s).all()
    assert out.n_features == f and (out.lengths >= 1).all()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(X=_any_input, n_features=st.none() | st.integers(0, 3))
def test_check_sequences_returns_valid_input_or_raises_input_error(X, n_features):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or casting warning may leak out either
        try:
            out = check_sequences(X, n_features=n_features)
        except InputError:
            return
    _assert_valid(out, n_features)


@st.composite
def _valid_arrays(draw):
    dtype = draw(hnp.floating_dtypes(sizes=(16, 32, 64)) | hnp.integer_dtypes() | hnp.boolean_dtypes())
    bounds = {"min_value": -1e30, "max_value": 1e30} if dtype.kind == "f" and dtype.itemsize == 8 else {}
    finite = {"allow_nan": False, "allow_infinity": False} if dtype.kind == "f" else {}
    return draw(hnp.arrays(dtype=dtype, shape=hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=5),
                           elements=hnp.from_dtype(dtype, **finite, **bounds)))


@settings(max_examples=150, deadline=None)
@given(X=_valid_arrays())
def test_check_sequences_keeps_valid_arrays_exactly(X):
    out = check_sequences(X)
    _assert_valid(out, None)
    assert out.was_array and out.univariate_input == (X.ndim == 2)
    kept = X.astype(value_dtype(X.dtype))       # float64 inputs (and wide integers) keep their digits
    assert out.sequences[0].dtype == kept.dtype
    expected = kept if X.ndim == 3 else kept[:, :, None]
    assert np.array_equal(np.stack(out.sequences), expected)
    assert np.array_equal(out.restore(out.sequences), kept)


@settings(max_examples=100, deadline=None)
@given(lengths=st.lists(st.integers(0, 5), min_size=1, max_size=5), f=st.integers(1, 3),
       bad=st.integers(0, 4))
def test_check_sequences_names_the_offending_index(lengths, f, bad):
    bad %= len(lengths)
    X = [np.ones((max(n, 1), f)) for n in lengths]
    X[bad] = np.ones((0, f))
    with pytest.raises(InputError, match=rf"sequence {bad}: is empty"):
        check_sequences(X)
    X[bad] = np.ones((2, f + 1))
    with pytest.raises(InputError, match=rf"sequence {bad if bad else 1}: has {f if bad == 0 else f + 1} features"):
        check_sequences(X if bad else X + [np.ones((2, f))])
