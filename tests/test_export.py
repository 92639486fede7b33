"""ONNX export (seqae.export.to_onnx, seqae export): onnxruntime gives seqae's per-step errors to float tolerance,
for the default model and for bidirectional, VAE, attention and forecasting variants, with variable lengths through
the mask and any number of steps; the CLI writes the file and names its problems."""
import json

import numpy as np
import pytest

from seqae import AnomalyDetector, LSTMAutoencoder
from seqae.cli import main

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed (pip install 'seqae[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (pip install 'seqae[onnx]')")

from seqae.export import onnx_inputs, to_onnx  # noqa: E402

WINDOW = 32
# float32 through two different LSTM implementations (seqae's fused kernel, onnxruntime's LSTM operator)
TOLERANCE = dict(rtol=1e-4, atol=1e-5)


def _series(n=500, features=1, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    return (np.sin(t / (6 + np.arange(features))) + 0.1 * rng.standard_normal((n, features))).astype(np.float32)


def _windows(x, window=WINDOW, count=80):
    return np.lib.stride_tricks.sliding_window_view(x, window, axis=0).transpose(0, 2, 1)[:count].copy()


def _session(model, path, **kwargs):
    to_onnx(model, path, **kwargs)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("extra", [dict(), dict(bidirectional=True, variational=True),
                                   dict(forecast=True, pooling="attention", num_layers=2),
                                   dict(decoder="autoregressive", hidden_size=16),
                                   dict(center_windows=True), dict(center_windows=False)],
                         ids=["default", "bidirectional-vae", "forecast-attention-2layers", "autoregressive",
                              "centered", "not-centered"])
def test_onnxruntime_gives_seqaes_step_errors(extra, tmp_path):
    x = _series(features=2)
    det = AnomalyDetector(window=WINDOW, epochs=1, random_state=0, device="cpu", **extra).fit(x)
    session = _session(det, tmp_path / "det.onnx")
    windows = _windows(x)
    rec, fc, codes = det._window_outputs(windows, codes=True)      # what the detector's scores are made of
    out = session.run(None, onnx_inputs(windows))
    assert len(out) == (3 if fc is not None else 2)
    np.testing.assert_allclose(out[0], rec, **TOLERANCE)
    if fc is not None:
        np.testing.assert_allclose(out[1], fc, **TOLERANCE)
    np.testing.assert_allclose(out[-1], codes, **TOLERANCE)      # the latent novelty's input
    assert rec.max() > 1e-3                         # the comparison is not between zeros
    # Variable lengths through the mask: the errors of each sequence alone, exactly 0 at padded steps.
    lengths = np.random.default_rng(1).integers(3, WINDOW + 1, len(windows))
    out = session.run(None, onnx_inputs(windows, lengths))[0]
    alone = det.autoencoder_.reconstruction_error([det._model_input(w[None, :n])[0] for w, n in zip(windows, lengths)],
                                                  per_step=True, per_feature=True)
    for row, n, ref in zip(out, lengths, alone):
        np.testing.assert_allclose(row[:n], ref, **TOLERANCE)
        assert not row[n:].any()


def test_a_large_offset_keeps_its_digits(tmp_path):
    """The graph standardises float64 raw values before the cast, as seqae does: a series near 1e7 that moves by
    about 1 scores as seqae scores it (float32 raw values hold 1e7 only to whole units)."""
    x = _series().astype(np.float64) + 1e7
    det = AnomalyDetector(window=WINDOW, epochs=1, random_state=0, device="cpu").fit(x)
    session = _session(det, tmp_path / "det.onnx")
    assert session.get_inputs()[0].type == "tensor(double)"
    windows = _windows(x)
    ref = det.autoencoder_.step_errors(windows)[0]
    np.testing.assert_allclose(session.run(None, onnx_inputs(windows))[0], ref, **TOLERANCE)
    # what the float32 graph computed: the values rounded to float32 first, then standardised
    rounded = det.autoencoder_.step_errors(windows.astype(np.float32).astype(np.float64))[0]
    assert not np.allclose(rounded, ref, **TOLERANCE)


def test_the_number_of_steps_is_free_for_the_repeat_decoder(tmp_path):
    x = _series()
    det = AnomalyDetector(window=WINDOW, epochs=1, random_state=0, device="cpu").fit(x)
    session = _session(det, tmp_path / "det.onnx")
    longer = _windows(x, window=50, count=7)
    np.testing.assert_allclose(session.run(None, onnx_inputs(longer))[0], det.autoencoder_.step_errors(longer)[0],
                               **TOLERANCE)


def test_sequence_autoencoder_and_metadata(tmp_path):
    x = _series(300, features=3)
    seqs = [x[i:i + 10 + i % 15] for i in range(0, 200, 5)]
    ae = LSTMAutoencoder(hidden_size=16, epochs=1, random_state=0, device="cpu").fit(seqs)
    session = _session(ae, tmp_path / "ae.onnx")
    padded = np.zeros((len(seqs), 24, 3), np.float32)
    for i, s in enumerate(seqs):
        padded[i, :len(s)] = s
    lengths = np.array([len(s) for s in seqs])
    out = session.run(None, onnx_inputs(padded, lengths))[0]
    ref = ae.reconstruction_error(seqs, per_step=True, per_feature=True)
    for row, n, r in zip(out, lengths, ref):
        np.testing.assert_allclose(row[:n], r, **TOLERANCE)
    det = AnomalyDetector(window=WINDOW, epochs=1, random_state=0, threshold="quantile").fit(_series())
    to_onnx(det, tmp_path / "det.onnx")
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "det.onnx")).metadata_props}
    assert json.loads(meta["window"]) == WINDOW and json.loads(meta["threshold_"]) == det.threshold_
    assert meta["estimator"] == "AnomalyDetector" and meta["n_features"] == "1"
    # what the latent novelty needs: the training windows' standardised codes and their standardisation
    np.testing.assert_array_equal(np.array(json.loads(meta["latent_reference_"]), np.float32), det.latent_reference_)
    assert json.loads(meta["latent_center_"]) == det.latent_center_.tolist()
    assert json.loads(meta["latent_weight"]) == det.latent_weight and len(json.loads(meta["mix_scale_"])) == 2
    assert json.loads(meta["latent_mix"]) == det.latent_mix
    # what the next-step error's margin needs: the margin and the training maxima it is taken against
    assert json.loads(meta["forecast_margin"]) == det.forecast_margin
    assert json.loads(meta["forecast_range_"]) == det.forecast_range_.tolist()


def test_cli_export(tmp_path, capsys):
    det = AnomalyDetector(window=WINDOW, epochs=1, random_state=0).fit(_series())
    det.save(tmp_path / "m.seqae")
    assert main(["export", str(tmp_path / "m.seqae"), str(tmp_path / "m.onnx")]) == 0
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    windows = _windows(_series(), count=5)
    np.testing.assert_allclose(session.run(None, onnx_inputs(windows))[0], det.autoencoder_.step_errors(windows)[0],
                               **TOLERANCE)
    assert main(["export", str(tmp_path / "m.seqae"), str(tmp_path / "m.txt")]) == 2
    assert ".onnx extension" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "absent.seqae"), str(tmp_path / "n.onnx")]) == 2
    assert "absent.seqae" in capsys.readouterr().err
    assert not (tmp_path / "n.onnx").exists()


def test_export_refuses_what_it_cannot_export(tmp_path):
    with pytest.raises(TypeError, match="cannot export a str"):
        to_onnx("model", tmp_path / "x.onnx")
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        to_onnx(LSTMAutoencoder(), tmp_path / "x.onnx")
