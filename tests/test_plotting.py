"""Tests of seqae.plotting: each plot writes a real PNG of sensible size, returns the Figure, never uses pyplot's
global state, and refuses inputs that do not fit together."""
from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from seqae.exceptions import InputError
from seqae.plotting import plot_anomalies, plot_contributions, plot_embedding, plot_history, runs

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, "not a PNG file"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


def check_png(path: Path, min_bytes: int = 10_000) -> tuple[int, int]:
    assert path.stat().st_size > min_bytes
    width, height = png_size(path)
    assert 500 <= width <= 2000 and 300 <= height <= 1500, (width, height)
    assert not list(path.parent.glob(".*.tmp")), "a temporary file was left behind"
    return width, height


@pytest.fixture
def series():
    rng = np.random.default_rng(0)
    n = 600
    index = pd.date_range("2024-03-01", periods=n, freq="5min")
    values = np.column_stack([np.sin(np.arange(n) / 10), np.cos(np.arange(n) / 7)]) + 0.1 * rng.standard_normal((n, 2))
    values[400:410, 0] += 3
    scores = np.abs(rng.standard_normal(n)) * 0.2
    scores[400:410] += 2
    return index, values, scores


def test_plot_anomalies_univariate_with_windows(tmp_path, series):
    index, values, scores = series
    labels = (scores > 1).astype(int)
    path = tmp_path / "a.png"
    fig = plot_anomalies(index, values[:, 0], scores, 1.0, labels=labels,
                         true_windows=[(index[395], index[415])], path=path, train_end=index[200])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    check_png(path)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "flagged" in legend and "known anomaly" in legend and "end of training" in legend


def test_plot_anomalies_multivariate_numeric_index_many_channels(tmp_path):
    rng = np.random.default_rng(1)
    values = rng.standard_normal((300, 12)).cumsum(axis=0)
    scores = rng.random(300)
    fig = plot_anomalies(np.arange(300), values, scores, 0.9, labels=scores > 0.9, true_windows=[(10, 20)],
                         path=tmp_path / "m.png", names=[f"ch{j}" for j in range(12)])
    check_png(tmp_path / "m.png")
    assert "first 8 of 12 channels" in fig.axes[0].get_title(loc="left")
    assert len(fig.axes[0].get_lines()) == 8


def test_plot_anomalies_time_zone_aware_index_and_no_path(series):
    index, values, scores = series
    fig = plot_anomalies(index.tz_localize("UTC"), values, scores, None,
                         true_windows=[("2024-03-01 10:00+00:00", "2024-03-01 11:00+00:00")])
    assert isinstance(fig, Figure)


def test_plot_contributions(tmp_path, series):
    index, values, scores = series
    contributions = np.abs(values) / 2
    fig = plot_contributions(index, contributions, ["a", "b"], tmp_path / "c.png", threshold=1.0)
    assert isinstance(fig, Figure)
    check_png(tmp_path / "c.png")
    many = np.abs(np.random.default_rng(0).standard_normal((200, 11)))
    fig = plot_contributions(None, many, [f"x{j}" for j in range(11)], tmp_path / "c11.png")
    check_png(tmp_path / "c11.png")
    assert "4 others" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_plot_history(tmp_path):
    history = {"train_loss": [1.0, 0.6, 0.4, 0.35, 0.33], "val_loss": [1.1, 0.7, 0.5, 0.52, 0.55]}
    fig = plot_history(history, tmp_path / "h.png", best_epoch=3)
    check_png(tmp_path / "h.png", min_bytes=5_000)
    assert len(fig.axes[0].get_lines()) == 3  # training, validation, the kept epoch
    # Without validation the history holds None (JSON-safe "no value"): only the training curve.
    fig = plot_history({"train_loss": [1.0, 0.5], "val_loss": [None, None]}, tmp_path / "h2.png")
    assert len(fig.axes[0].get_lines()) == 1


@pytest.mark.parametrize("labels", [None, "classes", "many_numbers"])
def test_plot_embedding(tmp_path, labels):
    rng = np.random.default_rng(2)
    Z = np.vstack([rng.normal(0, 1, (40, 6)), rng.normal(3, 1, (40, 6))])
    lab = {None: None, "classes": np.array(["a"] * 40 + ["b"] * 40, dtype=object),
           "many_numbers": rng.random(80)}[labels]
    fig = plot_embedding(Z, lab, tmp_path / "e.png", method="pca")
    check_png(tmp_path / "e.png")
    assert "PCA" in fig.axes[0].get_title(loc="left")


def test_plot_embedding_one_dimension(tmp_path):
    fig = plot_embedding(np.arange(10.0)[:, None], np.arange(10) % 2, tmp_path / "e1.png")
    assert isinstance(fig, Figure)


def test_runs():
    assert runs([0, 1, 1, 0, 1]).tolist() == [[1, 2], [4, 4]]
    assert runs([1, 1]).tolist() == [[0, 1]]
    assert runs([]).shape == (0, 2)


def test_no_pyplot_state():
    """The figures are built without pyplot: nothing to close, nothing shown, the backend untouched."""
    before = "matplotlib.pyplot" in sys.modules
    plot_history({"train_loss": [1.0, 0.5]})
    if not before:
        assert "matplotlib.pyplot" not in sys.modules
    else:
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []


@pytest.mark.parametrize("call, message", [
    (lambda: plot_anomalies(None, np.zeros(5), np.zeros(4)), "4 rows"),
    (lambda: plot_anomalies(None, np.zeros(5), np.zeros(5), labels=[0, 1]), "labels must have 5"),
    (lambda: plot_anomalies(None, np.zeros(5), np.zeros(0)), "empty"),
    (lambda: plot_contributions(None, np.zeros((5, 2)), ["a"]), "names must have 2"),
    (lambda: plot_history({"val_loss": [1.0]}), "train_loss"),
    (lambda: plot_embedding(np.zeros((5, 2)), labels=[1, 2]), "one per sequence"),
    (lambda: plot_embedding(np.full((5, 2), np.nan)), "NaN"),
    (lambda: plot_embedding(np.zeros((5, 3)), method="tsne"), "method"),
])
def test_bad_inputs(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_unwritable_path_leaves_nothing(tmp_path):
    with pytest.raises(OSError):
        plot_history({"train_loss": [1.0, 0.5]}, tmp_path / "missing" / "h.png")
    assert not (tmp_path / "missing").exists()


def test_plot_anomalies_outlines_events_ranked_by_peak(tmp_path):
    import pandas as pd
    from seqae.plotting import plot_anomalies
    s = np.zeros(200)
    s[20:30], s[120:125] = 1.0, 5.0
    events = pd.DataFrame({"start_pos": [20, 120], "end_pos": [29, 124]})
    fig = plot_anomalies(None, np.sin(np.arange(200) / 5), s, threshold=0.5, labels=s > 0.5, events=events,
                         path=tmp_path / "e.png")
    top = fig.axes[0]
    assert "in 2 events" in top.get_title(loc="left")
    assert sorted(t.get_text() for t in top.texts) == ["1", "2"]
    ranks = {int(round(t.xy[0])): t.get_text() for t in top.texts}
    assert ranks == {120: "1", 20: "2"}          # the higher peak ranks first
    with pytest.raises(Exception, match="within"):
        plot_anomalies(None, np.zeros(10), np.zeros(10), events=[[5, 12]])


def test_top_events_get_close_ups_in_rank_order():
    s = np.zeros(3000)
    s[500:503], s[2000:2100], s[2500:2502] = 5.0, 1.0, 9.0
    events = pd.DataFrame({"start_pos": [500, 2000, 2500], "end_pos": [502, 2099, 2501]})
    fig = plot_anomalies(None, np.sin(np.arange(3000) / 9), s, threshold=0.5, events=events, zoom=2)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles.count("event 1: peak score 9") == 1 and titles.count("event 2: peak score 5") == 1
    assert not any(t.startswith("event 3") for t in titles)
    close_up = next(ax for ax in fig.axes if ax.get_title(loc="left").startswith("event 2"))
    lo, hi = close_up.get_xlim()
    assert lo <= 500 - 50 and hi >= 502 + 50 and hi - lo < 200          # the event and its surroundings only
    assert len(plot_anomalies(None, np.zeros(3000), s, events=events, zoom=0).axes) == 2
    with pytest.raises(InputError, match="zoom must be a whole number >= 0"):
        plot_anomalies(None, np.zeros(3000), s, events=events, zoom=-1)


def test_a_dwarfing_peak_keeps_marginal_alarms_visible():
    s = np.full(1000, 0.5)
    s[100:110] = 1.2                                     # marginal alarms just above the threshold
    s[800] = 500.0                                       # one peak 500 times the threshold
    fig = plot_anomalies(None, np.zeros(1000), s, threshold=1.0)
    scores_ax = fig.axes[1]
    assert scores_ax.get_yscale() == "symlog" and scores_ax.get_ylim()[0] == 0
    assert plot_anomalies(None, np.zeros(1000), np.minimum(s, 3.0), threshold=1.0).axes[1].get_yscale() == "linear"


def test_the_end_of_training_is_marked_in_both_panels():
    fig = plot_anomalies(pd.date_range("2024-01-01", periods=300, freq="h"), np.zeros(300), np.zeros(300),
                         train_end=pd.Timestamp("2024-01-03"))
    top = fig.axes[0]
    assert "end of training" in [line.get_label() for line in top.get_lines()]
    assert sum(line.get_linestyle() == ":" for ax in fig.axes[:2] for line in ax.get_lines()) == 2
