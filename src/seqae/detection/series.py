"""Point-wise anomaly detection in one (univariate or multivariate) time series.

series -> validated values -> sliding windows (chunk by chunk) -> autoencoder per-step errors
-> per-point scores -> threshold -> 0/1 labels.
"""
from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from seqae import persistence
from seqae._params import check_choice, check_float, check_int
from seqae._autoencoder_params import documented, set_autoencoder_params
from seqae.preprocessing.series_validation import MISSING, SeriesInput, check_series, repaired
from seqae.preprocessing.windows import (AGGREGATIONS, ForecastAccumulator, PointAccumulator, iter_windows,
                                         sample_starts, window_starts)
from seqae.detection.base import ADAPTIVE_THRESHOLDS, DetectorBase
from seqae.detection.neighbors import standardiser, window_novelty
from seqae.events import adaptive_runs, events_frame, label_runs, merge_runs

# Windows scored per chunk: bounds memory at chunk x window x F floats, whatever the series length.
_CHUNK = 4096

# The share of a series' first rows a detector is trained on when no separate training series is given
# (``seqae detect``, :func:`seqae.many.detect_many`): that part should be mostly normal.
DEFAULT_TRAIN_FRACTION = 0.3
CHANNEL_WEIGHTS = ("equal", "train")
# How the latent novelty joins the error (``latent_mix``): the larger of the two, or their weighted sum.
LATENT_MIXES = ("max", "sum")
# Nearest training codes a window's latent novelty averages over (PyOD's KNN detector uses 5 too).
LATENT_NEIGHBORS = 5
# Training windows' codes kept for it, evenly spaced: scoring computes this many distances per window, and the
# codes of overlapping windows are near-duplicates anyway.
LATENT_REFERENCE = 1024


def training_rows(n: int, fraction: float = DEFAULT_TRAIN_FRACTION) -> int:
    """How many of a series' ``n`` first rows make its training part: the first ``fraction``, at least one."""
    return max(1, int(fraction * n))


@persistence.register
@documented
class AnomalyDetector(DetectorBase):
    """LSTM-autoencoder anomaly detector for a time series: a score and a label for every point.

    The series is cut into sliding windows; the autoencoder, trained on the windows of the training series,
    reconstructs each window, and each point's score is its squared reconstruction error (in standardised
    units, averaged over features) combined over all the windows that cover it (``score_aggregation``), mixed
    with the latent novelty of those windows: how far each window's latent code lies from the codes of the
    training windows (``latent_weight``). Every point is scored, the first and last included.

    Parameters
    ----------
    window : int, default=64
        Window length in points.
    stride : int, default=1
        Step between scored windows (larger is faster; every point stays covered, the last window is always
        aligned to the end of the series).
    contamination : float, default=0.01
        Expected share of anomalous points in the training series; sets ``threshold_`` with "quantile" (only).
    threshold : {"dynamic", "quantile", "sigma", "pot"}, default="dynamic"
        How points are flagged (:mod:`seqae.thresholds`). "quantile", "sigma" and "pot" derive ``threshold_``
        from the training scores once. "dynamic" (Hundman et al., KDD 2018) computes the threshold on the
        scores of the series being labelled (``threshold_`` then labels the training series only) and prunes
        flagged events whose peak does not stand out from the next lower one by ``min_percent``; in up to
        ``rounds`` rounds, each on the scores with the events found so far set to the median, so that a large
        anomaly does not hide a smaller one (:func:`seqae.events.adaptive_runs`). It needs no
        contamination rate and adapts to each series, so ``predict(X)`` depends on all of ``X``. It is the
        default because on the detection suite it keeps the share of points flagged within twice the share
        labelled on every group, where one training quantile flagged 30% of SMAP's test points (12% labelled)
        and 97% of SKAB's (44%), whose test parts drift from their training parts; its event F1 is higher on
        SMAP and realTraffic, lower on artificialWithAnomaly and realTweets (``benchmarks/results/detection.md``).
    threshold_params : dict, optional
        Extra arguments: ``k`` for "sigma"; ``q`` and ``level`` for "pot"; ``z_min``, ``z_max``, ``z_step``,
        ``min_percent`` (default 0.05), ``rounds`` (default 3) and ``later_min_percent`` (the pruning of the
        rounds after the first, default 0.1) for "dynamic".
    event_gap : int or None, default=None
        Flagged runs separated by at most this many unflagged points form one event (:meth:`detect_events`);
        None: ``window``, since one anomaly raises the scores of all the windows that overlap it.
    score_aggregation : {"window_max", "window_mean", "mean", "max"}, default="window_max"
        How the errors of the windows covering a point are combined. "window_max"/"window_mean": each covering
        window's mean error (one number per window), the largest or the average: smoother scores that rise
        over the whole context of an anomaly. "mean"/"max": the per-step errors the covering windows give that
        point. The default won on NAB: on 12 tuning series, VUS-PR 0.445 for "window_max" against 0.260 for
        "mean" (``benchmarks/results/nab.md``, tuning runs), because labelled anomalies are ranges and a
        point near an anomaly sits in windows that reconstruct it badly.
    point_weight : float in [0, 1], default=0.0
        With a "window_" aggregation: each point's score is ``(1 - point_weight) * W + point_weight * S``, where W
        is the window-level score and S the point's own per-step error averaged over its covering windows (the
        "mean" aggregation), both in the same units. W ranks the contexts of anomalies, S the points within
        them, so a short anomaly does not flag its whole window. At 0, S still breaks W's ties (with weight
        1e-3). Ignored for "mean" and "max". Not the default: on the detection suite (seed 0) 0.05 raised event
        F1 on six of nine groups but lowered VUS-PR on NAB, 0.469 against 0.478 (``benchmarks/results/detection.md``).
    channel_weights : {"equal", "train"}, default="train"
        How the channels of a multivariate series weigh in a point's score (the mean over channels of their
        errors). "equal": as they come. "train": a channel whose mean error over the training series is
        above the median channel's is weighed down by their ratio, so that a channel that is hard to
        reconstruct everywhere does not drown the others; the other channels are unchanged (a quiet channel
        is never amplified). Without effect on one channel. "train" is the default: over seeds 0-2 of the
        detection suite's multivariate groups, VUS-PR SKAB 0.891 against 0.885 (higher at every seed), SMAP-25
        0.360 against 0.360, event F1 on SMAP-25 higher at two seeds and equal at the third, SKAB equal
        (``benchmarks/results/detection.md``, ``seqae@cw*`` rows).
    forecast_weight : float in [0, 1], default=0.0
        With ``forecast=True``: each point's score is ``(1 - forecast_weight) * R + forecast_weight * P``, where R
        is its reconstruction score (``score_aggregation``) and P its next-step prediction error (from the covering
        window that saw most of its past), each divided by its mean over the training series so that both are on one
        scale. Ignored without ``forecast``. The default 0 scores by reconstruction (P counts only beyond
        ``forecast_margin``): mixing in P (0.2, 0.5, 1) scored lower VUS-PR than R alone on NAB and SMAP in the
        detection suite, higher on the one UCR series only (``benchmarks/results/detection.md``).
    forecast_margin : float >= 1 or None, default=2.0
        With ``forecast=True``: a point whose next-step error P (in units of its training mean, channels
        weighed) exceeds ``forecast_margin`` times P's largest value over the training series scores at least
        ``E_max * P / (forecast_margin * P_max)``, E_max the largest error E over the training series (the
        error below, before the latent novelty): P counts only where it is far beyond anything training saw,
        which is where a one-point spike lands, while the window-level error spreads a spike thin over the
        2 x ``window`` - 1 points around it. None: P never counts this way. On the detection suite (seeds 0-2,
        ``benchmarks/results/detection.md``) every group's mean VUS-PR is within 0.002 of scoring without it
        (NAB 0.481 against 0.479) and the event F1 of the nine groups 0.664 against 0.667 (realTraffic 0.542
        against 0.561, SMAP-25 0.421 against 0.432, SMAP 0.655 against 0.651); synthetic one-point spikes reach
        AUC-PR 0.31 against 0.03 (``benchmarks/results/forecast_mix.md``). A margin of 1 finds more of them
        (0.51) but moves the events of NAB's groups (artificialWithAnomaly F1 0.45 against 0.67). The training
        series must be free of the spikes: a spike in it sets P_max, and the margin then never fires (fitted on
        the whole synthetic series, 0.26 with and without it; ``forecast_weight=0.5`` gives 1.00 there).
    latent_weight : float in [0, 1], default=0.5
        How much the windows' latent novelty N counts beside the error E above (reconstruction, with
        ``forecast_weight`` the prediction error too, channels weighed): N is the mean over the windows covering
        a point of each window's latent novelty, the mean distance of its latent code to the codes of the 5
        nearest training windows (codes standardised per dimension; a training window skips the windows
        overlapping it). Both are divided by their means over the training series, then weighed:
        ``(1 - latent_weight) * E`` and ``latent_weight * N``, mixed by ``latent_mix``. Why: an autoencoder that
        generalises redraws a shifted level or an unseen regime well, so its error stays low where the window as
        a whole is unlike anything in training; the code's distance sees that. At 0 the score is E alone. The
        training series' own windows are among the codes compared with, so scored again they get low novelty.
    latent_mix : {"max", "sum"}, default="max"
        "max": a point's score is the larger of the two weighed terms, so the novelty counts where it says more
        than the error; "sum": their sum (the rule of files saved before this parameter). Why "max": on noisy
        series the novelty of normal windows after the training part wanders above its training mean and, added,
        buries a moderate error (NAB's ``ec2_request_latency_system_failure``: 0.974 VUS-PR without the novelty,
        0.575 with the sum). The same fits scored three ways (``benchmarks/novelty_mix.py``, seeds 0 / 1 / 2),
        VUS-PR "max" against "sum" against no novelty: NAB 0.490 / 0.472 / 0.471 against 0.481 / 0.467 / 0.470
        against 0.480 / 0.466 / 0.471, SMAP 0.651 / 0.659 / 0.635 against 0.646 / 0.657 / 0.639 against 0.641 /
        0.640 / 0.608, SMAP-25 0.452 / 0.433 / 0.423 against 0.427 / 0.411 / 0.405 against 0.366 / 0.361 / 0.357,
        UCR 0.472 / 0.411 / 0.415 against 0.394 / 0.395 / 0.393 against the same as "max", SKAB 0.892 / 0.889 /
        0.891 against 0.898 / 0.851 / 0.898 against the same as "max": on the mean over the seeds "max" is at or
        above both in every group. Event F1 is mixed (``benchmarks/results/novelty_mix.md``,
        ``benchmarks/results/detection.md``).
    center_windows : bool, default=False
        The autoencoder sees each window minus its own mean over time (per channel), so its errors follow the
        window's shape and not its level; the level is then compared by the latent novelty, each window's code
        followed by its means. Why: a series whose test part sits at levels its training part never reached
        (telemetry that drifts, a channel constant in training) gets errors everywhere from the level alone,
        which bury a change of shape. On the detection suite (``benchmarks/results/detection.md``, note
        "Centred windows"), mean VUS-PR over seeds 0-2 against the default: SMAP 0.711 against 0.635 (PyOD's
        AutoEncoder 0.686), SKAB 0.918 against 0.891, SMAP-25 0.454 against 0.439, but NAB 0.476 against 0.481
        (where the level is the anomaly, nyc_taxi 0.52 against 0.71 at seed 0) and UCR's one series 0.29
        against 0.48; the events of SKAB and SMAP-25 lose at every seed: not the default. Fitting costs the
        same.
    missing : {"raise", "interpolate"}, default="raise"
        NaN in the series: an error that says where, or linear interpolation.
    repair_training : bool, default=False
        Fit twice: the first fit's events on the training series (``labels_``), widened by half a window on each
        side, are replaced by the straight line between the values around them, and the detector is fitted again
        on that series, so that anomalies in the training series are not learnt as normal. For a series fitted
        and scored whole (its anomalies in it); it doubles the fitting time. On the detection suite
        (``benchmarks/results/detection.md``) it raised the event F1 of every NAB group fitted whole at seeds 0
        and 1 (their mean 0.587 to 0.646 and 0.586 to 0.661; artificialWithAnomaly 0.77 and 0.83 against 0.67),
        but on clean training parts it lost VUS-PR on every group at seed 0 (SMAP-25 0.455 to 0.386, UCR 0.43
        to 0.05) and on SMAP, SMAP-25 and SKAB at seed 1, and SMAP-25's events at both: not the default.
    max_train_windows : int or None, default=4096
        Training uses at most this many windows, evenly spaced over the training series, so training cost is
        bounded on long series (None uses all).
    **autoencoder parameters
        Every :class:`~seqae.LSTMAutoencoder` parameter, same names; defaults tuned for windows
        (``hidden_size=32``, ``batch_size=64``, ``epochs=50``, ``patience=5``): hidden size 32 scored as
        well as 64 on NAB at a quarter of the cost. ``forecast=True`` by default: the next-step head is trained
        beside the reconstruction and makes the reconstruction's scores better on the suite, its own error
        counting only beyond ``forecast_margin``. Over seeds 0-2, mean VUS-PR with it against without: SMAP 0.628
        vs 0.604, UCR 135 0.502 vs 0.011 (early stopping ended the reconstruction-only fit before it learnt
        that series), SKAB 0.885 vs 0.883, NAB 0.472 vs 0.479 (the one group it loses); fit + scoring of the
        52 NAB series 92 s vs 70 s (``benchmarks/results/detection.md``, notes).
    <autoencoder parameters>

    Attributes
    ----------
    autoencoder_ : LSTMAutoencoder
    decision_scores_ : ndarray (n_train,)
        Scores of the training series' points.
    threshold_ : float
    labels_ : ndarray (n_train,) of 0/1
    label_params_ : dict
        The labelling defaults of the adaptive rules when it was fitted (``threshold_params`` overrides them), kept
        in saved files so that a detector labels as it did when saved.
    forecast_range_ : ndarray (2,) or None
        With a next-step head: the largest error E and the largest next-step error P over the training series
        (``forecast_margin``'s scale); None without a head.
    repaired_events_ : ndarray (k, 2)
        With ``repair_training``: the first fit's events on the training series (inclusive positions), which the
        second fit saw repaired (each widened by half a window); empty otherwise.
    n_features_in_ : int
    feature_names_in_ : list of str

    Examples
    --------
    >>> import numpy as np
    >>> from seqae import AnomalyDetector
    >>> t = np.arange(600)
    >>> train = np.sin(t / 8)
    >>> test = train.copy(); test[300:305] += 3
    >>> det = AnomalyDetector(window=32, hidden_size=16, latent_dim=4, epochs=3, random_state=0).fit(train)
    >>> scores = det.decision_function(test)   # one per point
    >>> scores.shape, det.predict(test).shape
    ((600,), (600,))
    """

    # A file saved before the forecast head existed records no `forecast`: it was fitted without one (today's
    # default, True, would ask it for the head's weights). One saved before channel_weights scored with equal
    # weights and has no channel_scale_. seqae.persistence fills absent parameters from here.
    # One saved before latent novelty has no training codes, and scored without them; one saved before
    # latent_mix added the novelty to the error.
    # One saved before forecast_margin scored without it.
    _legacy_params = {"forecast": False, "channel_weights": "equal", "latent_weight": 0.0, "latent_mix": "sum",
                      "forecast_margin": None}

    def __init__(self, *, window=64, stride=1, contamination=0.01, threshold="dynamic", threshold_params=None,
                 event_gap=None, score_aggregation="window_max", point_weight=0.0,
                 channel_weights="train", forecast_weight=0.0, forecast_margin=2.0, latent_weight=0.5,
                 latent_mix="max", center_windows=False, missing="raise", repair_training=False,
                 max_train_windows=4096, hidden_size=32, decoder_hidden_size=None, latent_dim=16, num_layers=1,
                 bidirectional=False, dropout=0.0, variational=False, beta=1.0, beta_warmup=0,
                 pooling="last", decoder="repeat", forecast=True, epochs=50, batch_size=64, learning_rate=1e-3,
                 validation_fraction=0.1, patience=5, clip_norm=1.0, max_batches_per_epoch=None,
                 min_steps=None, lr_schedule="constant", min_crop=1.0, mask_fraction=0.0, contrastive_weight=0.0,
                 embedding="latent", random_state=None,
                 device="auto", num_threads="auto", verbose=False):
        self.window = window
        self.stride = stride
        self.contamination = contamination
        self.threshold = threshold
        self.threshold_params = threshold_params
        self.event_gap = event_gap
        self.score_aggregation = score_aggregation
        self.point_weight = point_weight
        self.channel_weights = channel_weights
        self.forecast_weight = forecast_weight
        self.forecast_margin = forecast_margin
        self.latent_weight = latent_weight
        self.latent_mix = latent_mix
        self.center_windows = center_windows
        self.missing = missing
        self.repair_training = repair_training
        self.max_train_windows = max_train_windows
        set_autoencoder_params(self, locals())

    def _check_params(self) -> None:
        check_int("window", self.window, 2)
        check_int("stride", self.stride, 1)
        if self.stride > self.window:
            raise ValueError(f"stride ({self.stride}) must be <= window ({self.window}), otherwise some points "
                             "are never scored")
        check_int("max_train_windows", self.max_train_windows, 2, allow_none=True)
        check_int("event_gap", self.event_gap, 0, allow_none=True)
        check_choice("score_aggregation", self.score_aggregation, AGGREGATIONS)
        check_float("point_weight", self.point_weight, 0.0, 1.0)
        check_choice("channel_weights", self.channel_weights, CHANNEL_WEIGHTS)
        check_float("forecast_weight", self.forecast_weight, 0.0, 1.0)
        if self.forecast_margin is not None:
            check_float("forecast_margin", self.forecast_margin, 1.0, float("inf"))
        check_float("latent_weight", self.latent_weight, 0.0, 1.0)
        check_choice("latent_mix", self.latent_mix, LATENT_MIXES)
        check_choice("center_windows", self.center_windows, (False, True))
        check_choice("missing", self.missing, MISSING)
        check_choice("repair_training", self.repair_training, (False, True))
        super()._check_params()

    def _validate(self, X, fitted: bool) -> SeriesInput:
        return check_series(X, n_features=self.n_features_in_ if fitted else None,
                            feature_names=self.feature_names_in_ if fitted else None, min_length=self.window,
                            missing=self.missing)

    def fit(self, X, y=None, *, checkpoint=None):
        """Fit on a training series (ndarray (n,) or (n, F), pandas Series or DataFrame); returns self.

        The last ``validation_fraction`` of the training windows (in time) is held out for early stopping,
        with a gap of one window so that no held-out point is also in a training window. With
        ``repair_training``, a second fit follows on the series with the first fit's events in it repaired
        (its checkpoint, if any, at ``checkpoint`` + "-repaired").
        """
        self._check_params()
        series = self._validate(X, fitted=False)
        self.repaired_events_ = np.zeros((0, 2), np.int64)
        self._fit_series(series, checkpoint)
        if self.repair_training and self.labels_.any():
            self.repaired_events_ = self._runs(self.labels_)
            self._fit_series(self._calibration_series(series),
                             None if checkpoint is None else f"{os.fspath(checkpoint)}-repaired")
            # scales and threshold stay those of the repaired series; PyOD's decision_scores_ and labels_ are
            # the training series' own, as given
            self.decision_scores_ = self._training_scores(*self._training_parts(series))
            self.labels_ = self._label(self.decision_scores_)
        return self

    def _calibration_series(self, series: SeriesInput) -> SeriesInput:
        """The training series as the last fit saw it: with ``repaired_events_`` repaired, if any."""
        if not len(self.repaired_events_):
            return series
        return replace(series, values=repaired(series.values, self.repaired_events_, widen=self.window // 2))

    def _fit_series(self, series: SeriesInput, checkpoint) -> None:
        """One fit of the autoencoder on the windows of ``series``, then the scales and threshold from it."""
        starts = window_starts(len(series.values), self.window, 1)
        train_starts, val_starts = self._temporal_split(starts)
        train_starts = sample_starts(train_starts, self.max_train_windows)
        val_starts = sample_starts(val_starts, None if self.max_train_windows is None
                                   else max(1, self.max_train_windows // 4))
        train = next(iter_windows(series.values, self.window, train_starts, len(train_starts)))[1]
        val = next(iter_windows(series.values, self.window, val_starts, len(val_starts)))[1] \
            if len(val_starts) else None
        ae = self._make_autoencoder().set_params(validation_fraction=0.0)
        ae.fit(self._model_input(train), validation_data=None if val is None else self._model_input(val),
               checkpoint=checkpoint)
        self.autoencoder_ = ae
        self.n_features_in_ = series.values.shape[1]
        self.feature_names_in_ = series.columns
        self._fit_latent_reference(series)
        self._calibrate(*self._training_parts(series))

    def _training_parts(self, series: SeriesInput):
        """The training series' errors as :meth:`_calibrate` takes them: every error whatever the weights, each
        window's latent novelty against the reference windows outside its own stretch."""
        return self._error_parts(series, forecast=self.autoencoder_.forecast, novelty=True,
                                 reference_starts=self._reference_starts(len(series.values)))

    def _calibrate(self, rec: np.ndarray, fc: np.ndarray | None, novelty: np.ndarray) -> None:
        """Scales and threshold from the training series' errors (:meth:`_training_parts`). Each error's mean
        over the training series is the unit in which they are added (all of them, whatever the weights, so that
        a weight set after fitting scores in the same units); the aggregation and ``point_weight`` shape the
        errors, so a change of either needs this again (``benchmarks/detection.py``'s rules call it)."""
        self.forecast_range_ = None                             # so that _combine gives the error without P's
        self.error_scale_ = np.array([_mean_or_one(rec), _mean_or_one(fc) if fc is not None else 1.0])
        self.channel_scale_ = np.ones(self.n_features_in_)     # so that _combine gives the unweighted errors
        self.channel_scale_ = _channel_scale(self._combine(rec, fc))
        if fc is not None:
            error = self._combine(rec, fc).mean(axis=1)            # weighed, without P's excess (range None)
            self.forecast_range_ = np.array([max(float(error.max()), 1e-12),
                                             max(float(self._next_step_score(fc).max()), 1e-12)])
        self.mix_scale_ = np.array([_mean_or_one(self._combine(rec, fc).mean(axis=1)), _mean_or_one(novelty)])
        self._fit_threshold(self._training_scores(rec, fc, novelty))

    def _training_scores(self, rec: np.ndarray, fc: np.ndarray | None, novelty: np.ndarray) -> np.ndarray:
        """(n,) the scores of the training series from :meth:`_training_parts`."""
        return self._combine(rec, fc, novelty if self._uses_novelty() else None).mean(axis=1)

    def _centred(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """What the autoencoder sees of windows (c, W, F), and the level it does not see: with
        ``center_windows``, each window minus its mean over time and those means (c, F); else the windows, None."""
        if not self.center_windows:
            return windows, None
        level = windows.mean(axis=1)                                                    # (c, F)
        return np.ascontiguousarray(windows - level[:, None, :], dtype=windows.dtype), level

    def _model_input(self, windows: np.ndarray) -> np.ndarray:
        """(c, W, F) what the autoencoder sees of windows (:meth:`_centred`)."""
        return self._centred(windows)[0]

    def _window_outputs(self, windows: np.ndarray, codes: bool = False):
        """The autoencoder's per-step reconstruction and next-step errors (c, W, F) of windows (c, W, F) (the
        latter None without a head) and, with ``codes``, what their latent novelty compares (else None): the
        latent codes (c, Z), with ``center_windows`` followed by the windows' means (c, Z + F), the level the
        autoencoder no longer sees."""
        x, level = self._centred(windows)
        if not codes:
            return (*self.autoencoder_.step_errors(x), None)
        rec, fc, latent = self.autoencoder_.step_errors(x, codes=True)
        if level is not None:
            latent = np.concatenate([latent, level.astype(latent.dtype)], axis=1)          # (c, Z + F)
        return rec, fc, latent

    def _reference_starts(self, n: int) -> np.ndarray:
        """Starts of the reference windows of a training series of n points: at most LATENT_REFERENCE, evenly
        spaced."""
        return sample_starts(window_starts(n, self.window, 1), LATENT_REFERENCE)

    def _fit_latent_reference(self, series: SeriesInput) -> None:
        """The reference windows' latent codes, standardised per dimension: what a window's latent novelty is
        measured against."""
        starts = self._reference_starts(len(series.values))
        codes = np.concatenate([self._window_outputs(w, codes=True)[2]
                                for _, w in iter_windows(series.values, self.window, starts, _CHUNK)])
        self.latent_center_, self.latent_spread_ = standardiser(codes.astype(np.float64))
        self.latent_reference_ = self._standardised_codes(codes)

    def _standardised_codes(self, codes: np.ndarray) -> np.ndarray:
        return ((codes.astype(np.float64) - self.latent_center_) / self.latent_spread_).astype(np.float32)

    def _window_novelty(self, codes: np.ndarray, starts: np.ndarray | None = None,
                        reference_starts: np.ndarray | None = None) -> np.ndarray:
        """(c,) latent novelty of windows from their codes (c, Z); fitting (``starts`` of the training windows
        and of the reference), the reference windows within a window of each are skipped."""
        return window_novelty(self.latent_reference_, self._standardised_codes(codes), LATENT_NEIGHBORS,
                              reference_starts=reference_starts, starts=starts, min_gap=self.window)

    def _temporal_split(self, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n_val = int(round(self.validation_fraction * len(starts)))
        if n_val < 2 or len(starts) - n_val - self.window < 2:
            return starts, starts[:0]
        val = starts[-n_val:]
        train = starts[starts + self.window <= val[0]]  # no training window overlaps a held-out one
        return train, val

    def _uses_novelty(self) -> bool:
        """Whether scores include the windows' latent novelty (a weight above 0)."""
        if self.latent_weight > 0 and self.latent_reference_ is None:
            raise ValueError(f"latent_weight={self.latent_weight} needs the training windows' codes, which this "
                             "detector (loaded from a file saved before seqae scored latent novelty) does not have; "
                             "refit it, or set latent_weight=0")
        return self.latent_weight > 0

    def _uses_forecast_error(self) -> bool:
        """Whether scores include the next-step error: a head trained, and a weight above 0 or a margin
        (``forecast_margin``) beyond which it counts."""
        return bool(self.autoencoder_.forecast) and (self.forecast_weight > 0 or self._forecast_ratio() > 0)

    def _forecast_ratio(self) -> float:
        """E_max / (forecast_margin * P_max): what a point's P is multiplied by to compare with its error E;
        0 when P does not count this way (no margin, no head, or a file saved before the margin)."""
        if self.forecast_margin is None or self.forecast_range_ is None:
            return 0.0
        return float(self.forecast_range_[0] / (self.forecast_margin * self.forecast_range_[1]))

    def _next_step_score(self, fc: np.ndarray) -> np.ndarray:
        """(n, 1): P, each point's next-step error in units of its training mean, channels weighed, mean over
        them."""
        p = fc / self.error_scale_[1]
        if self.channel_weights == "train" and p.shape[1] > 1:
            p = p / self.channel_scale_
        return p.mean(axis=1, keepdims=True)

    def _error_parts(self, series: SeriesInput, forecast: bool | None = None, novelty: bool | None = None,
                     reference_starts: np.ndarray | None = None):
        """(n, F) reconstruction score; with ``forecast`` (None: when the scores use it), (n, F) next-step error
        per point and feature, else None; with ``novelty`` (None: when the scores use it), (n, 1) latent novelty
        of the windows covering each point (their mean), else None. Windows made and scored chunk by chunk.
        ``reference_starts`` (fitting: ``series`` is the training series): each window skips the reference
        windows of its own stretch."""
        if forecast is None:
            forecast = self._uses_forecast_error()
        if novelty is None:
            novelty = self._uses_novelty()
        n, n_features = series.values.shape
        rec = PointAccumulator(n, n_features, self.score_aggregation, self.point_weight)
        fc = ForecastAccumulator(n, n_features) if forecast else None
        nov = PointAccumulator(n, 1, "mean") if novelty else None
        starts = window_starts(n, self.window, self.stride)
        for chunk_starts, windows in iter_windows(series.values, self.window, starts, _CHUNK):
            rec_errors, fc_errors, codes = self._window_outputs(windows, codes=novelty)   # (c, W, F) each
            rec.add(chunk_starts, rec_errors)
            if fc is not None:
                fc.add(chunk_starts, fc_errors)
            if nov is not None:
                nov.add(chunk_starts, self._novelty_steps(codes, chunk_starts, reference_starts))
        return rec.result(), (fc.result() if fc is not None else None), (nov.result() if nov is not None else None)

    def _novelty_steps(self, codes: np.ndarray, starts: np.ndarray,
                       reference_starts: np.ndarray | None = None) -> np.ndarray:
        """(c, W, 1): each window's latent novelty at every one of its steps, for a "mean" PointAccumulator
        (``reference_starts``: fitting, see :meth:`_window_novelty`)."""
        novelty = self._window_novelty(codes, starts if reference_starts is not None else None, reference_starts)
        return np.broadcast_to(novelty[:, None, None], (len(codes), self.window, 1))

    def _combine(self, rec: np.ndarray, fc: np.ndarray | None, novelty: np.ndarray | None = None) -> np.ndarray:
        """The per-point error: ``rec`` alone without a head; else both errors in units of their training means
        (``fc`` None: its weight is 0, and the sum would add exact zeros); then, with channel_weights="train", each
        channel divided by its ``channel_scale_``; then, with ``fc`` and ``forecast_margin``, what the next-step error
        brought to the error's scale has above the point's error; then, with ``novelty`` (n, 1), the mix of that
        error and the windows' latent novelty, each in units of its training mean (``mix_scale_``) and weighed:
        "sum" adds the novelty to every channel alike, "max" adds what it has above the point's error (mean over
        channels), so that the channels' mean is the larger of the two."""
        if self.autoencoder_.forecast:
            w = self.forecast_weight
            scaled = (1.0 - w) * rec / self.error_scale_[0]
            rec = scaled if fc is None else scaled + w * fc / self.error_scale_[1]
        if self.channel_weights == "train" and rec.shape[1] > 1:
            rec = rec / self.channel_scale_
        ratio = self._forecast_ratio()
        if fc is not None and ratio > 0:
            # what P, brought to E's scale, has above the point's error (mean over channels), added to every
            # channel alike; none where no window covers a point yet (a stream's accumulator holds -inf there)
            error = rec.mean(axis=1, keepdims=True)                                      # (n, 1)
            excess = np.maximum(ratio * self._next_step_score(fc) - error, 0.0, where=np.isfinite(error),
                                out=np.zeros_like(error))
            rec = rec + excess
        if novelty is not None:
            w = self.latent_weight
            rec = (1.0 - w) * rec / self.mix_scale_[0]
            novelty = w * novelty / self.mix_scale_[1]                                   # (n, 1)
            if self.latent_mix == "max":
                # what the novelty has above the error; none where no window covers a point yet (a stream's
                # "window_max" accumulator holds -inf there)
                error = rec.mean(axis=1, keepdims=True)                                  # (n, 1)
                novelty = np.maximum(novelty - error, 0.0, where=np.isfinite(error), out=np.zeros_like(novelty))
            rec = rec + novelty
        return rec

    def _point_errors(self, series: SeriesInput) -> np.ndarray:
        """(n, F) per-point, per-feature error (its mean over features is the point's score)."""
        return self._combine(*self._error_parts(series))

    def _gap(self) -> int:
        return self.window if self.event_gap is None else self.event_gap

    def _runs(self, labels: np.ndarray) -> np.ndarray:
        """(k, 2) inclusive positions of the events of 0/1 labels: their flagged runs merged within event_gap. For
        "dynamic" exactly the events its rounds kept (adaptive_runs merges within the same gap), so the rule
        need not run again."""
        return merge_runs(label_runs(labels), self._gap())

    def _label(self, scores: np.ndarray) -> np.ndarray:
        if self.threshold in ADAPTIVE_THRESHOLDS:  # only the points of the events its rounds kept
            _, flags = adaptive_runs(scores, self._threshold_of, gap=self._gap(), **self._rule_params()[1])
            return flags.astype(np.int64)
        return super()._label(scores)

    def decision_function(self, X) -> np.ndarray:
        """(n,) anomaly score of every point; higher = more abnormal."""
        check_is_fitted(self, "autoencoder_")
        return self._point_errors(self._validate(X, fitted=True)).mean(axis=1)

    def feature_contributions(self, X) -> np.ndarray:
        """(n, F): each channel's share of each point's score; rows sum to ``decision_function(X)``."""
        check_is_fitted(self, "autoencoder_")
        errors = self._point_errors(self._validate(X, fitted=True))
        return errors / errors.shape[1]

    def detect(self, X) -> pd.DataFrame:
        """Scores and labels as a DataFrame indexed like the input (a DatetimeIndex is kept).

        Columns: ``score``, ``label``, and ``contribution_<feature>`` per feature for multivariate input.
        """
        check_is_fitted(self, "autoencoder_")
        series = self._validate(X, fitted=True)
        errors = self._point_errors(series)
        score = errors.mean(axis=1)
        out = pd.DataFrame({"score": score, "label": self._label(score)}, index=series.index)
        if errors.shape[1] > 1:
            for j, name in enumerate(series.columns):
                out[f"contribution_{name}"] = errors[:, j] / errors.shape[1]
        return out

    def detect_events(self, X) -> pd.DataFrame:
        """Anomaly events of a series: one row per interval of flagged points, in time order.

        Flagged points (as :meth:`predict` flags them) separated by at most ``event_gap`` points form one event.
        Columns: ``start``, ``end`` (index labels of the first and last point: timestamps for a DatetimeIndex),
        ``start_pos``, ``end_pos`` (positions), ``length`` (points), ``peak`` and ``peak_score`` (where the
        score is highest, and that score), ``severity`` (peak score / ``threshold_``) and ``channels`` (for
        multivariate input, the channels that make up 90% of the event's error, at most three, largest
        first; empty for one channel).
        """
        return self.events_of(self.detect(X))

    def events_of(self, detected: pd.DataFrame) -> pd.DataFrame:
        """The events of a frame that :meth:`detect` returned, without scoring again (see :meth:`detect_events`)."""
        check_is_fitted(self, "autoencoder_")
        score = detected["score"].to_numpy(np.float64)
        names = [c for c in self.feature_names_in_]
        parts = [f"contribution_{c}" for c in names]
        contributions = detected[parts].to_numpy(np.float64) if len(names) > 1 and set(parts) <= set(detected) \
            else None
        labels = detected["label"].to_numpy() if "label" in detected else self._label(score)
        return events_frame(self._runs(labels), score, self.threshold_, index=detected.index,
                            contributions=contributions, channels=names)

    def stream(self, history=None, **kwargs):
        """A :class:`~seqae.detection.stream.AnomalyStream` that scores new points as they arrive, with the
        scores :meth:`decision_function` gives on the whole series once a point's windows are complete.

        ``history``: points that precede the stream (their last ``window`` give the first points context);
        other keyword arguments go to the stream (``label_window``).
        """
        from seqae.detection.stream import AnomalyStream   # here: stream.py imports this module's package
        return AnomalyStream(self, history=history, **kwargs)

    # The training windows' codes (flattened: the format's free-length tensors are 1-D, float32) and their
    # standardisation (float64) are saved beside the autoencoder; files written before them have none.
    _LATENT_STATE = {"latent_reference_": torch.float32, "latent_center_": torch.float64,
                     "latent_spread_": torch.float64}

    def _tensor_specs(self, doc: dict) -> dict:
        specs = super()._tensor_specs(doc)
        if "mix_scale_" in doc:
            specs.update({name: (None, dtype) for name, dtype in self._LATENT_STATE.items()})
        return specs

    def _get_state(self):
        doc, tensors = super()._get_state()
        if self.latent_reference_ is not None:          # None: loaded from a file saved before it
            tensors.update({name: torch.from_numpy(np.ascontiguousarray(getattr(self, name)).reshape(-1))
                            for name in self._LATENT_STATE})
        return doc, tensors

    def _set_state(self, doc, tensors) -> None:
        self.latent_reference_ = None
        if "mix_scale_" in doc:
            values = {name: tensors[name].numpy().copy() for name in self._LATENT_STATE}
            width = len(values["latent_center_"])
            reference = values["latent_reference_"]
            if (width == 0 or reference.size % width or len(values["latent_spread_"]) != width
                    or not all(np.isfinite(v).all() for v in values.values())
                    or not (values["latent_spread_"] > 0).all()):
                raise ValueError("the saved training codes do not fit together")
            values["latent_reference_"] = reference.reshape(-1, width)
            for name, value in values.items():
                setattr(self, name, value)
        super()._set_state(doc, tensors)

    def _extra_state(self) -> dict:
        doc = {"feature_names_in_": list(self.feature_names_in_), "error_scale_": self.error_scale_.tolist(),
               "channel_scale_": self.channel_scale_.tolist()}
        if self.latent_reference_ is not None:          # its presence says the codes are saved too
            doc["mix_scale_"] = self.mix_scale_.tolist()
        if self.forecast_range_ is not None:
            doc["forecast_range_"] = self.forecast_range_.tolist()
        doc["repaired_events_"] = self.repaired_events_.tolist()
        return doc

    def _set_extra_state(self, doc: dict) -> None:
        # Files written before the forecast head have no error_scale_: their scores are the reconstruction's.
        scale = np.asarray(doc.get("error_scale_", [1.0, 1.0]), dtype=np.float64)
        if scale.shape != (2,) or not (np.isfinite(scale).all() and (scale > 0).all()):
            raise ValueError("error_scale_ must be two positive numbers")
        self.error_scale_ = scale
        # Files written before channel_weights: equal weights (they can only have used "equal").
        channel = np.asarray(doc.get("channel_scale_", [1.0] * self.n_features_in_), dtype=np.float64)
        if channel.shape != (self.n_features_in_,) or not (np.isfinite(channel).all() and (channel > 0).all()):
            raise ValueError("channel_scale_ must be one positive number per feature")
        self.channel_scale_ = channel
        mix = np.asarray(doc.get("mix_scale_", [1.0, 1.0]), dtype=np.float64)
        if mix.shape != (2,) or not (np.isfinite(mix).all() and (mix > 0).all()):
            raise ValueError("mix_scale_ must be two positive numbers")
        self.mix_scale_ = mix
        # Files written before forecast_margin have none: the next-step error does not count beyond a margin.
        span = doc.get("forecast_range_")
        if span is not None:
            span = np.asarray(span, dtype=np.float64)
            if span.shape != (2,) or not (np.isfinite(span).all() and (span > 0).all()):
                raise ValueError("forecast_range_ must be two positive numbers")
        self.forecast_range_ = span
        # Files written before repair_training repaired nothing.
        events = np.asarray(doc.get("repaired_events_", []), dtype=np.int64).reshape(-1, 2)
        if (events < 0).any() or (events[:, 1] < events[:, 0]).any():
            raise ValueError("repaired_events_ must be (start, end) pairs of positions, start <= end")
        self.repaired_events_ = events
        self._uses_novelty()               # a file that asks for the novelty without the codes is an error here
        names = doc["feature_names_in_"]
        if not isinstance(names, list) or len(names) != self.n_features_in_:
            raise ValueError("feature_names_in_ does not match the number of features")
        self.feature_names_in_ = [str(n) for n in names]


def _channel_scale(errors: np.ndarray) -> np.ndarray:
    """(F,) what each channel's error is divided by with channel_weights="train": its training mean over the
    median channel's, and 1 for channels at or below the median (a quiet channel is not amplified)."""
    means = errors.mean(axis=0)
    median = _mean_or_one(np.median(means, keepdims=True))
    return np.maximum(means, median) / median


def _mean_or_one(errors: np.ndarray) -> float:
    """Mean of the errors, or 1 when it is not a positive finite number (a perfectly fitted series)."""
    mean = float(np.mean(errors))
    return mean if np.isfinite(mean) and mean > 0 else 1.0
