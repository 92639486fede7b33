"""ONNX export of a fitted model's scoring graph: windows and a mask in, per-step squared errors out.

windows (N, T, F) raw values (float64) + mask (N, T) of real steps -> standardised in float64 as in fit, then cast
to the model's float32 -> encoder, latent, decoder
(torch's nn.LSTM path, the same weights as the fused kernels) -> squared errors per step and feature, 0 at
padded steps, and each window's latent code. Variable lengths go through the mask, never packed sequences (which
the ONNX exporter cannot map, PyTorch issues #26462, #48460). Turning errors into point scores, thresholds and
events stays with seqae (or the MLflow flavour, :mod:`seqae.mlflow`); a detector's metadata carries what that
needs, its training windows' codes included (``latent_reference_``, standardised with ``latent_center_`` and
``latent_spread_``: a window's latent novelty is the mean distance of its standardised code to the 5 nearest).

Needs the ``onnx`` extra: ``pip install "seqae[onnx]"`` (onnx, and onnxruntime to run the graph).
"""
from __future__ import annotations

import copy
import io
import json
import os
import warnings

import numpy as np
import torch
from torch import nn

from seqae.nn.losses import forecast_squared_error, per_step_squared_error
from seqae.nn.tracing import traceable

INPUT_NAMES = ("windows", "mask")
OUTPUT_NAMES = ("reconstruction_error", "forecast_error", "latent_code")
# 17: the opset of onnxruntime releases from 2022 on, with every operator the graph needs (LSTM, GatherND, ...).
DEFAULT_OPSET = 17


class ScoringGraph(nn.Module):
    """What is exported: a fitted autoencoder's module and scaler as one function of (windows, mask).

    Shapes: windows (N, T, F) float64, mask (N, T) bool (True at real steps, a prefix of each row) ->
    reconstruction_error (N, T, F), for a model fitted with ``forecast=True`` forecast_error (N, T, F): the
    per-step, per-feature squared errors in standardised units that
    :meth:`~seqae.LSTMAutoencoder.step_errors` gives; then latent_code (N, Z), as ``step_errors(codes=True)``.
    ``center``: each window minus its mean over its real steps goes to the model, and latent_code is (N, Z + F),
    the code followed by that mean (a detector fitted with ``center_windows``, as its latent novelty compares).
    """

    def __init__(self, autoencoder, center: bool = False):
        super().__init__()
        self.center = center
        # A copy: exporting moves it to the CPU, which must not move a model fitted on a GPU.
        self.module = copy.deepcopy(autoencoder.module_)
        # float64, as seqae standardises: a series with a large offset (1e7 moving by 1) keeps its digits up to
        # the cast, which float32 raw values would round away first.
        self.register_buffer("mean", torch.tensor(autoencoder.scaler_.mean, dtype=torch.float64))
        self.register_buffer("scale", torch.tensor(autoencoder.scaler_.scale, dtype=torch.float64))

    def forward(self, windows: torch.Tensor, mask: torch.Tensor):
        lengths = mask.to(torch.int64).sum(dim=1)                                  # (N,)
        level = None
        if self.center:
            real = mask[:, :, None].to(windows.dtype)                              # (N, T, 1)
            level = (windows * real).sum(dim=1) / real.sum(dim=1)                  # (N, F)
            windows = windows - level[:, None, :]
        standard = ((windows - self.mean) / self.scale).to(torch.float32)          # (N, T, F) float64 -> float32
        x = torch.where(mask[:, :, None], standard, 0.0)                           # padding as seqae pads: zeros
        out = self.module(x, lengths)
        rec = per_step_squared_error(out.reconstruction, x, lengths, reduce_features=False)
        code = out.embedding if level is None else torch.cat([out.embedding, level.to(out.embedding.dtype)], dim=1)
        if out.forecast is None:
            return rec, code
        return rec, forecast_squared_error(out.forecast, x, lengths, reduce_features=False), code


def _autoencoder_of(model):
    """The LSTMAutoencoder inside a fitted estimator (itself, or a detector's ``autoencoder_``)."""
    from sklearn.utils.validation import check_is_fitted

    from seqae.autoencoder import LSTMAutoencoder

    ae = model if isinstance(model, LSTMAutoencoder) else getattr(model, "autoencoder_", None)
    if ae is None:
        raise TypeError(f"cannot export a {type(model).__name__}: expected a fitted LSTMAutoencoder, AnomalyDetector "
                        "or SequenceAnomalyDetector")
    check_is_fitted(ae, "module_")
    return ae


def _metadata(model, ae) -> dict[str, str]:
    """What a serving system needs besides the graph, as ONNX metadata (strings)."""
    from seqae._version import __version__

    meta = {"seqae_version": __version__, "estimator": type(model).__name__,
            "n_features": str(ae.n_features_in_), "outputs": "squared error per step and feature, in standardised "
            "units (the training data's mean and scale), 0 at masked steps"}
    for name in ("window", "stride", "score_aggregation", "point_weight", "channel_weights", "threshold",
                 "threshold_", "forecast_weight", "forecast_margin", "latent_weight", "latent_mix", "center_windows"):
        if hasattr(model, name):
            meta[name] = json.dumps(getattr(model, name))
    for name in ("error_scale_", "channel_scale_", "mix_scale_", "forecast_range_", "latent_center_",
                 "latent_spread_"):
        if getattr(model, name, None) is not None:
            meta[name] = json.dumps([float(v) for v in getattr(model, name)])
    if getattr(model, "latent_reference_", None) is not None:
        meta["latent_reference_"] = json.dumps(model.latent_reference_.tolist())
    if hasattr(model, "feature_names_in_"):
        meta["feature_names_in_"] = json.dumps([str(c) for c in model.feature_names_in_])
    return meta


def to_onnx(model, path: str | os.PathLike, *, opset: int = DEFAULT_OPSET) -> None:
    """Write a fitted model's scoring graph to an ONNX file, atomically.

    Parameters
    ----------
    model : fitted LSTMAutoencoder, AnomalyDetector or SequenceAnomalyDetector
    path : where to write the ``.onnx`` file
    opset : ONNX opset version (default 17)

    The graph takes ``windows`` (N, T, F) float64 raw values and ``mask`` (N, T) bool (True at each row's real
    steps, which come first) and returns ``reconstruction_error`` (N, T, F), for ``forecast=True`` models
    ``forecast_error`` (N, T, F), as :meth:`~seqae.LSTMAutoencoder.step_errors` gives them, then ``latent_code`` (N,
    Z; for a detector fitted with ``center_windows``, (N, Z + F): the code, then each window's mean, which the
    graph subtracts from the window before the model). N is free; T is free for ``decoder="repeat"`` and fixed
    to the detector's window (or 64) for ``decoder="autoregressive"``, whose free-running loop is unrolled. The detector's settings (window, threshold,
    ...) and its training windows' codes are in the file's metadata.

    Examples
    --------
    >>> import numpy as np
    >>> from seqae import AnomalyDetector
    >>> from seqae.export import to_onnx
    >>> det = AnomalyDetector(window=16, hidden_size=8, epochs=1, random_state=0).fit(np.sin(np.arange(200) / 5))
    >>> to_onnx(det, "det.onnx")                           # doctest: +SKIP
    >>> import onnxruntime                                  # doctest: +SKIP
    >>> sess = onnxruntime.InferenceSession("det.onnx")     # doctest: +SKIP
    >>> errors, fc_errors, codes = sess.run(None, {"windows": w, "mask": m})  # doctest: +SKIP
    """
    try:
        import onnx
    except ImportError:
        raise ImportError('ONNX export needs the onnx package: pip install "seqae[onnx]"') from None
    from seqae.tensorfile import write_atomic

    ae = _autoencoder_of(model)
    graph = ScoringGraph(ae, center=bool(getattr(model, "center_windows", False))).cpu().eval()
    steps = int(getattr(model, "window", 64))
    example = (torch.zeros(2, steps, ae.n_features_in_, dtype=torch.float64), torch.ones(2, steps, dtype=torch.bool))
    example[1][1, steps // 2:] = False                      # one padded row: the graph is traced with a real mask
    outputs = [OUTPUT_NAMES[0]] + ([OUTPUT_NAMES[1]] if ae.forecast else []) + [OUTPUT_NAMES[2]]
    dynamic = {"windows": {0: "N"}, "mask": {0: "N"}, **{name: {0: "N"} for name in outputs}}
    if ae.decoder == "repeat":
        for name, axes in dynamic.items():
            if name != "latent_code":                      # (N, Z): no step axis
                axes[1] = "T"
    buffer = io.BytesIO()
    with traceable(), torch.no_grad(), warnings.catch_warnings():
        # The legacy exporter maps nn.LSTM to ONNX's LSTM operator; the new one (dynamo=True) needs onnxscript.
        warnings.simplefilter("ignore", (torch.jit.TracerWarning, DeprecationWarning, FutureWarning, UserWarning))
        torch.onnx.export(graph, example, buffer, input_names=list(INPUT_NAMES), output_names=outputs,
                          dynamic_axes=dynamic, opset_version=opset, dynamo=False)
    proto = onnx.load_from_string(buffer.getvalue())
    for key, value in _metadata(model, ae).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    write_atomic(path, proto.SerializeToString())


def onnx_inputs(windows: np.ndarray, lengths: np.ndarray | None = None, *,
                dtype: type = np.float64) -> dict[str, np.ndarray]:
    """The graph's inputs for windows (N, T, F) and, optionally, each row's real length (N,) (the rest padding).

    ``dtype``: the graph's input type, float64 (``np.float32`` for a file exported before the graph took
    float64; ``session.get_inputs()[0].type`` says which: ``tensor(double)`` or ``tensor(float)``)."""
    windows = np.asarray(windows, dtype=dtype)
    n, t = windows.shape[:2]
    lengths = np.full(n, t) if lengths is None else np.asarray(lengths)
    return {"windows": windows, "mask": np.arange(t)[None, :] < lengths[:, None]}
