"""Keras reference models for ``benchmarks/perf.py``: the LSTM autoencoders as a Keras user writes them.

Not part of seqae and does not import it: this is the baseline seqae is measured against. It runs in its own
interpreter (``.venv-bench``, made by ``benchmarks/perf_setup.sh``) with TensorFlow's default thread pools, so
its timings and its peak memory (``ru_maxrss`` of this process) are measured apart from PyTorch's.

The models (TensorFlow backend, CPU):

* A: ``LSTM(32) -> RepeatVector(T) -> LSTM(32, return_sequences) -> TimeDistributed(Dense(F))``, MSE.
* B: the same with a Gaussian latent of size 8 (``Dense`` mean and log-variance, reparameterised sample, KL term
  added with ``add_loss``): an LSTM-VAE.
* C: ``Masking -> LSTM(100) -> RepeatVector(T) -> LSTM(F, return_sequences)`` on zero-padded sequences, the loss
  masked per step with ``sample_weight`` (Keras computes every padded step anyway; the mask only zeroes its loss).

Used as a worker by perf.py::

    .venv-bench/bin/python benchmarks/keras_reference.py --task train --case A --data data.npz --epochs 6 \
        --out result.json [--jit]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")   # TensorFlow's start-up chatter; errors still show
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402


def _keras():
    import keras  # imported late: TensorFlow's import alone takes seconds and is not timed
    return keras


def build_lstm_ae(timesteps: int, n_features: int, units: int = 32):
    """A: the classic RepeatVector LSTM autoencoder."""
    keras = _keras()
    from keras import layers
    return keras.Sequential([
        keras.Input(shape=(timesteps, n_features)),
        layers.LSTM(units),
        layers.RepeatVector(timesteps),
        layers.LSTM(units, return_sequences=True),
        layers.TimeDistributed(layers.Dense(n_features)),
    ], name="lstm_ae")


def build_lstm_vae(timesteps: int, n_features: int, units: int = 32, latent: int = 8):
    """B: LSTM-VAE; the KL term is added by the sampling layer with ``add_loss``."""
    keras = _keras()
    from keras import layers, ops

    class Sampling(layers.Layer):
        def call(self, inputs):
            mean, logvar = inputs
            kl = -0.5 * ops.mean(ops.sum(1.0 + logvar - ops.square(mean) - ops.exp(logvar), axis=-1))
            self.add_loss(kl / (timesteps * n_features))   # per element, like the MSE
            eps = keras.random.normal(ops.shape(mean))
            return mean + ops.exp(0.5 * logvar) * eps

    inputs = keras.Input(shape=(timesteps, n_features))
    h = layers.LSTM(units)(inputs)
    mean = layers.Dense(latent)(h)
    logvar = layers.Dense(latent)(h)
    z = Sampling()([mean, logvar])
    x = layers.RepeatVector(timesteps)(z)
    x = layers.LSTM(units, return_sequences=True)(x)
    outputs = layers.TimeDistributed(layers.Dense(n_features))(x)
    return keras.Model(inputs, outputs, name="lstm_vae")


def build_masked_ae(timesteps: int, n_features: int, units: int = 100):
    """C: masked variable-length autoencoder on zero-padded input (the loss mask comes as sample_weight)."""
    keras = _keras()
    from keras import layers
    return keras.Sequential([
        keras.Input(shape=(timesteps, n_features)),
        layers.Masking(mask_value=0.0),
        layers.LSTM(units),
        layers.RepeatVector(timesteps),
        layers.LSTM(n_features, return_sequences=True),
    ], name="masked_ae")


def build(case: str, x: np.ndarray):
    n, t, f = x.shape
    if case == "A":
        return build_lstm_ae(t, f)
    if case == "B":
        return build_lstm_vae(t, f)
    if case in ("C", "S"):
        return build_masked_ae(t, f)
    raise ValueError(f"unknown case {case!r}")


class EpochTimer:
    """Wall and CPU seconds of every epoch (a Keras callback, built lazily so importing this file is cheap)."""

    def __new__(cls):
        keras = _keras()

        class _Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.wall, self.cpu = [], []

            def on_epoch_begin(self, epoch, logs=None):
                self._w, self._c = time.perf_counter(), time.process_time()

            def on_epoch_end(self, epoch, logs=None):
                self.wall.append(time.perf_counter() - self._w)
                self.cpu.append(time.process_time() - self._c)

        return _Timer()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def train(case: str, data: dict, epochs: int, batch_size: int, jit: bool) -> dict:
    keras = _keras()
    x = data["x"]
    keras.utils.set_random_seed(0)
    model = build(case, x)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse", jit_compile=jit)
    kwargs = {}
    if "lengths" in data:                      # C and S: per-step loss mask of the real steps
        mask = (np.arange(x.shape[1])[None, :] < data["lengths"][:, None]).astype(np.float32)
        kwargs["sample_weight"] = mask
    timer = EpochTimer()
    started = time.perf_counter()
    history = model.fit(x, x, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=[timer],
                        **kwargs)
    return {"wall": timer.wall, "cpu": timer.cpu, "total_wall": time.perf_counter() - started,
            "loss": [float(v) for v in history.history["loss"]], "jit": bool(model.jit_compile)}


def infer(case: str, data: dict, batch_size: int, repeats: int, jit: bool) -> dict:
    """Windows/s of scoring: predict, then the mean squared error per window, as a user computes it."""
    keras = _keras()
    x = data["x"]
    keras.utils.set_random_seed(0)
    model = build(case, x)
    model.compile(optimizer="adam", loss="mse", jit_compile=jit)
    baseline = _rss_mb()

    def score():
        pred = model.predict(x, batch_size=batch_size, verbose=0)
        return np.mean((x - pred) ** 2, axis=(1, 2))

    score()                                     # warm-up: tracing
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        score()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return {"wall": wall, "cpu": cpu, "windows": int(len(x)), "rss_before_mb": baseline,
            "jit": bool(model.jit_compile)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=["train", "infer"], required=True)
    p.add_argument("--case", required=True)
    p.add_argument("--data", required=True, help=".npz with x (N, T, F) and, for masked cases, lengths (N,)")
    p.add_argument("--out", required=True, help="where to write the JSON result")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--jit", action="store_true", help="compile with XLA (jit_compile=True)")
    args = p.parse_args(argv)

    import keras
    import tensorflow as tf
    with np.load(args.data) as f:
        data = {k: f[k] for k in f.files}
    result = {"framework": "keras-xla" if args.jit else "keras", "case": args.case, "task": args.task,
              "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
                           "python": platform.python_version()},
              "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                          "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}}
    try:
        if args.task == "train":
            result.update(train(args.case, data, args.epochs, args.batch_size, args.jit))
        else:
            result.update(infer(args.case, data, args.batch_size, args.repeats, args.jit))
        if args.task == "train" and args.jit and not result["jit"]:
            result["note"] = "Keras refused jit_compile=True for this model and ran without XLA"
    except Exception as e:  # noqa: BLE001 - a failed reference (e.g. XLA) is reported, not fatal
        result["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
    result["peak_rss_mb"] = _rss_mb()
    with open(args.out, "w") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
