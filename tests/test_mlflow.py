"""The MLflow pyfunc flavour (seqae.mlflow): a detector logged to a local file store and loaded back through
mlflow.pyfunc.load_model predicts the scores, labels and events seqae gives; nothing in the model is pickled."""
import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")   # tests never report usage anywhere
mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed (pip install 'seqae[mlflow]')")

import seqae.mlflow as seqae_mlflow  # noqa: E402
from seqae import AnomalyDetector  # noqa: E402


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    t = np.arange(700)
    frame = pd.DataFrame({"cpu": np.sin(t / 6) + 0.05 * rng.standard_normal(700),
                          "mem": np.cos(t / 9) + 0.05 * rng.standard_normal(700)},
                         index=pd.date_range("2026-01-01", periods=700, freq="min"))
    frame.iloc[500:506, 0] += 3.0
    det = AnomalyDetector(window=32, hidden_size=16, epochs=2, random_state=0, threshold="quantile",
                          contamination=0.02).fit(frame.iloc[:400])
    return det, frame


@pytest.fixture
def file_store(tmp_path, monkeypatch):
    # MLflow 3 keeps the file store but asks for this opt-in; a database store needs the full mlflow package.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    yield tmp_path
    mlflow.set_tracking_uri(previous)


def test_log_load_predict_round_trip(data, file_store):
    det, frame = data
    with mlflow.start_run():
        info = seqae_mlflow.log_model(det, name="detector")
    model = mlflow.pyfunc.load_model(info.model_uri)
    got = model.predict(frame)
    detected = det.detect(frame)
    assert list(got.columns) == ["score", "label", "event"]
    assert np.array_equal(got["score"].to_numpy(), detected["score"].to_numpy())
    assert np.array_equal(got["label"].to_numpy(), detected["label"].to_numpy())
    events = det.detect_events(frame)
    assert len(events) >= 1
    for number, (start, end) in enumerate(zip(events["start_pos"], events["end_pos"])):
        assert (got["event"].to_numpy()[start:end + 1] == number).all()
    assert (got["event"] >= 0).sum() == events["length"].sum()
    table = model.predict(frame, params={"output": "events"})
    pd.testing.assert_frame_equal(table.reset_index(drop=True), events.reset_index(drop=True))
    # the detector travels as seqae's own file: no pickle among the model's files
    folder = mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(file_store / "download"))
    names = [f for _, _, files in os.walk(folder) for f in files]
    assert any(n.endswith(".seqae") for n in names) and not any(n.endswith((".pkl", ".pickle")) for n in names)


def test_save_model_to_a_folder(data, tmp_path):
    det, frame = data
    seqae_mlflow.save_model(det, tmp_path / "model")
    model = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    assert model.metadata.get_input_schema().input_names() == ["cpu", "mem"]
    got = model.predict(frame.iloc[:200])
    assert np.array_equal(got["score"].to_numpy(), det.decision_function(frame.iloc[:200]))


def test_what_the_flavour_refuses(data, tmp_path):
    det, frame = data
    with pytest.raises(TypeError, match="fitted AnomalyDetector"):
        seqae_mlflow.save_model("not a model", tmp_path / "m")
    with pytest.raises(ValueError, match="output must be one of"):
        seqae_mlflow.predict_frame(det, frame, output="pdf")
