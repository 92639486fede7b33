"""Turn anomaly scores into a decision threshold.

Every function takes a 1-D array of scores where higher means more abnormal (for example the reconstruction
errors of the training data) and returns one float: points whose score is strictly above it are flagged.
They are pure functions of the scores; none keeps state or modifies its input.

- :func:`quantile_threshold` flags a chosen fraction of the given scores.
- :func:`sigma_threshold` is the classic ``mean + k * std`` rule (sensible for roughly Gaussian scores).
- :func:`pot_threshold` is Peaks Over Threshold (Siffer et al., "Anomaly Detection in Streams with Extreme
  Value Theory", KDD 2017): it fits a Generalized Pareto distribution to the upper tail and extrapolates to a
  tail probability ``q`` far smaller than ``1 / len(scores)`` could give empirically.
- :func:`dynamic_threshold` is the nonparametric dynamic threshold of Hundman et al. ("Detecting Spacecraft
  Anomalies Using LSTMs and Nonparametric Dynamic Thresholding", KDD 2018): computed on the scores being labelled
  (not on training scores), it picks the ``mean + z * std`` that best separates a few high runs from the rest.
- :func:`compute_threshold` dispatches on a method name (what the CLI and the estimators use).
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers
from typing import Any

import numpy as np
from scipy.optimize import brentq

from seqae.exceptions import InputError

__all__ = ["THRESHOLD_METHODS", "compute_threshold", "dynamic_threshold", "pot_threshold", "quantile_threshold",
           "sigma_threshold", "threshold_parameters"]


# ----------------------------------------------------------------------------------------------------- validation
def _as_scores(scores: Any) -> np.ndarray:
    """Return the scores as a new float64 1-D array, or raise InputError saying what is wrong."""
    try:
        arr = np.asarray(scores)
    except (TypeError, ValueError) as err:  # ragged nested lists and the like
        raise InputError(f"scores must be a 1-D array of numbers: {err}") from err
    if arr.dtype.kind not in "biuf":
        raise InputError(f"scores must be real numbers, got an array of dtype {arr.dtype}")
    if arr.ndim != 1:
        raise InputError(f"scores must be a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise InputError("scores is empty: a threshold needs at least one score")
    arr = arr.astype(np.float64)  # astype copies: the caller's array is never touched
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(f"scores must be finite: {int(bad.sum())} value(s) are NaN or infinite "
                         f"(the first at index {first}: {arr[first]})")
    return arr


def _as_real(name: str, value: Any) -> float:
    """A finite real number (bools refused: ``True`` as a contamination is surely a mistake)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InputError(f"{name} must be finite, got {value}")
    return value


# ------------------------------------------------------------------------------------------------------- simple
def quantile_threshold(scores: Any, contamination: float) -> float:
    """Threshold that flags about a fraction ``contamination`` of the given scores.

    It is the ``1 - contamination`` quantile of ``scores`` with numpy's default linear interpolation, so
    roughly ``contamination * len(scores)`` scores lie strictly above it.

    Parameters
    ----------
    scores : array-like of shape (n,)
        Finite anomaly scores, higher = more abnormal.
    contamination : float
        Expected fraction of anomalies, in ``(0, 0.5]``.

    Returns
    -------
    float
        The threshold.

    Raises
    ------
    InputError
        If ``scores`` is not a non-empty finite 1-D array or ``contamination`` is out of range.

    Examples
    --------
    >>> quantile_threshold([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], contamination=0.1)
    8.1
    """
    arr = _as_scores(scores)
    contamination = _as_real("contamination", contamination)
    if not 0.0 < contamination <= 0.5:
        raise InputError(f"contamination must be in (0, 0.5], got {contamination}")
    return float(np.quantile(arr, 1.0 - contamination))


def sigma_threshold(scores: Any, k: float = 3.0) -> float:
    """Threshold ``mean + k * std`` of the scores (population standard deviation, ``ddof=0``).

    Parameters
    ----------
    scores : array-like of shape (n,)
        Finite anomaly scores, higher = more abnormal.
    k : float, default 3.0
        Number of standard deviations above the mean; must be ``>= 0``.

    Returns
    -------
    float
        The threshold.

    Raises
    ------
    InputError
        If ``scores`` is not a non-empty finite 1-D array or ``k`` is negative or not finite.

    Examples
    --------
    >>> sigma_threshold([1.0, 2.0, 3.0], k=2.0)  # mean 2, std sqrt(2/3)
    3.632993161855452
    """
    arr = _as_scores(scores)
    k = _as_real("k", k)
    if k < 0:
        raise InputError(f"k must be >= 0, got {k}")
    return float(arr.mean() + k * arr.std())


# ------------------------------------------------------------------------------------------------ POT (Siffer)
def _gpd_log_likelihood(y: np.ndarray, gamma: float, sigma: float) -> float:
    """Log-likelihood of excesses ``y`` under a GPD(gamma, sigma); -inf outside the support."""
    if sigma <= 0 or not math.isfinite(sigma) or not math.isfinite(gamma):
        return -math.inf
    n = y.size
    if abs(gamma) < 1e-12:  # the exponential limit of the GPD
        return -n * math.log(sigma) - float(y.sum()) / sigma
    z = gamma * y / sigma
    if np.any(z <= -1.0):
        return -math.inf
    return -n * math.log(sigma) - (1.0 + 1.0 / gamma) * float(np.log1p(z).sum())


def _grimshaw_w(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Grimshaw's function w(x) = u(x) v(x) - 1, vectorised over candidate ``x`` (= gamma / sigma).

    u(x) = mean(1 / (1 + x y)) and v(x) = 1 + mean(log(1 + x y)); the GPD likelihood equations reduce to
    w(x) = 0, after which gamma = v(x) - 1 and sigma = gamma / x.
    """
    out = np.empty(x.size)
    for start in range(0, x.size, 32):  # in chunks: an (x, y) outer product for 10^5 peaks would be large
        s = 1.0 + np.outer(x[start:start + 32], y)
        out[start:start + 32] = np.mean(1.0 / s, axis=1) * (1.0 + np.mean(np.log(s), axis=1)) - 1.0
    return out


def _fit_gpd(y: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood GPD fit ``(gamma, sigma)`` of positive excesses ``y`` by Grimshaw's procedure.

    As in Siffer et al., all roots of w are searched in ``(-1/max(y), 0)`` and in
    ``(0, 2 (mean - min) / min**2)`` (Grimshaw's bounds), and the candidate with the highest likelihood wins; the
    exponential fit (gamma = 0, sigma = mean) is always a candidate, so a valid fit always comes back. Roots
    are bracketed on a dense grid and refined with Brent's method rather than found by a local optimiser from
    a few starting points: that cannot miss a root between the starting points, and it is deterministic.
    """
    y_min, y_max, y_mean = float(y.min()), float(y.max()), float(y.mean())
    candidates: list[tuple[float, float]] = [(0.0, y_mean)]

    # Grid in the dimensionless fraction s of the interval; geometric spacing reaches both ends, where
    # 1 + x y -> 0 (left end) and x -> 0 (where w vanishes trivially) without landing on them.
    ends = np.geomspace(1e-9, 0.5, 120)
    fractions = np.concatenate([ends, 1.0 - ends[::-1][1:]])
    grids = [-fractions / y_max]  # (-1/y_max, 0)
    upper = 2.0 * (y_mean - y_min) / (y_min * y_min) if y_min > 0 else math.inf
    if upper > 0:
        # Positive side: from tiny (relative to 1/y_mean) up to Grimshaw's bound, capped to stay representable.
        top = min(upper, 1e12 / y_mean)
        bottom = min(1e-9 / y_mean, top / 10.0)
        grids.append(np.geomspace(bottom, top, 240))

    def w_scalar(x: float) -> float:
        return float(_grimshaw_w(np.array([x]), y)[0])

    for grid in grids:
        with np.errstate(all="ignore"):
            w = _grimshaw_w(grid, y)
        for i in np.flatnonzero(np.isfinite(w[:-1]) & np.isfinite(w[1:]) & (np.sign(w[:-1]) * np.sign(w[1:]) < 0)):
            try:
                with np.errstate(all="ignore"):
                    x = brentq(w_scalar, grid[i], grid[i + 1], xtol=1e-14 * max(abs(grid[i]), 1e-300))
            except (ValueError, RuntimeError):  # no convergence: this bracket simply gives no candidate
                continue
            gamma = float(np.mean(np.log1p(x * y)))  # v(x) - 1
            if gamma != 0.0 and x != 0.0:
                candidates.append((gamma, gamma / x))

    return max(candidates, key=lambda c: _gpd_log_likelihood(y, *c))


def pot_threshold(scores: Any, q: float = 1e-3, level: float = 0.98, *, min_peaks: int = 10) -> float:
    """Peaks Over Threshold: the score exceeded with probability ``q``, extrapolated from the tail.

    Following Siffer et al. (KDD 2017): an initial threshold ``t`` is set at the ``level`` quantile of the
    scores; the ``N_t`` excesses ``scores[scores > t] - t`` are fitted with a Generalized Pareto distribution
    (shape ``gamma``, scale ``sigma``) by maximum likelihood with Grimshaw's procedure; the threshold is then

    ``z_q = t + (sigma / gamma) * ((q * n / N_t) ** (-gamma) - 1)``

    which for ``gamma -> 0`` (an exponential tail) becomes ``t - sigma * log(q * n / N_t)``.

    When the tail cannot support a fit -- fewer than ``min_peaks`` excesses, or all excesses equal (heavily
    tied scores) -- or when ties leave fewer than ``q * n`` scores above ``t``, the function falls back to the
    empirical ``1 - q`` quantile of the scores (for ``n < 1/q`` that is close to their maximum), which is still
    at least ``t``.

    Parameters
    ----------
    scores : array-like of shape (n,)
        Finite anomaly scores, higher = more abnormal; typically those of normal (training) data.
    q : float, default 1e-3
        Target probability of a normal score exceeding the threshold, in ``(0, 1 - level)``.
    level : float, default 0.98
        Quantile of the scores used as the initial threshold ``t``, in ``(0, 1)``.
    min_peaks : int, default 10
        Fewest excesses over ``t`` needed to fit the GPD (keyword only).

    Returns
    -------
    float
        The threshold ``z_q``; never below the initial threshold ``t``.

    Raises
    ------
    InputError
        If ``scores`` is not a non-empty finite 1-D array or a parameter is out of range.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = pot_threshold(rng.exponential(size=100_000), q=1e-3)
    >>> bool(abs(z - np.log(1e3)) < 0.2)  # the true 0.999 quantile of Exp(1) is ln(1000) = 6.91
    True
    """
    arr = _as_scores(scores)
    q = _as_real("q", q)
    level = _as_real("level", level)
    if not 0.0 < level < 1.0:
        raise InputError(f"level must be in (0, 1), got {level}")
    if not 0.0 < q < 1.0 - level:
        # z_q extrapolates beyond t; a q this large asks for a quantile below the initial threshold.
        raise InputError(f"q must be in (0, 1 - level) = (0, {1.0 - level:g}), got {q}")
    if isinstance(min_peaks, bool) or not isinstance(min_peaks, numbers.Integral) or min_peaks < 2:
        raise InputError(f"min_peaks must be an integer >= 2, got {min_peaks!r}")

    n = arr.size
    t = float(np.quantile(arr, level))
    peaks = arr[arr > t] - t
    n_t = peaks.size
    ratio = q * n / n_t if n_t else math.inf

    if n_t < min_peaks or float(peaks.max()) == float(peaks.min()) or ratio >= 1.0:
        # Too little tail to fit: the empirical quantile is the honest answer (>= t because 1 - q > level).
        return max(float(np.quantile(arr, 1.0 - q)), t)

    gamma, sigma = _fit_gpd(peaks)
    log_ratio = math.log(ratio)  # < 0
    if abs(gamma) < 1e-12:
        excess = -sigma * log_ratio
    else:
        # (r**(-gamma) - 1) / gamma written with expm1 so that small gamma loses no precision.
        excess = sigma * math.expm1(-gamma * log_ratio) / gamma
    if not math.isfinite(excess):  # an absurd heavy-tail fit overflowed: do not return inf
        return max(float(np.quantile(arr, 1.0 - q)), t)
    return t + max(excess, 0.0)


# ------------------------------------------------------------------------------------- dynamic (Hundman et al.)
def dynamic_threshold(scores: Any, z_min: float = 0.5, z_max: float = 10.0, z_step: float = 0.25) -> float:
    """Nonparametric dynamic threshold (Hundman et al., KDD 2018, section 3.2): ``mean + z * std`` of the scores
    with the ``z`` that maximises

    ``(delta_mean / mean + delta_std / std) / (n_above + n_runs ** 2)``

    where ``delta_mean`` and ``delta_std`` are how much the mean and standard deviation of the scores drop when
    the points above the threshold are removed, ``n_above`` counts those points and ``n_runs`` their
    contiguous runs. It prefers a threshold that removes much of the spread with few points in few runs: a
    handful of clear excursions, not a long tail. Unlike the other rules it is meant to be computed on the scores
    of the series being labelled, which is how it adapts to each series without a contamination rate.

    ``z`` is searched on the grid ``z_min, z_min + z_step, ..., z_max`` (the paper's grid is 2.5 to 12 in steps
    of 0.5; a grid, not a local optimiser, finds the same maximum every time). The lower default start, 0.5,
    lets the rule flag long anomalies that hold much of the series' spread (SKAB's last a third of an
    experiment): on the detection suite, with AnomalyDetector's pruning at ``min_percent=0.05``, it found 13
    of SKAB's 14 events and 36 of SMAP's 68 where the paper's settings (z from 2.5, ``min_percent=0.13``) found
    0 and 18 (``benchmarks/results/detection.md``). When no ``z`` of the grid leaves
    any point above, the threshold is ``mean + z_max * std``, which flags nothing or almost nothing.

    Parameters
    ----------
    scores : array-like of shape (n,)
        Finite anomaly scores, higher = more abnormal, in time order (runs are counted along it).
    z_min, z_max : float, default 0.5, 10.0
        The range of ``z`` searched, ``0 <= z_min <= z_max``.
    z_step : float, default 0.25
        Spacing of the grid, > 0.

    Returns
    -------
    float
        The threshold.

    Raises
    ------
    InputError
        If ``scores`` is not a non-empty finite 1-D array or a parameter is out of range.

    Examples
    --------
    >>> s = np.zeros(1000); s[::2] = 1.0; s[500:505] = 20.0   # noise between 0 and 1, one excursion to 20
    >>> t = dynamic_threshold(s)
    >>> bool(1.0 < t < 20.0)
    True
    """
    arr = _as_scores(scores)
    z_min, z_max, z_step = (_as_real(name, v) for name, v in (("z_min", z_min), ("z_max", z_max),
                                                             ("z_step", z_step)))
    if not 0.0 <= z_min <= z_max:
        raise InputError(f"z_min and z_max must satisfy 0 <= z_min <= z_max, got {z_min} and {z_max}")
    if z_step <= 0:
        raise InputError(f"z_step must be > 0, got {z_step}")
    mean, std = float(arr.mean()), float(arr.std())
    if std == 0.0:
        return mean  # constant scores: nothing stands out, nothing is strictly above
    zs = np.arange(z_min, z_max + z_step / 2, z_step)
    # Every z at once from the sorted scores (a stream labels at every update): the points at or below a
    # threshold are a prefix of them, so their mean and spread come from prefix sums (of the scores less their
    # mean, which keeps the variance's subtraction small), and a run starts where a point is above while the
    # point before it (or the series' start) is not.
    eps = mean + zs * std                                                               # (Z,)
    ordered = np.sort(arr)                                                              # (n,)
    centred = ordered - mean
    sums = np.concatenate([[0.0], np.cumsum(centred)])                                  # (n + 1,)
    squares = np.concatenate([[0.0], np.cumsum(centred * centred)])
    n_below = np.searchsorted(ordered, eps, side="right")                               # (Z,)
    n_above = arr.size - n_below
    # points whose predecessor is not above: the series' start, and every point but the last that is not above
    not_above_before = 1 + n_below - (arr[-1] <= eps)
    both_not_above = np.searchsorted(np.sort(np.maximum(arr[:-1], arr[1:])), eps, side="right") \
        + (arr[0] <= eps)                                   # the first point: only itself counts
    n_runs = not_above_before - both_not_above
    valid = (n_above > 0) & (n_below > 0)
    k = np.maximum(n_below, 1)
    below_shift = sums[k] / k                                   # below.mean() - mean
    below_std = np.sqrt(np.maximum(squares[k] / k - below_shift ** 2, 0.0))
    # |mean| guards a mean of zero (scores centred by the caller); the paper's errors are positive.
    scale_mean = abs(mean) if mean != 0.0 else 1.0
    value = (-below_shift / scale_mean + (std - below_std) / std) / np.maximum(n_above + n_runs ** 2, 1)
    value = np.where(valid, value, -np.inf)
    best_z = float(zs[np.argmax(value)]) if valid.any() else z_max
    return mean + best_z * std


# ---------------------------------------------------------------------------------------------------- dispatch
THRESHOLD_METHODS = {
    "quantile": quantile_threshold,
    "sigma": sigma_threshold,
    "pot": pot_threshold,
    "dynamic": dynamic_threshold,
}
"""Method names accepted by :func:`compute_threshold`, with the function each one calls: the one list of
threshold rules (the detectors' check and the CLI's ``--threshold`` choices read it)."""


def register_threshold(name: str):
    """Function decorator: make ``fn(scores, **params) -> float`` the threshold rule ``name`` (``threshold=name``
    in the detectors, ``--threshold name`` in the CLI; its keyword parameters are ``threshold_params``).

    Examples
    --------
    >>> @register_threshold("median")                     # doctest: +SKIP
    ... def median_threshold(scores, factor=2.0):
    ...     return float(np.median(scores) * factor)
    """
    def add(fn):
        if name in THRESHOLD_METHODS and THRESHOLD_METHODS[name] is not fn:
            raise ValueError(f"a threshold rule named {name!r} is already registered")
        THRESHOLD_METHODS[name] = fn
        return fn
    return add


def threshold_parameters(method: str) -> dict[str, Any]:
    """The parameters the method named ``method`` takes, with their defaults (``inspect.Parameter.empty`` for a
    required one), read from its function's signature: what :func:`compute_threshold` accepts as ``**params``.

    Examples
    --------
    >>> threshold_parameters("sigma")
    {'k': 3.0}
    """
    if not isinstance(method, str) or method not in THRESHOLD_METHODS:
        raise InputError(f"unknown threshold method {method!r}; choose one of {', '.join(THRESHOLD_METHODS)}")
    return dict(_parameters(THRESHOLD_METHODS[method]))


@functools.cache
def _parameters(fn) -> tuple[tuple[str, Any], ...]:
    # Read once per function: a stream computes a threshold at every update, and a signature costs ~0.1 ms.
    return tuple((name, p.default) for name, p in inspect.signature(fn).parameters.items() if name != "scores")


def compute_threshold(scores: Any, method: str, **params: Any) -> float:
    """Compute a threshold with the method named ``method``.

    Parameters
    ----------
    scores : array-like of shape (n,)
        Finite anomaly scores, higher = more abnormal.
    method : {"quantile", "sigma", "pot", "dynamic"}
        Which rule: :func:`quantile_threshold`, :func:`sigma_threshold`, :func:`pot_threshold` or
        :func:`dynamic_threshold`.
    **params
        Passed on to that function (``contamination`` for "quantile", ``k`` for "sigma", ``q``, ``level``
        and ``min_peaks`` for "pot", ``z_min``, ``z_max`` and ``z_step`` for "dynamic").

    Returns
    -------
    float
        The threshold.

    Raises
    ------
    InputError
        For an unknown method, a parameter the method does not take, a missing required parameter, or
        invalid scores or parameter values.

    Examples
    --------
    >>> compute_threshold([1.0, 2.0, 3.0], "sigma", k=0.0)
    2.0
    """
    accepted = threshold_parameters(method)
    # Check the parameters here so that a typo is an InputError naming the valid ones, not a TypeError.
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise InputError(f"threshold method {method!r} does not take {', '.join(unknown)}; "
                         f"its parameters are {', '.join(accepted)}")
    required = [name for name, default in accepted.items()
                if default is inspect.Parameter.empty and name not in params]
    if required:
        raise InputError(f"threshold method {method!r} needs {', '.join(required)}")
    return THRESHOLD_METHODS[method](scores, **params)
