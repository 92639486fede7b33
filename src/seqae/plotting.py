"""Figures for anomaly detection and embeddings, drawn with matplotlib's Agg backend (no display needed).

Every function takes data (and optionally an output path) and returns the :class:`matplotlib.figure.Figure`.
Figures are drawn on their own Agg canvas, never through pyplot: nothing is shown, no display is needed,
the calling program's backend is left alone, and nothing has to be closed. With ``path`` the figure is
written as PNG atomically (rendered in memory, then temporary file and rename), so a failure never leaves
half an image.

- :func:`plot_anomalies`: the series, the scores with the threshold, flagged and true anomaly regions;
- :func:`plot_contributions`: each channel's share of the score (multivariate series);
- :func:`plot_history`: training and validation loss per epoch;
- :func:`plot_embedding`: a 2-D projection (PCA, or UMAP when installed) of embeddings, coloured by label.

Examples
--------
>>> import numpy as np
>>> from seqae.plotting import plot_anomalies
>>> t = np.arange(500)
>>> scores = np.abs(np.sin(t / 30)) * 0.1
>>> fig = plot_anomalies(t, np.sin(t / 8), scores, threshold=0.09)
>>> len(fig.axes)
2
"""
from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from seqae.events import label_runs as runs  # noqa: F401  (kept under its old name here)
from seqae.exceptions import InputError
from seqae.projection import PROJECTIONS, project_2d

__all__ = ["plot_anomalies", "plot_contributions", "plot_embedding", "plot_history", "runs", "save_figure"]

# Channels drawn in the series panel; the rest are named in a note (a plot of 50 lines is unreadable).
MAX_CHANNELS = 8
_FLAG_COLOR = "tab:red"
_TRUE_COLOR = "tab:green"
_SCORE_COLOR = "tab:blue"
_DPI = 110


def _new_figure(width: float, height: float):
    """A Figure on its own Agg canvas, never registered with pyplot: it is never shown, needs no display,
    leaves the backend of the calling program alone, and is freed like any object (no ``plt.close``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path: str | os.PathLike) -> None:
    """Write ``fig`` as a PNG to ``path`` atomically (rendered in memory, then temporary file and rename)."""
    from seqae.tensorfile import write_atomic

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    write_atomic(path, buf.getvalue())


def _finish(fig, path):
    if path is not None:
        save_figure(fig, path)
    return fig


# ---------------------------------------------------------------------------------------------------- helpers
def _as_x(index: Any, n: int, name: str = "index") -> np.ndarray:
    """The x values: datetimes stay datetimes (matplotlib formats the axis), anything else becomes float."""
    if index is None:
        return np.arange(n)
    x = np.asarray(index)
    if x.ndim != 1 or len(x) != n:
        raise InputError(f"{name} must have one entry per point ({n}), got shape {x.shape}")
    if x.dtype.kind == "M":
        # matplotlib understands naive datetime64; drop time zones via pandas when present.
        return x
    if x.dtype.kind == "O":
        import pandas as pd

        try:
            dt = pd.DatetimeIndex(index)
        except (TypeError, ValueError):
            raise InputError(f"{name} must hold numbers or dates, got values such as {x[0]!r}") from None
        return (dt.tz_localize(None) if dt.tz is not None else dt).to_numpy()
    if x.dtype.kind not in "biuf":
        raise InputError(f"{name} must hold numbers or dates, got dtype {x.dtype}")
    return x


def _as_values(values: Any, n: int | None = None, name: str = "values") -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2:
        raise InputError(f"{name} must be (n,) or (n, F), got shape {v.shape}")
    if n is not None and len(v) != n:
        raise InputError(f"{name} must have {n} rows (one per point), got {len(v)}")
    return v


def _shade(ax, x: np.ndarray, mask: np.ndarray, color: str, alpha: float, label: str | None) -> None:
    """Shade the x-ranges where ``mask`` is true, as one collection (fast even with thousands of runs)."""
    if not mask.any():
        return
    ax.fill_between(x, 0, 1, where=mask, transform=ax.get_xaxis_transform(), color=color, alpha=alpha,
                    linewidth=0, step="mid", label=label)


def _window_mask(x: np.ndarray, windows: Sequence[Sequence[Any]]) -> np.ndarray:
    """True for the points inside any ``(start, end)`` window (inclusive), windows in the units of ``x``."""
    mask = np.zeros(len(x), dtype=bool)
    for w in windows:
        if len(w) != 2:
            raise InputError(f"true_windows must be (start, end) pairs, got {w!r}")
        start, end = w
        if x.dtype.kind == "M":
            start, end = np.datetime64(_naive(start)), np.datetime64(_naive(end))
        mask |= (x >= start) & (x <= end)
    return mask


def _naive(t):
    import pandas as pd

    ts = pd.Timestamp(t)
    return (ts.tz_localize(None) if ts.tz is not None else ts).to_datetime64()


# ------------------------------------------------------------------------------------------------- the plots
def plot_anomalies(index: Any, values: Any, scores: Any, threshold: float | None = None, labels: Any = None,
                   true_windows: Sequence[Sequence[Any]] | None = None, path: str | os.PathLike | None = None, *,
                   names: Sequence[str] | None = None, title: str | None = None, train_end: Any = None,
                   events: Any = None, zoom: int = 3):
    """The series with flagged and true anomalies, the anomaly scores underneath, and the top events up close.

    On a long series an event of a few points is a sliver: with ``events``, a row of panels under the scores
    shows the ``zoom`` highest-ranked events with their surroundings. Where a peak of the scores dwarfs the rest
    (above 20 times the threshold), the score axis is linear up to the threshold and logarithmic above it, so
    that marginal alarms stay visible beside it.

    Parameters
    ----------
    index : array-like (n,) or None
        x positions: timestamps (datetime64, pandas DatetimeIndex) or numbers; None for ``0 .. n-1``.
    values : array-like (n,) or (n, F)
        The series; one line per channel, at most 8 drawn (standardised when there are several, so channels
        of different units share the axis).
    scores : array-like (n,)
        Anomaly score of every point.
    threshold : float, optional
        Drawn as a dashed line on the score panel.
    labels : array-like (n,) of 0/1, optional
        Flagged points, shaded red in both panels.
    true_windows : sequence of (start, end), optional
        Known anomaly windows in the units of ``index`` (inclusive), shaded green.
    path : str or os.PathLike, optional
        Write the figure there as PNG (atomically).
    names : sequence of str, optional
        Channel names for the legend.
    title : str, optional
    train_end : timestamp or number, optional
        Last point of the training data, marked with a dotted line.
    events : DataFrame or array-like (k, 2), optional
        Anomaly events (``AnomalyDetector.detect_events``; or inclusive ``[start, end]`` positions), each
        outlined as a span over both panels and numbered by its rank in peak score (1 = highest), so that an
        operator sees which to look at first.
    zoom : int, default=3
        How many of the highest-ranked events get a close-up panel (0 for none).

    Returns
    -------
    matplotlib.figure.Figure
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    n = len(s)
    if n == 0:
        raise InputError("nothing to plot: scores is empty")
    v = _as_values(values, n)
    x = _as_x(index, n)
    n_channels = v.shape[1]
    shown = min(n_channels, MAX_CHANNELS)
    if names is None:
        names = ["value"] if n_channels == 1 else [f"x{j}" for j in range(n_channels)]
    names = [str(c) for c in names]

    spans = _event_spans(events, n)
    if isinstance(zoom, bool) or not isinstance(zoom, (int, np.integer)) or zoom < 0:
        raise InputError(f"zoom must be a whole number >= 0, got {zoom!r}")
    n_zoom = min(int(zoom), len(spans))
    if n_zoom:
        fig = _new_figure(12, 9.0)
        grid = fig.add_gridspec(3, n_zoom, height_ratios=[3, 2, 2])
        top = fig.add_subplot(grid[0, :])
        bottom = fig.add_subplot(grid[1, :], sharex=top)
        close_ups = [fig.add_subplot(grid[2, j]) for j in range(n_zoom)]
    else:
        fig = _new_figure(12, 6.5)
        top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
        close_ups = []
    flagged = None if labels is None else np.asarray(labels).astype(bool).ravel()
    if flagged is not None and len(flagged) != n:
        raise InputError(f"labels must have {n} entries (one per point), got {len(flagged)}")
    truth = None if not true_windows else _window_mask(x, true_windows)

    if shown == 1:
        top.plot(x, v[:, 0], color="0.2", linewidth=0.7, label=names[0])
        top.set_ylabel(names[0])
    else:
        mean = np.nanmean(v[:, :shown], axis=0)
        std = np.nanstd(v[:, :shown], axis=0)
        std[~(std > 0)] = 1.0
        for j in range(shown):
            top.plot(x, (v[:, j] - mean[j]) / std[j], linewidth=0.7, label=names[j])
        top.set_ylabel("value (standardised)")
    for ax in (top, bottom):
        if truth is not None:
            _shade(ax, x, truth, _TRUE_COLOR, 0.18, "known anomaly" if ax is top else None)
        if flagged is not None:
            _shade(ax, x, flagged, _FLAG_COLOR, 0.35, "flagged" if ax is top else None)
    if flagged is not None and flagged.any():
        # Flagged points marked too: a one-point detection is invisible as a shaded sliver on a long series.
        if shown == 1:
            top.scatter(x[flagged], v[flagged, 0], s=7, color=_FLAG_COLOR, zorder=3, linewidths=0)
        else:  # a rug along the bottom edge
            top.scatter(x[flagged], np.full(int(flagged.sum()), 0.015), s=30, marker="|", color=_FLAG_COLOR,
                        transform=top.get_xaxis_transform(), zorder=3, linewidths=1)
        bottom.scatter(x[flagged], s[flagged], s=7, color=_FLAG_COLOR, zorder=3, linewidths=0)
    ranks = np.zeros(0, dtype=np.int64)
    if len(spans):
        ranks = np.argsort(np.argsort([-s[a:b + 1].max() for a, b in spans], kind="stable"), kind="stable") + 1
        for (a, b), rank in zip(spans, ranks):
            for ax in (top, bottom):
                ax.axvspan(x[a], x[b], facecolor="none", edgecolor=_FLAG_COLOR, linewidth=0.9,
                           label="event" if ax is top and rank == 1 else None)
            top.annotate(str(rank), (x[a], 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                         color=_FLAG_COLOR, va="bottom", ha="left", annotation_clip=False)
    if train_end is not None:
        for ax in (top, bottom):
            ax.axvline(_as_x([train_end], 1)[0] if x.dtype.kind == "M" else train_end, color="0.35",
                       linestyle=":", linewidth=1.2, label="end of training" if ax is top else None)
    note = "" if n_channels <= shown else f" (first {shown} of {n_channels} channels)"
    n_flagged = 0 if flagged is None else int(flagged.sum())
    n_events = f" in {len(spans)} event{'s' if len(spans) != 1 else ''}" if events is not None else ""
    top.set_title(title or f"Anomalies: {n_flagged} of {n} points flagged{n_events}{note}", loc="left", pad=12)
    top.legend(loc="upper left", fontsize=8, ncol=min(5, shown + 2), framealpha=0.8)

    bottom.plot(x, s, color=_SCORE_COLOR, linewidth=0.7, label="score")
    if threshold is not None and np.isfinite(threshold):
        bottom.axhline(threshold, color=_FLAG_COLOR, linestyle="--", linewidth=1.0,
                       label=f"threshold {threshold:.3g}")
    _score_scale(bottom, s, threshold)
    bottom.set_ylabel("anomaly score")
    bottom.legend(loc="upper left", fontsize=8, framealpha=0.8)
    bottom.set_xlabel("time" if x.dtype.kind == "M" else "index")
    bottom.set_xlim(x[0], x[-1])
    for ax, rank in zip(close_ups, range(1, n_zoom + 1)):
        a, b = spans[int(np.flatnonzero(ranks == rank)[0])]
        _close_up(ax, x, v[:, :shown], s, flagged, truth, a, b, rank, threshold)
    return _finish(fig, path)


# Above this many times the reference (the threshold, else the 99th percentile), a score peak would flatten the
# rest of a linear axis: the axis turns logarithmic above the reference.
_PEAK_RATIO = 20


def _score_scale(ax, s: np.ndarray, threshold: float | None) -> None:
    finite = s[np.isfinite(s)]
    if not finite.size:
        return
    ref = threshold if threshold is not None and np.isfinite(threshold) and threshold > 0 else None
    if ref is None:
        positive = finite[finite > 0]
        ref = float(np.percentile(positive, 99)) if positive.size else None
    if ref and finite.max() > _PEAK_RATIO * ref:
        ax.set_yscale("symlog", linthresh=ref, linscale=2.0)   # linear up to the threshold, log above it
        if finite.min() >= 0:
            ax.set_ylim(bottom=0)


def _close_up(ax, x, v, s, flagged, truth, a: int, b: int, rank: int, threshold) -> None:
    """One event and its surroundings (as long again as the event on each side, at least 50 points): the series,
    standardised, and the scores on a second axis."""
    pad = max(50, b - a + 1)
    lo, hi = max(0, a - pad), min(len(s) - 1, b + pad)
    part = slice(lo, hi + 1)
    xs = x[part]
    vv = v[part]
    std = np.nanstd(vv, axis=0)
    std[~(std > 0)] = 1.0
    for j in range(vv.shape[1]):
        ax.plot(xs, (vv[:, j] - np.nanmean(vv[:, j])) / std[j], linewidth=0.8, color="0.2" if vv.shape[1] == 1 else None)
    if truth is not None:
        _shade(ax, xs, truth[part], _TRUE_COLOR, 0.18, None)
    if flagged is not None:
        _shade(ax, xs, flagged[part], _FLAG_COLOR, 0.35, None)
    ax.axvspan(x[a], x[b], facecolor="none", edgecolor=_FLAG_COLOR, linewidth=0.9)
    score_ax = ax.twinx()
    score_ax.plot(xs, s[part], color=_SCORE_COLOR, linewidth=0.7)
    if threshold is not None and np.isfinite(threshold):
        score_ax.axhline(threshold, color=_FLAG_COLOR, linestyle="--", linewidth=0.8)
    score_ax.tick_params(labelsize=6)
    ax.tick_params(labelsize=6)
    ax.set_yticks([])
    ax.set_xlim(xs[0], xs[-1])
    ax.set_title(f"event {rank}: peak score {np.nanmax(s[a:b + 1]):.3g}", fontsize=8, loc="left")
    if x.dtype.kind == "M":
        for label in ax.get_xticklabels():
            label.set_rotation(20)


def _event_spans(events: Any, n: int) -> np.ndarray:
    """(k, 2) inclusive positions from a detect_events frame or an array of pairs; checked against n."""
    if events is None:
        return np.zeros((0, 2), dtype=np.int64)
    if hasattr(events, "columns"):
        if not {"start_pos", "end_pos"} <= set(events.columns):
            raise InputError("events must be AnomalyDetector.detect_events' frame (with start_pos and end_pos) "
                             "or (k, 2) positions")
        events = events[["start_pos", "end_pos"]].to_numpy()
    spans = np.asarray(events, dtype=np.int64).reshape(-1, 2)
    if len(spans) and (spans.min() < 0 or spans.max() >= n or (spans[:, 1] < spans[:, 0]).any()):
        raise InputError(f"events must be [start, end] positions within 0..{n - 1} with start <= end")
    return spans


def plot_contributions(index: Any, contributions: Any, names: Sequence[str] | None = None,
                       path: str | os.PathLike | None = None, *, threshold: float | None = None):
    """Each channel's share of the anomaly score over time, as stacked areas (their sum is the score).

    Parameters
    ----------
    index : array-like (n,) or None
    contributions : array-like (n, F)
        From :meth:`AnomalyDetector.feature_contributions` (or the ``contribution_*`` columns of ``detect``).
    names : sequence of str, optional
        Channel names.
    path : str or os.PathLike, optional
    threshold : float, optional
        The detector's threshold, drawn as a dashed line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    c = _as_values(contributions, name="contributions")
    n, n_channels = c.shape
    if n == 0:
        raise InputError("nothing to plot: contributions is empty")
    x = _as_x(index, n)
    names = [str(s) for s in names] if names is not None else [f"x{j}" for j in range(n_channels)]
    if len(names) != n_channels:
        raise InputError(f"names must have {n_channels} entries (one per channel), got {len(names)}")
    if n_channels > MAX_CHANNELS:
        # The channels that matter most overall get their own colour; the others are summed.
        order = np.argsort(-np.nansum(c, axis=0))
        keep = np.sort(order[: MAX_CHANNELS - 1])
        rest = np.setdiff1d(np.arange(n_channels), keep)
        c = np.column_stack([c[:, keep], c[:, rest].sum(axis=1)])
        names = [names[j] for j in keep] + [f"{len(rest)} others"]
    fig = _new_figure(12, 4.5)
    ax = fig.subplots()
    ax.stackplot(x, np.clip(c, 0, None).T, labels=names, alpha=0.85, linewidth=0)
    if threshold is not None and np.isfinite(threshold):
        ax.axhline(threshold, color="k", linestyle="--", linewidth=1.0, label=f"threshold {threshold:.3g}")
    ax.set_xlim(x[0], x[-1])
    ax.set_ylabel("contribution to the score")
    ax.set_xlabel("time" if x.dtype.kind == "M" else "index")
    ax.set_title("Score contribution per channel", loc="left")
    ax.legend(loc="upper left", fontsize=8, ncol=min(4, len(names) + 1), framealpha=0.8)
    return _finish(fig, path)


def plot_history(history: Mapping[str, Sequence[float | None]], path: str | os.PathLike | None = None, *,
                 best_epoch: int | None = None):
    """Training and validation loss per epoch (``LSTMAutoencoder.history_``).

    Parameters
    ----------
    history : mapping
        ``train_loss`` and optionally ``val_loss`` lists (``None`` entries, meaning no validation, are skipped).
    path : str or os.PathLike, optional
    best_epoch : int, optional
        1-based epoch whose weights were kept, marked with a dotted line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(history, Mapping) or "train_loss" not in history:
        raise InputError("history must be a mapping with a 'train_loss' list (LSTMAutoencoder.history_)")
    fig = _new_figure(7, 4)
    ax = fig.subplots()
    drawn = False
    for key, label, style in (("train_loss", "training", "o-"), ("val_loss", "validation", "s-")):
        raw = history.get(key) or []
        y = np.array([np.nan if v is None else float(v) for v in raw], dtype=np.float64)
        if y.size == 0 or np.isnan(y).all():
            continue
        epochs = np.arange(1, len(y) + 1)
        ax.plot(epochs, y, style, markersize=3 if len(y) > 30 else 5, linewidth=1.2, label=label)
        drawn = True
    if not drawn:
        raise InputError("history holds no loss values to plot")
    if best_epoch is not None:
        ax.axvline(best_epoch, color="0.5", linestyle=":", linewidth=1.0, label=f"kept (epoch {best_epoch})")
    ys = [float(v) for k in ("train_loss", "val_loss") for v in (history.get(k) or []) if v is not None]
    ys = [v for v in ys if np.isfinite(v)]
    if ys and min(ys) > 0 and max(ys) / min(ys) > 20:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (standardised units)")
    ax.set_title("Training history", loc="left")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    return _finish(fig, path)


def plot_embedding(Z: Any, labels: Any = None, path: str | os.PathLike | None = None, *, method: str = "auto",
                   title: str | None = None, random_state: int = 0):
    """Embeddings projected to 2-D, one point per sequence, coloured by label.

    Parameters
    ----------
    Z : array-like (N, k)
        Embeddings, e.g. ``LSTMAutoencoder.transform(X)``.
    labels : array-like (N,), optional
        Class labels (a legend, up to 20 classes shown by colour) or numbers with many distinct values
        (a colour bar).
    path : str or os.PathLike, optional
    method : {"auto", "pca", "umap"}, default "auto"
        "auto" uses UMAP when the ``umap`` package is installed (and there are at least 20 points), else PCA.
    title : str, optional
    random_state : int, default 0
        Seed of UMAP.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if method not in PROJECTIONS:
        raise InputError(f"method must be 'auto', 'pca' or 'umap', got {method!r}")
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or len(Z) < 1 or Z.shape[1] < 1:
        raise InputError(f"Z must be a non-empty (N, k) array, got shape {Z.shape}")
    if not np.isfinite(Z).all():
        raise InputError("Z holds NaN or infinite values")
    P, how = project_2d(Z, method, random_state)                                  # (N, 2)
    fig = _new_figure(6.5, 5.5)
    ax = fig.subplots()
    size = 18 if len(Z) <= 2000 else 6
    if labels is None:
        ax.scatter(P[:, 0], P[:, 1], s=size, alpha=0.8, linewidths=0)
    else:
        lab = np.asarray(labels)
        if lab.shape != (len(Z),):
            raise InputError(f"labels must have {len(Z)} entries (one per sequence), got shape {lab.shape}")
        classes = list(dict.fromkeys(lab.tolist()))
        numeric = lab.dtype.kind in "iuf"
        if numeric and len(classes) > 20:
            sc = ax.scatter(P[:, 0], P[:, 1], c=lab.astype(np.float64), s=size, cmap="viridis", alpha=0.85,
                            linewidths=0)
            fig.colorbar(sc, ax=ax, label="label")
        else:
            try:
                classes = sorted(classes)
            except TypeError:
                pass
            import matplotlib

            cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
            for k, cls in enumerate(classes):
                sel = np.array([v == cls for v in lab.tolist()])
                color = cmap(k % cmap.N) if k < 20 else "0.6"
                ax.scatter(P[sel, 0], P[sel, 1], s=size, alpha=0.85, linewidths=0, color=color,
                           label=str(cls) if k < 20 else None)
            extra = f" ({len(classes) - 20} more classes in grey)" if len(classes) > 20 else ""
            ax.legend(title=f"label{extra}", fontsize=8, markerscale=1.5, loc="best", framealpha=0.8)
    ax.set_xlabel(f"{how.split(' ')[0]} 1")
    ax.set_ylabel(f"{how.split(' ')[0]} 2")
    ax.set_title(title or f"Embeddings of {len(Z)} sequences: {how}", loc="left", fontsize=10)
    ax.grid(alpha=0.3)
    return _finish(fig, path)
