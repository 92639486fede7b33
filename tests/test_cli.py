"""Tests of the ``seqae`` command line: every command in-process through ``main``, the installed console
script once as a real subprocess, and a table of bad inputs that must each give exit code 2 and one line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqae.cli import main

# A tiny, fast model: every training run below takes about a second.
FAST = ["--window", "16", "--hidden-size", "8", "--latent-dim", "2", "--epochs", "2", "--max-train-windows", "64",
        "--seed", "0", "--device", "cpu"]
N = 240


def make_series(n: int = N, seed: int = 0, spike_at: int = 180) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    a = np.sin(t / 5) + 0.05 * rng.standard_normal(n)
    b = np.cos(t / 5) + 0.05 * rng.standard_normal(n)
    a[spike_at:spike_at + 4] += 4.0
    return pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=n, freq="15min"), "a": a, "b": b})


@pytest.fixture
def series_csv(tmp_path: Path) -> Path:
    path = tmp_path / "series.csv"
    make_series().to_csv(path, index=False)
    return path


@pytest.fixture
def windows_json(tmp_path: Path) -> Path:
    times = make_series()["timestamp"]
    path = tmp_path / "windows.json"
    # NAB's layout: windows of several series keyed by file name; detect picks the entry named like its input.
    path.write_text(json.dumps({"synthetic/series.csv": [[str(times[176]), str(times[190])]],
                                "synthetic/other.csv": [[str(times[10]), str(times[20])]]}))
    return path


def run(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ================================================================================================ detect
def test_detect_writes_one_row_per_input_row(tmp_path, series_csv, capsys):
    out_path = tmp_path / "scores.csv"
    code, out, err = run(["detect", series_csv, "--time-column", "timestamp", "-o", out_path,
                          "--train-fraction", "0.5", *FAST], capsys)
    assert code == 0, err
    scores = pd.read_csv(out_path)
    source = make_series()
    assert len(scores) == len(source)
    assert list(scores.columns) == ["timestamp", "a", "b", "score", "label", "contribution_a", "contribution_b"]
    assert (pd.to_datetime(scores["timestamp"]) == source["timestamp"]).all()
    np.testing.assert_allclose(scores["a"], source["a"])
    assert np.isfinite(scores["score"]).all() and set(scores["label"]) <= {0, 1}
    np.testing.assert_allclose(scores["contribution_a"] + scores["contribution_b"], scores["score"], rtol=1e-5)
    assert "wrote 240 rows" in out
    assert "training" in err  # progress on stderr
    assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left behind"


def test_detect_parquet_output_plot_model_and_evaluation(tmp_path, series_csv, windows_json, capsys):
    out_path, png, model = tmp_path / "scores.parquet", tmp_path / "anomalies.png", tmp_path / "m.seqae"
    code, out, err = run(["detect", series_csv, "--time-column", "timestamp", "--columns", "a", "-o", out_path,
                          "--plot", png, "--save-model", model, "--windows", windows_json, *FAST, "-q"], capsys)
    assert code == 0, err
    assert out == "" and err == ""  # --quiet
    frame = pd.read_parquet(out_path)
    assert list(frame.columns) == ["timestamp", "a", "score", "label"]
    assert len(frame) == N and pd.api.types.is_datetime64_any_dtype(frame["timestamp"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert model.stat().st_size > 0


def test_detect_without_time_column_and_with_train_file(tmp_path, capsys):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    make_series(seed=1).drop(columns="timestamp").to_csv(train, index=False)
    make_series(seed=2).drop(columns="timestamp").to_csv(test, index=False)
    out_path = tmp_path / "s.csv"
    code, out, err = run(["detect", test, "--train", train, "-o", out_path, *FAST, "--threshold", "sigma"], capsys)
    assert code == 0, err
    frame = pd.read_csv(out_path)
    assert list(frame.columns[:2]) == ["a", "b"] and len(frame) == N


def test_fit_then_score_gives_the_scores_of_detect(tmp_path, series_csv, capsys):
    common = ["--time-column", "timestamp", "--train-fraction", "0.5", *FAST]
    detected, scored, model = tmp_path / "detect.csv", tmp_path / "score.csv", tmp_path / "model.seqae"
    assert run(["detect", series_csv, "-o", detected, *common], capsys)[0] == 0
    code, out, err = run(["fit", series_csv, "-o", model, *common, "--plot", tmp_path / "loss.png"], capsys)
    assert code == 0, err
    assert "saved the detector" in out and (tmp_path / "loss.png").stat().st_size > 5_000
    code, out, err = run(["score", model, series_csv, "--time-column", "timestamp", "-o", scored], capsys)
    assert code == 0, err
    a, b = pd.read_csv(detected), pd.read_csv(scored)
    assert list(a.columns) == list(b.columns)
    np.testing.assert_array_equal(a["score"].to_numpy(), b["score"].to_numpy())
    np.testing.assert_array_equal(a["label"].to_numpy(), b["label"].to_numpy())


def test_score_finds_the_model_columns_among_others(tmp_path, series_csv, capsys):
    model = tmp_path / "m.seqae"
    assert run(["fit", series_csv, "--time-column", "timestamp", "--columns", "b", "-o", model, *FAST], capsys)[0] == 0
    with_extra = tmp_path / "extra.csv"
    make_series().assign(note="x").to_csv(with_extra, index=False)  # a text column the model never saw
    code, _, err = run(["score", model, with_extra, "--time-column", "timestamp", "-o", tmp_path / "s.csv"], capsys)
    assert code == 0, err
    assert list(pd.read_csv(tmp_path / "s.csv").columns) == ["timestamp", "b", "score", "label"]


# ============================================================================================ time column
def test_detect_finds_the_time_column_and_says_which(tmp_path, series_csv, capsys):
    out_path = tmp_path / "s.csv"
    code, _, err = run(["detect", series_csv, "-o", out_path, *FAST], capsys)
    assert code == 0, err
    assert err.splitlines()[0] == ("seqae: using column 'timestamp' as time (override with --time-column, or "
                                   "--no-time-column)")
    scores = pd.read_csv(out_path)
    assert list(scores.columns[:3]) == ["timestamp", "a", "b"]
    assert (pd.to_datetime(scores["timestamp"]) == make_series()["timestamp"]).all()
    code, _, err = run(["detect", series_csv, "-o", out_path, *FAST, "-q"], capsys)
    assert code == 0 and err == ""  # --quiet silences the note too


def test_a_numeric_table_has_no_time_column_and_no_note(tmp_path, capsys):
    path = tmp_path / "numbers.csv"
    make_series().drop(columns="timestamp").to_csv(path, index=False)
    code, _, err = run(["detect", path, "-o", tmp_path / "s.csv", *FAST], capsys)
    assert code == 0, err
    assert "as time" not in err
    assert list(pd.read_csv(tmp_path / "s.csv").columns[:2]) == ["a", "b"]


def test_two_time_columns_take_the_first_and_say_so(tmp_path, capsys):
    path = tmp_path / "two.csv"
    df = make_series()
    df.insert(1, "logged", df["timestamp"] + pd.Timedelta("1s"))
    df.to_csv(path, index=False)
    code, _, err = run(["detect", path, "-o", tmp_path / "s.csv", *FAST], capsys)
    assert code == 0, err
    assert "using column 'timestamp' as time and leaving out 'logged', which also holds dates" in err
    assert list(pd.read_csv(tmp_path / "s.csv").columns[:3]) == ["timestamp", "a", "b"]
    # --time-column overrides (the other column of dates left out with --columns).
    code, _, err = run(["detect", path, "--time-column", "logged", "--columns", "a,b", "-o", tmp_path / "s.csv",
                        *FAST], capsys)
    assert code == 0 and "as time" not in err, err
    assert pd.read_csv(tmp_path / "s.csv").columns[0] == "logged"


def test_no_time_column_reads_every_column_as_a_value(tmp_path, series_csv, capsys):
    code, _, err = run(["detect", series_csv, "--no-time-column", "-o", tmp_path / "s.csv", *FAST], capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        f"seqae: error: {series_csv}: column 'timestamp', row 1 (line 2): '2024-01-01 00:00:00' is not a number "
        "(is it the time column? pass --time-column timestamp)"]


def test_semicolon_separated_file_with_epoch_seconds(tmp_path, capsys):
    path = tmp_path / "epoch.csv"
    df = make_series()
    df["timestamp"] = (df["timestamp"] - pd.Timestamp("1970-01-01")) // pd.Timedelta("1s")  # seconds since 1970
    df.to_csv(path, index=False, sep=";")
    code, _, err = run(["fit", path, "-o", tmp_path / "m.seqae", *FAST], capsys)
    assert code == 0, err
    assert "using column 'timestamp' as time" in err
    import seqae
    assert seqae.load(tmp_path / "m.seqae").feature_names_in_ == ["a", "b"]


def _skab_file() -> Path | None:
    from seqae.datasets import data_root

    root = data_root()
    return root / "SKAB" / "other" / "1.csv" if root is not None else None


SKAB_FILE = _skab_file()


@pytest.mark.data
@pytest.mark.skipif(SKAB_FILE is None or not SKAB_FILE.exists(), reason="the shared SKAB data is not on this machine")
def test_detect_on_a_skab_file(tmp_path, capsys):
    out_path = tmp_path / "skab.csv"
    code, out, err = run(["detect", SKAB_FILE, "--columns", "Accelerometer1RMS,Current,Pressure", "-o", out_path,
                          *FAST], capsys)
    assert code == 0, err
    assert "using column 'datetime' as time" in err
    frame = pd.read_csv(out_path)
    assert list(frame.columns[:4]) == ["datetime", "Accelerometer1RMS", "Current", "Pressure"]
    assert len(frame) == 745 and frame["datetime"].iloc[0] == "2020-03-01 15:44:06"


# =================================================================================== score: column names
@pytest.fixture
def model_and_scores(tmp_path, series_csv, capsys) -> tuple[Path, pd.DataFrame]:
    model, scored = tmp_path / "m.seqae", tmp_path / "ref.csv"
    assert run(["fit", series_csv, "-o", model, *FAST, "-q"], capsys)[0] == 0
    assert run(["score", model, series_csv, "-o", scored, "-q"], capsys)[0] == 0
    return model, pd.read_csv(scored)


def test_score_with_renamed_columns_is_an_error_naming_them(tmp_path, model_and_scores, capsys):
    model, _ = model_and_scores
    renamed = tmp_path / "renamed.csv"
    make_series().rename(columns={"a": "x", "b": "y"}).to_csv(renamed, index=False)
    code, _, err = run(["score", model, renamed, "-o", tmp_path / "s.csv", "-q"], capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        f"seqae: error: {renamed} lacks the model's column(s) 'a', 'b'; it has 'x', 'y' instead. Rename them, or "
        "name the columns that stand for the model's (a,b) in that order with --columns"]
    assert not (tmp_path / "s.csv").exists()
    partly = tmp_path / "partly.csv"
    make_series().rename(columns={"b": "y"}).to_csv(partly, index=False)
    code, _, err = run(["score", model, partly, "-o", tmp_path / "s.csv", "-q"], capsys)
    assert code == 2 and "lacks the model's column(s) 'b'; it has 'y' instead" in err  # 'a' is not named


def test_score_finds_reordered_columns_by_name(tmp_path, model_and_scores, capsys):
    model, reference = model_and_scores
    reordered = tmp_path / "reordered.csv"
    make_series()[["b", "timestamp", "a"]].to_csv(reordered, index=False)
    code, _, err = run(["score", model, reordered, "-o", tmp_path / "s.csv", "-q"], capsys)
    assert code == 0, err
    np.testing.assert_array_equal(pd.read_csv(tmp_path / "s.csv")["score"], reference["score"])


def test_score_columns_map_others_but_not_the_model_columns_out_of_place(tmp_path, model_and_scores, capsys):
    model, reference = model_and_scores
    code, _, err = run(["score", model, tmp_path / "series.csv", "--columns", "b,a", "-o", tmp_path / "s.csv"],
                       capsys)
    assert code == 2
    assert err.strip() == ("seqae: error: --columns b,a: 'b' is the model's column 2, not 1; give its columns in "
                           "its order (a,b), or other columns in their places")
    renamed = tmp_path / "renamed.csv"
    make_series().rename(columns={"a": "x", "b": "y"}).to_csv(renamed, index=False)
    code, _, err = run(["score", model, renamed, "--columns", "x,y", "-o", tmp_path / "s.csv", "-q"], capsys)
    assert code == 0, err
    mapped = pd.read_csv(tmp_path / "s.csv")
    assert list(mapped.columns) == ["timestamp", "x", "y", "score", "label", "contribution_x", "contribution_y"]
    np.testing.assert_array_equal(mapped["score"], reference["score"])


# ================================================================================= aggregation, threshold
def test_score_aggregation_and_threshold_rule_reach_the_model(tmp_path, series_csv, capsys):
    import seqae

    model = tmp_path / "m.seqae"
    code, _, err = run(["fit", series_csv, "-o", model, *FAST, "--score-aggregation", "mean", "--threshold", "sigma",
                        "--threshold-param", "k=0.5", "--point-weight", "0.2", "--channel-weights", "train",
                        "--latent-weight", "0.25", "--latent-mix", "sum", "-q"], capsys)
    assert code == 0, err
    det = seqae.load(model)
    assert det.latent_mix == "sum"
    assert det.score_aggregation == "mean" and det.threshold == "sigma" and det.threshold_params == {"k": 0.5}
    assert det.point_weight == 0.2 and det.channel_weights == "train" and det.latent_weight == 0.25
    scores = det.decision_scores_
    assert det.threshold_ == pytest.approx(scores.mean() + 0.5 * scores.std())
    default = tmp_path / "d.seqae"
    assert run(["fit", series_csv, "-o", default, *FAST, "-q"], capsys)[0] == 0
    assert not np.allclose(seqae.load(default).decision_scores_, scores)  # window_max scores differ from mean
    code, _, err = run(["fit", series_csv, "-o", default, *FAST, "--point-weight", "1.5", "-q"], capsys)
    assert code == 2 and "--point-weight" in err and "[0, 1]" in err
    code, _, err = run(["fit", series_csv, "-o", default, *FAST, "--latent-weight", "-0.1", "-q"], capsys)
    assert code == 2 and "--latent-weight" in err and "[0, 1]" in err


def test_forecast_options_reach_the_model(tmp_path, series_csv, capsys):
    import seqae

    model = tmp_path / "m.seqae"
    code, _, err = run(["fit", series_csv, "-o", model, *FAST, "--forecast-weight", "0.5", "--forecast-margin",
                        "none", "-q"], capsys)
    assert code == 0, err
    det = seqae.load(model)
    assert det.forecast_weight == 0.5 and det.forecast_margin is None      # 'none' given, not the default
    assert run(["fit", series_csv, "-o", model, *FAST, "--forecast-margin", "3", "-q"], capsys)[0] == 0
    assert seqae.load(model).forecast_margin == 3.0
    assert run(["fit", series_csv, "-o", model, *FAST, "-q"], capsys)[0] == 0
    assert seqae.load(model).forecast_margin == seqae.AnomalyDetector().forecast_margin
    code, _, err = run(["fit", series_csv, "-o", model, *FAST, "--forecast-margin", "0.5", "-q"], capsys)
    assert code == 2 and "--forecast-margin" in err and ">= 1" in err


def test_repair_training_reaches_the_model(tmp_path, series_csv, capsys):
    import seqae

    model = tmp_path / "m.seqae"
    code, out, err = run(["fit", series_csv, "-o", model, *FAST, "--repair-training"], capsys)
    assert code == 0, err
    det = seqae.load(model)
    assert det.repair_training is True
    said = f"the second fit saw {len(det.repaired_events_)} event(s)" if len(det.repaired_events_) else \
        "nothing to repair"
    assert said in out + err
    assert run(["fit", series_csv, "-o", model, *FAST, "-q"], capsys)[0] == 0
    assert seqae.load(model).repair_training is False


@pytest.mark.parametrize("flag, value", [("--center-windows", True), ("--no-center-windows", False)])
def test_center_windows_reaches_the_model(tmp_path, series_csv, capsys, flag, value):
    import seqae

    model = tmp_path / "m.seqae"
    code, _, err = run(["fit", series_csv, "-o", model, *FAST, flag, "-q"], capsys)
    assert code == 0, err
    det = seqae.load(model)
    assert det.center_windows is value
    assert det.latent_reference_.shape[1] == det.latent_dim + (det.n_features_in_ if value else 0)


def test_threshold_choices_come_from_the_library(tmp_path, series_csv, capsys, monkeypatch):
    # A rule added to the library (as "dynamic" will be) is a --threshold choice, its parameters
    # --threshold-param names, with no CLI edit.
    import seqae
    import seqae.detection.base as base
    import seqae.thresholds as thresholds

    def dynamic_threshold(scores, z=1.0):
        return float(np.median(scores) + z)

    monkeypatch.setattr(base, "THRESHOLDS", (*base.THRESHOLDS, "dynamic"))
    monkeypatch.setitem(thresholds.THRESHOLD_METHODS, "dynamic", dynamic_threshold)
    # Labelling parameters the detector takes out of threshold_params for a rule (main's LABEL_PARAMS).
    monkeypatch.setattr(base, "LABEL_PARAMS", {"dynamic": {"min_percent": 0.1}}, raising=False)
    code, out, _ = run(["fit", "--help"], capsys)
    assert "dynamic: z=1, min_percent=0.1" in " ".join(out.split())
    model = tmp_path / "m.seqae"
    code, _, err = run(["fit", series_csv, "-o", model, *FAST, "--threshold", "dynamic", "--threshold-param", "z=2",
                        "-q"], capsys)
    assert code == 0, err
    det = seqae.load(model)
    assert det.threshold_ == pytest.approx(np.median(det.decision_scores_) + 2)
    code, _, err = run(["fit", series_csv, "-o", model, *FAST, "--threshold", "dynamic", "--threshold-param", "k=2"],
                       capsys)
    assert code == 2 and err.strip() == "seqae: error: --threshold-param k: --threshold dynamic takes z, min_percent"


# ============================================================================================== evaluate
@pytest.fixture
def scores_csv(tmp_path, series_csv, capsys) -> Path:
    path = tmp_path / "scores.csv"
    assert run(["detect", series_csv, "--time-column", "timestamp", "-o", path, *FAST, "-q"], capsys)[0] == 0
    return path


def test_evaluate_prints_metrics_with_windows_and_labels(tmp_path, scores_csv, windows_json, capsys):
    code, out, err = run(["evaluate", scores_csv, "--windows", windows_json], capsys)
    assert code == 2 and "--windows-key" in err  # scores.csv names none of the series
    code, out, err = run(["evaluate", scores_csv, "--windows", windows_json, "--windows-key", "series"], capsys)
    assert code == 0, err
    for name in ("ROC-AUC", "PR-AUC", "VUS-PR", "F1", "NAB score"):
        assert name in out
    code, out, err = run(["evaluate", scores_csv, "--labels", windows_json, "--windows-key", "synthetic/series.csv",
                          "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert 0.0 <= doc["roc_auc"] <= 1.0 and "nab_standard" in doc and doc["n_points"] == N

    truth = make_series()[["timestamp"]].assign(is_anomaly=0)
    truth.loc[176:190, "is_anomaly"] = 1
    labels_csv = tmp_path / "truth.csv"
    truth.iloc[::-1].to_csv(labels_csv, index=False)  # reversed: aligned on time, not by row
    code, out2, err = run(["evaluate", scores_csv, "--labels", labels_csv, "--label-column", "is_anomaly",
                           "--json"], capsys)
    assert code == 0, err
    assert json.loads(out2)["roc_auc"] == pytest.approx(doc["roc_auc"])
    assert "nab_standard" not in json.loads(out2)  # no windows: no NAB score


# ================================================================================================= embed
def test_embed_ts_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    lines = ["@problemName tiny", "@univariate true", "@equalLength false", "@classLabel true up down", "@data"]
    for i in range(24):
        n = int(rng.integers(10, 20))
        x = np.sin(np.arange(n) / 3 + i) * (1 if i % 2 else -1)
        lines.append(",".join(f"{v:.4f}" for v in x) + (":up" if i % 2 else ":down"))
    ts = tmp_path / "tiny.ts"
    ts.write_text("\n".join(lines) + "\n")
    out_path, png = tmp_path / "emb.csv", tmp_path / "emb.png"
    code, out, err = run(["embed", ts, "-o", out_path, "--plot", png, "--hidden-size", "8", "--latent-dim", "3",
                          "--epochs", "2", "--seed", "0", "--device", "cpu"], capsys)
    assert code == 0, err
    frame = pd.read_csv(out_path)
    width = 3 + 10 * 8   # the default embedding: the code, then 10 poolings of the 8 encoder units
    assert list(frame.columns) == ["id", "label", *[f"z{j}" for j in range(width)], "reconstruction_error"]
    assert len(frame) == 24 and set(frame["label"]) == {"up", "down"}
    assert png.stat().st_size > 10_000


def test_embed_long_csv_to_parquet(tmp_path, capsys):
    rng = np.random.default_rng(1)
    rows = []
    for k in range(12):
        for step in rng.permutation(int(rng.integers(8, 15))):  # shuffled steps: --time-column orders them
            rows.append({"seq": f"s{k}", "t": step, "x": np.sin(step / 2 + k), "y": np.cos(step / 3), "cls": k % 3})
    src = tmp_path / "long.csv"
    pd.DataFrame(rows).to_csv(src, index=False)
    out_path, model = tmp_path / "emb.parquet", tmp_path / "ae.seqae"
    code, out, err = run(["embed", src, "--id-column", "seq", "--time-column", "t", "--label-column", "cls",
                          "-o", out_path, "--save-model", model, "--hidden-size", "8", "--latent-dim", "2",
                          "--decoder-hidden-size", "3", "--epochs", "1", "--seed", "0", "--device", "cpu",
                          "--embedding", "latent", "--min-steps", "none"], capsys)
    assert code == 0, err
    frame = pd.read_parquet(out_path)
    assert list(frame.columns) == ["id", "label", "z0", "z1", "reconstruction_error"]
    assert frame["id"].tolist() == [f"s{k}" for k in range(12)]
    assert frame["label"].tolist() == [k % 3 for k in range(12)]
    assert model.stat().st_size > 0
    from seqae.persistence import load
    assert load(model).module_.decoder.lstm.hidden_size == 3


def _tiny_ts(path: Path, n: int, seed: int, labels=("up", "down")) -> Path:
    rng = np.random.default_rng(seed)
    lines = ["@problemName tiny", "@univariate true", "@equalLength false",
             "@classLabel true " + " ".join(labels), "@data"]
    for i in range(n):
        k = int(rng.integers(10, 20))
        label = labels[i % len(labels)]
        x = np.sin(np.arange(k) / 3 + i) if label == "up" else np.sign(np.sin(np.arange(k) / 2 + i))
        lines.append(",".join(f"{v:.4f}" for v in x) + f":{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_embed_applies_a_saved_model_to_new_sequences(tmp_path, capsys):
    train, new = _tiny_ts(tmp_path / "train.ts", 20, 0), _tiny_ts(tmp_path / "new.ts", 9, 1)
    model = tmp_path / "ae.seqae"
    code, _, err = run(["embed", train, "-o", tmp_path / "train.csv", "--save-model", model, "--hidden-size", "8",
                        "--latent-dim", "3", "--min-steps", "20", "--seed", "0", "--device", "cpu"], capsys)
    assert code == 0, err
    code, out, err = run(["embed", new, "-o", tmp_path / "new.csv", "--model", model], capsys)
    assert code == 0, err
    frame = pd.read_csv(tmp_path / "new.csv")
    from seqae import load
    from seqae.datasets import read_ts
    X_new = read_ts(new)[0]
    expected = load(model).transform(X_new)
    assert len(frame) == 9
    np.testing.assert_allclose(frame[[f"z{j}" for j in range(expected.shape[1])]].to_numpy(), expected, atol=1e-5)
    code, _, err = run(["embed", new, "-o", tmp_path / "x.csv", "--model", model, "--hidden-size", "4"], capsys)
    assert code == 2 and "--model" in err and "hidden_size" in err


def test_score_sequences_fits_saves_and_reloads(tmp_path, capsys):
    normal = _tiny_ts(tmp_path / "normal.ts", 24, 0, labels=("up",))
    mixed = _tiny_ts(tmp_path / "mixed.ts", 20, 1)
    model, scores = tmp_path / "det.seqae", tmp_path / "scores.csv"
    code, out, err = run(["score-sequences", mixed, "--train", normal, "-o", scores, "--save-model", model,
                          "--hidden-size", "8", "--latent-dim", "3", "--epochs", "20", "--seed", "0",
                          "--device", "cpu"], capsys)
    assert code == 0, err
    frame = pd.read_csv(scores)
    assert list(frame.columns) == ["id", "label", "score", "anomaly"] and len(frame) == 20
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(frame["label"] == "down", frame["score"]) > 0.8   # square waves are the anomalies
    again = tmp_path / "again.csv"
    code, _, err = run(["score-sequences", mixed, "--model", model, "-o", again], capsys)
    assert code == 0, err
    np.testing.assert_allclose(pd.read_csv(again)["score"], frame["score"], rtol=1e-5)
    code, _, err = run(["score-sequences", mixed, "--model", model, "--train", normal, "-o", again], capsys)
    assert code == 2 and "--train" in err


def test_score_sequences_score_choice_and_neighbour_count(tmp_path, capsys):
    normal = _tiny_ts(tmp_path / "normal.ts", 6, 0, labels=("up",))
    mixed = _tiny_ts(tmp_path / "mixed.ts", 8, 1)
    common = ["--hidden-size", "4", "--latent-dim", "2", "--epochs", "2", "--min-steps", "5", "--seed", "0",
              "--device", "cpu"]
    code, _, err = run(["score-sequences", mixed, "--train", normal, "-o", tmp_path / "s.csv", "--n-neighbors",
                        "6", *common], capsys)
    assert code == 2 and "--n-neighbors 6 needs more than 6 training sequences, got 6" in err
    model = tmp_path / "r.seqae"
    code, _, err = run(["score-sequences", mixed, "--train", normal, "-o", tmp_path / "r.csv", "--score",
                        "reconstruction", "--save-model", model, *common], capsys)
    assert code == 0, err
    from seqae import load
    from seqae.datasets import read_ts
    det = load(model)
    assert det.score == "reconstruction"
    np.testing.assert_allclose(pd.read_csv(tmp_path / "r.csv")["score"],
                               det.autoencoder_.reconstruction_error(read_ts(mixed)[0]), rtol=1e-5)


# ================================================================================================== demo
def test_demo_writes_scores_and_plots(tmp_path, capsys):
    folder = tmp_path / "demo"
    code, out, err = run(["demo", "--output-dir", folder, "--epochs", "1"], capsys)
    assert code == 0, err
    scores = pd.read_csv(folder / "scores.csv")
    assert list(scores.columns) == ["timestamp", "value", "score", "label"] and len(scores) == 10320
    for name in ("anomalies.png", "loss.png"):
        assert (folder / name).read_bytes()[:4] == b"\x89PNG" and (folder / name).stat().st_size > 10_000
    for text in ("ROC-AUC", "PR-AUC", "VUS-PR", "NAB score", "Known anomaly windows", "Done in"):
        assert text in out


# ============================================================================================ help, misc
@pytest.mark.parametrize("command", ["detect", "fit", "score", "evaluate", "embed", "score-sequences", "demo"])
def test_each_command_has_help_with_examples(command, capsys):
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0 and "examples:" in out and f"seqae {command}" in out


def test_top_level_help_and_version(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and all(c in out for c in ("detect", "fit", "score", "evaluate", "embed", "demo"))
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.startswith("seqae ")
    code, _, err = run([], capsys)
    assert code == 2 and "usage" in err


def test_keyboard_interrupt_exits_130(tmp_path, series_csv, capsys, monkeypatch):
    import seqae

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(seqae.AnomalyDetector, "fit", interrupted)
    out_path = tmp_path / "s.csv"
    code, _, err = run(["detect", series_csv, "--time-column", "timestamp", "-o", out_path, *FAST], capsys)
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    assert not out_path.exists()


def test_debug_shows_the_traceback(tmp_path, capsys):
    code, _, err = run(["--debug", "detect", tmp_path / "missing.csv", "-o", tmp_path / "s.csv"], capsys)
    assert code == 2 and "Traceback" in err and err.strip().splitlines()[-1].startswith("seqae: error:")


def test_training_failure_exits_1(tmp_path, series_csv, capsys, monkeypatch):
    import seqae
    from seqae.exceptions import TrainingError

    def diverged(self, *args, **kwargs):
        raise TrainingError("the training loss became non-finite in epoch 1")

    monkeypatch.setattr(seqae.AnomalyDetector, "fit", diverged)
    code, _, err = run(["detect", series_csv, "--time-column", "timestamp", "-o", tmp_path / "s.csv", *FAST, "-q"],
                       capsys)
    assert code == 1 and err.strip() == "seqae: error: the training loss became non-finite in epoch 1"


def test_console_script_in_a_subprocess(tmp_path):
    script = Path(sys.executable).parent / "seqae"
    if not script.exists():
        pytest.skip("the seqae console script is not installed next to this Python")
    proc = subprocess.run([str(script), "detect", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "s.csv")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"seqae: error: {tmp_path / 'nope.csv'}: file not found"]


# ============================================================================================ bad inputs
def _csv(text: str):
    def make(tmp_path: Path) -> Path:
        path = tmp_path / "in.csv"
        path.write_text(text)
        return path
    return make


def _series_with(edit):
    def make(tmp_path: Path) -> Path:
        df = make_series()
        df = edit(df)
        path = tmp_path / "in.csv"
        df.to_csv(path, index=False)
        return path
    return make


def _nan(df):
    df.loc[50, "a"] = np.nan
    return df


def _bad_number(df):
    df = df.astype({"b": object})
    df.loc[7, "b"] = "12,5x"
    return df


def _bad_time(df):
    df = df.astype({"timestamp": object})
    df.loc[3, "timestamp"] = "yesterday-ish"
    return df


def _late_bad_time(tmp_path: Path) -> Path:
    # Past the rows the time column is recognised by: found, then the full parse fails.
    df = make_series(1200, spike_at=600).astype({"timestamp": object})
    df.loc[1100, "timestamp"] = "yesterday-ish"
    df.to_csv(tmp_path / "in.csv", index=False)
    return tmp_path / "in.csv"


def _unsorted(df):
    return df.iloc[[0, 1, 3, 2, *range(4, len(df))]]


def _duplicate(df):
    df.loc[10, "timestamp"] = df.loc[9, "timestamp"]
    return df


def _corrupt_model(tmp_path: Path) -> Path:
    (tmp_path / "in.csv").write_text(make_series().to_csv(index=False))
    model = tmp_path / "model.seqae"
    model.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all" + bytes(64))
    return model


DETECT = ["detect", "{input}", "--time-column", "timestamp", "-o", "{tmp}/out.csv", *FAST]
BAD_INPUTS = [
    ("missing file", lambda tmp: tmp / "absent.csv", DETECT, "file not found"),
    ("empty file", _csv(""), DETECT, "empty"),
    ("header only", _csv("timestamp,a,b\n"), DETECT, "no data rows"),
    ("missing column", _series_with(lambda d: d), [*DETECT, "--columns", "a,zzz"], "'zzz'"),
    ("missing columns, only they", _series_with(lambda d: d), [*DETECT, "--columns", "a,zzz,yyy"],
     "no columns 'zzz', 'yyy' (value columns); available"),
    ("missing time column", _series_with(lambda d: d), ["detect", "{input}", "--time-column", "time", "-o",
                                                         "{tmp}/out.csv"], "no column 'time' (--time-column)"),
    ("numbers as the time column", _series_with(lambda d: d), ["detect", "{input}", "--time-column", "a", "-o",
                                                                "{tmp}/out.csv"],
     "time column 'a' holds numbers, not dates/times; convert it to dates (e.g. ISO 8601 '2024-01-31 12:00:00') or "
     "pass --no-time-column to index by position"),
    ("time column and none", _series_with(lambda d: d), [*DETECT, "--no-time-column"], "not allowed with"),
    ("threshold parameter of another rule", _series_with(lambda d: d),
     [*DETECT, "--threshold", "sigma", "--threshold-param", "q=0.01"], "--threshold-param q: --threshold sigma takes k"),
    ("threshold parameter of the default rule", _series_with(lambda d: d), [*DETECT, "--threshold-param", "k=3"],
     "--threshold-param k: --threshold dynamic takes z_min, z_max, z_step, min_percent, rounds, later_min_percent"),
    ("threshold parameter out of range", _series_with(lambda d: d), [*DETECT, "--threshold-param", "rounds=0"],
     "--threshold-param: rounds must be an integer >= 1, got 0"),
    ("threshold parameter twice", _series_with(lambda d: d),
     [*DETECT, "--threshold", "pot", "--threshold-param", "q=0.01", "--threshold-param", "q=0.02"],
     "--threshold-param q is given more than once"),
    ("threshold parameter syntax", _series_with(lambda d: d), [*DETECT, "--threshold-param", "k:3"],
     "expected NAME=NUMBER such as k=3, got 'k:3'"),
    ("unknown aggregation", _series_with(lambda d: d), [*DETECT, "--score-aggregation", "median"], "window_max"),
    ("non-numeric value", _series_with(_bad_number), DETECT, "'12,5x' is not a number"),
    ("a column of text among the values", _series_with(lambda d: d.assign(site="north")), DETECT,
     "column 'site', row 1 (line 2): 'north' is not a number (a column of text, not values? choose the value "
     "columns: --columns a,b)"),
    ("unparseable time", _series_with(_bad_time), DETECT, "'yesterday-ish'"),
    ("unparseable time found by itself", _late_bad_time, ["detect", "{input}", "-o", "{tmp}/out.csv"],
     "row 1101 (line 1102): cannot parse 'yesterday-ish' as a date/time (found by itself; pass another with "
     "--time-column, or --no-time-column for none)"),
    ("unsorted times", _series_with(_unsorted), DETECT, "backwards"),
    ("duplicate times", _series_with(_duplicate), DETECT, "duplicate time"),
    ("shorter than the window", _series_with(lambda d: d.iloc[:12]), DETECT, "fewer than the window"),
    ("training part shorter than the window", _series_with(lambda d: d.iloc[:40]),
     [*DETECT, "--train-fraction", "0.2"], "--train-fraction"),
    ("NaN without --missing", _series_with(_nan), DETECT, "--missing interpolate"),
    ("corrupted model", _corrupt_model,
     ["score", "{input}", "{tmp}/in.csv", "--time-column", "timestamp", "-o", "{tmp}/out.csv"], "model.seqae"),
    ("output type", _series_with(lambda d: d), ["detect", "{input}", "-o", "{tmp}/out.txt"], "unknown file type"),
    ("output over the input", _series_with(lambda d: d), ["detect", "{input}", "-o", "{input}"], "also an input"),
    ("output folder", _series_with(lambda d: d), ["detect", "{input}", "-o", "{tmp}/no/such/dir/out.csv"],
     "does not exist"),
    ("bad option value", _series_with(lambda d: d), [*DETECT, "--epochs", "many"], "--epochs"),
    ("bad option range", _series_with(lambda d: d), [*DETECT, "--window", "1"], "--window"),
    ("bad parameter", _series_with(lambda d: d), [*DETECT, "--stride", "40"], "stride"),
    ("unavailable device", _series_with(lambda d: d), [*DETECT, "--device", "cuda:7"], "cuda"),
    ("unknown command", _series_with(lambda d: d), ["detekt", "{input}"], "detekt"),
    ("evaluate without truth", _series_with(lambda d: d.assign(score=1.0)), ["evaluate", "{input}"], "--labels"),
    ("labels of another length", _series_with(lambda d: d.assign(score=1.0)),
     ["evaluate", "{input}", "--labels", "{tmp}/short.csv"], "240 rows"),
    ("embed long without id", _series_with(lambda d: d), ["embed", "{input}", "-o", "{tmp}/e.csv"], "--id-column"),
]


@pytest.mark.parametrize("name, make_input, argv, expected", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_one_line_and_exit_code_2(name, make_input, argv, expected, tmp_path, capsys):
    (tmp_path / "short.csv").write_text("label\n0\n1\n")
    path = make_input(tmp_path)
    args = [a.format(input=path, tmp=tmp_path) for a in argv]
    code, out, err = run(args, capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("seqae: error: ")
    assert expected in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "out.csv").exists()


def test_detect_and_score_write_the_events(tmp_path, series_csv, capsys):
    events_path, scores_path, model = tmp_path / "events.csv", tmp_path / "s.csv", tmp_path / "m.seqae"
    code, out, err = run(["detect", series_csv, "-o", scores_path, "--events", events_path, "--save-model", model,
                          "--train-fraction", "0.5", "--threshold", "quantile", "--contamination", "0.05", *FAST],
                         capsys)
    assert code == 0, err
    events = pd.read_csv(events_path)
    assert list(events.columns) == ["start", "end", "start_pos", "end_pos", "length", "peak", "peak_score",
                                    "severity", "channels"]
    scores = pd.read_csv(scores_path)
    flagged = np.flatnonzero(scores["label"].to_numpy())
    assert len(events) >= 1 and f"wrote {len(events)} events" in out
    # every flagged row lies in an event, and the events are in time order with timestamps
    inside = np.zeros(len(scores), bool)
    for a, b in events[["start_pos", "end_pos"]].to_numpy():
        inside[a:b + 1] = True
    assert inside[flagged].all() and events["start_pos"].is_monotonic_increasing
    assert (pd.to_datetime(events["start"]) == pd.to_datetime(scores["timestamp"][events["start_pos"]]).values).all()
    # score with the saved model writes the same events
    again = tmp_path / "again.csv"
    code, _, err = run(["score", model, series_csv, "-o", tmp_path / "s2.csv", "--events", again], capsys)
    assert code == 0, err
    pd.testing.assert_frame_equal(pd.read_csv(again), events)


def test_events_output_kind_is_checked_before_training(tmp_path, series_csv, capsys):
    code, _, err = run(["detect", series_csv, "-o", tmp_path / "s.csv", "--events", tmp_path / "e.txt", *FAST],
                       capsys)
    assert code == 2 and "--events" in err and not (tmp_path / "s.csv").exists()
