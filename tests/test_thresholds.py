"""Tests of seqae.thresholds: known answers on small arrays, statistical accuracy on large samples, validation."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from seqae.exceptions import InputError
from seqae.thresholds import (
    THRESHOLD_METHODS,
    _fit_gpd,
    compute_threshold,
    dynamic_threshold,
    pot_threshold,
    quantile_threshold,
    sigma_threshold,
)


# ------------------------------------------------------------------------------------------------- quantile
def test_quantile_exact_on_small_array():
    scores = np.arange(10.0)
    assert quantile_threshold(scores, 0.1) == pytest.approx(8.1)
    assert quantile_threshold(scores, 0.5) == pytest.approx(4.5)
    # Unsorted input and integer dtype give the same answer.
    assert quantile_threshold([9, 3, 0, 5, 1, 8, 2, 7, 4, 6], 0.1) == pytest.approx(8.1)


def test_quantile_flags_the_contamination_fraction():
    scores = np.random.default_rng(0).normal(size=10_000)
    thr = quantile_threshold(scores, 0.05)
    assert np.mean(scores > thr) == pytest.approx(0.05, abs=1e-3)


def test_quantile_single_score_and_return_type():
    thr = quantile_threshold(np.array([3.5], dtype=np.float32), 0.2)
    assert thr == 3.5 and type(thr) is float


@pytest.mark.parametrize("contamination", [0.0, -0.1, 0.51, 1.0, math.nan, math.inf, True, "0.1", None])
def test_quantile_rejects_bad_contamination(contamination):
    with pytest.raises(InputError, match="contamination"):
        quantile_threshold([1.0, 2.0, 3.0], contamination)


def test_quantile_accepts_boundary_contamination():
    assert quantile_threshold([0.0, 1.0], 0.5) == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------------------- sigma
def test_sigma_matches_mean_plus_k_std():
    scores = np.array([1.0, 2.0, 3.0, 4.0])
    assert sigma_threshold(scores, k=2.0) == pytest.approx(2.5 + 2.0 * np.sqrt(1.25))
    assert sigma_threshold(scores, k=0) == pytest.approx(2.5)


def test_sigma_on_gaussian_data():
    scores = np.random.default_rng(1).normal(loc=5.0, scale=2.0, size=200_000)
    assert sigma_threshold(scores) == pytest.approx(5.0 + 3.0 * 2.0, rel=5e-3)
    # Three sigma on Gaussian scores flags about 0.135 % of them.
    assert np.mean(scores > sigma_threshold(scores)) == pytest.approx(1 - stats.norm.cdf(3), abs=3e-4)


@pytest.mark.parametrize("k", [-1.0, math.nan, math.inf, "3", None])
def test_sigma_rejects_bad_k(k):
    with pytest.raises(InputError, match="k"):
        sigma_threshold([1.0, 2.0], k=k)


# ------------------------------------------------------------------------------------------------------ POT
def test_pot_on_exponential_matches_true_quantile():
    # Exp(1) has an exactly exponential tail (GPD with gamma = 0): the 1 - q quantile is -ln(q).
    scores = np.random.default_rng(42).exponential(size=100_000)
    z = pot_threshold(scores, q=1e-3)
    assert z == pytest.approx(-math.log(1e-3), rel=0.03)


def test_pot_extrapolates_beyond_the_sample():
    # q = 1e-5 with 20,000 points: the empirical quantile cannot see that far, POT still lands near -ln(q).
    scores = np.random.default_rng(3).exponential(size=20_000)
    z = pot_threshold(scores, q=1e-5)
    assert z > scores.max() * 0.9
    assert z == pytest.approx(-math.log(1e-5), rel=0.1)


def test_pot_on_heavy_tail():
    # Lomax (Pareto II) with shape 4 has a GPD tail with gamma = 1/4.
    scores = stats.lomax.rvs(4.0, size=100_000, random_state=np.random.default_rng(7))
    assert pot_threshold(scores, q=1e-3) == pytest.approx(stats.lomax.ppf(1 - 1e-3, 4.0), rel=0.06)


def test_pot_on_bounded_tail():
    # Uniform(0, 1) has a GPD tail with gamma = -1: the threshold must not run far past the bound 1.
    scores = np.random.default_rng(11).uniform(size=100_000)
    assert pot_threshold(scores, q=1e-3) == pytest.approx(0.999, abs=0.02)


def test_pot_on_gaussian():
    scores = np.random.default_rng(5).normal(size=100_000)
    assert pot_threshold(scores, q=1e-3) == pytest.approx(stats.norm.ppf(1 - 1e-3), rel=0.03)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("level", [0.9, 0.98, 0.99])
def test_pot_never_below_initial_threshold(seed, level):
    rng = np.random.default_rng(seed)
    scores = np.concatenate([rng.gamma(2.0, size=3_000), rng.uniform(size=50)])
    assert pot_threshold(scores, q=1e-4, level=level) >= np.quantile(scores, level)


def test_gpd_fit_matches_scipy_mle():
    rng = np.random.default_rng(0)
    for shape in (-0.3, 0.0, 0.3):
        y = stats.genpareto.rvs(shape, scale=2.0, size=5_000, random_state=rng)
        gamma, sigma = _fit_gpd(y)
        c, _, scale = stats.genpareto.fit(y, floc=0)
        # Both maximise the same likelihood; allow for scipy's optimiser stopping a little short.
        assert gamma == pytest.approx(c, abs=5e-3)
        assert sigma == pytest.approx(scale, rel=5e-3)


def test_pot_falls_back_with_too_few_peaks():
    # 100 scores at level 0.98 leave 2 peaks: below min_peaks, so the empirical 1 - q quantile is used.
    scores = np.arange(100.0)
    assert pot_threshold(scores, q=1e-3) == pytest.approx(np.quantile(scores, 1 - 1e-3))
    assert pot_threshold(scores, q=1e-3) <= scores.max()


def test_pot_constant_and_tied_scores():
    assert pot_threshold(np.full(1_000, 2.5)) == 2.5
    tied = np.concatenate([np.zeros(990), np.ones(10)])
    z = pot_threshold(tied, q=1e-3, level=0.98)
    assert 0.0 <= z <= 1.0


def test_pot_single_score():
    assert pot_threshold([4.0]) == 4.0


def test_pot_min_peaks_controls_the_fallback():
    scores = np.random.default_rng(0).exponential(size=1_000)  # 20 peaks at level 0.98
    fitted = pot_threshold(scores, q=1e-3, min_peaks=10)
    fallback = pot_threshold(scores, q=1e-3, min_peaks=50)
    assert fallback == pytest.approx(np.quantile(scores, 1 - 1e-3))
    assert fitted != fallback


def test_pot_does_not_modify_input():
    scores = np.random.default_rng(0).exponential(size=5_000)
    copy = scores.copy()
    pot_threshold(scores)
    quantile_threshold(scores, 0.1)
    sigma_threshold(scores)
    np.testing.assert_array_equal(scores, copy)


@pytest.mark.parametrize("params, match", [
    ({"q": 0.0}, "q"), ({"q": 0.5}, "q"), ({"q": 0.05}, "q"), ({"q": math.nan}, "q"),
    ({"level": 0.0}, "level"), ({"level": 1.0}, "level"), ({"level": 1.5}, "level"),
    ({"min_peaks": 1}, "min_peaks"), ({"min_peaks": 2.5}, "min_peaks"),
])
def test_pot_rejects_bad_parameters(params, match):
    with pytest.raises(InputError, match=match):
        pot_threshold(np.arange(100.0), **params)


# -------------------------------------------------------------------------------------- score validation
@pytest.mark.parametrize("scores, match", [
    ([], "empty"),
    (np.zeros((3, 2)), "1-D"),
    (5.0, "1-D"),
    ([1.0, np.nan], "finite"),
    ([1.0, np.inf], "finite"),
    (["a", "b"], "real numbers"),
    ([1 + 2j], "real numbers"),
    ([[1.0], [2.0, 3.0]], "1-D array of numbers"),
])
@pytest.mark.parametrize("method", sorted(THRESHOLD_METHODS))
def test_bad_scores_raise_input_error(scores, match, method):
    params = {"contamination": 0.1} if method == "quantile" else {}
    with pytest.raises(InputError, match=match):
        compute_threshold(scores, method, **params)


def test_input_error_is_a_value_error():
    with pytest.raises(ValueError):
        sigma_threshold([])


# ------------------------------------------------------------------------------------------------- dispatch
def test_compute_threshold_dispatches():
    scores = np.random.default_rng(0).exponential(size=10_000)
    assert compute_threshold(scores, "quantile", contamination=0.01) == quantile_threshold(scores, 0.01)
    assert compute_threshold(scores, "sigma", k=2.0) == sigma_threshold(scores, k=2.0)
    assert compute_threshold(scores, "sigma") == sigma_threshold(scores)
    assert compute_threshold(scores, "pot", q=1e-4, level=0.99) == pot_threshold(scores, q=1e-4, level=0.99)


@pytest.mark.parametrize("method", ["POT", "median", "", None, 3])
def test_compute_threshold_unknown_method(method):
    with pytest.raises(InputError, match="unknown threshold method.*quantile, sigma, pot"):
        compute_threshold([1.0, 2.0], method)


def test_compute_threshold_unknown_and_missing_parameters():
    with pytest.raises(InputError, match="does not take contamination"):
        compute_threshold([1.0, 2.0], "sigma", contamination=0.1)
    with pytest.raises(InputError, match="needs contamination"):
        compute_threshold([1.0, 2.0], "quantile")


# ------------------------------------------------------------------------------------------------- dynamic
def test_dynamic_threshold_separates_excursions_from_noise():
    rng = np.random.default_rng(0)
    scores = rng.exponential(1.0, 5000)
    scores[1000:1010] += 30.0
    scores[3000:3003] += 25.0
    thr = dynamic_threshold(scores)
    flagged = np.flatnonzero(scores > thr)
    # both excursions above, almost none of the noise (Exp(1) reaches ~9 once in 5000 draws)
    assert set(range(1000, 1010)) | set(range(3000, 3003)) <= set(flagged.tolist())
    assert len(flagged) <= 13 + 5


def test_dynamic_threshold_without_excursion_flags_little():
    scores = np.random.default_rng(1).normal(size=5000) ** 2
    assert np.mean(scores > dynamic_threshold(scores)) < 0.01


def _dynamic_by_definition(arr, z_min=0.5, z_max=10.0, z_step=0.25):
    """The paper's criterion, z by z, with the points above and their runs counted directly."""
    mean, std = arr.mean(), arr.std()
    best_z, best = z_max, -math.inf
    for z in np.arange(z_min, z_max + z_step / 2, z_step):
        above = arr > mean + z * std
        if above.all() or not above.any():
            continue
        runs = sum(1 for i in range(len(arr)) if above[i] and (i == 0 or not above[i - 1]))
        below = arr[~above]
        value = ((mean - below.mean()) / abs(mean) + (std - below.std()) / std) / (above.sum() + runs ** 2)
        if value > best:
            best_z, best = z, value
    return mean + best_z * std


@pytest.mark.parametrize("seed", range(4))
def test_dynamic_threshold_is_the_criterion_maximised_over_the_grid(seed):
    rng = np.random.default_rng(seed)
    for _ in range(50):          # short series: a run more or less changes which z wins
        n = int(rng.integers(2, 80))
        arr = rng.gamma(2.0, 1.0, n)
        if seed % 2:
            arr = np.round(arr, 1)                                                       # ties
        arr[rng.integers(0, n, int(rng.integers(1, 4)))] += rng.uniform(3, 20)           # a few excursions
        assert dynamic_threshold(arr) == pytest.approx(_dynamic_by_definition(arr), rel=1e-12)


def test_dynamic_threshold_edge_cases_and_validation():
    assert dynamic_threshold(np.ones(10)) == 1.0           # constant: nothing strictly above
    with pytest.raises(InputError):
        dynamic_threshold(np.arange(10.0), z_min=3, z_max=2)
    with pytest.raises(InputError):
        dynamic_threshold(np.arange(10.0), z_step=0)
    assert compute_threshold(np.arange(10.0), "dynamic", z_max=4) == dynamic_threshold(np.arange(10.0), z_max=4)
