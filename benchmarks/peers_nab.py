"""Peer detectors for the NAB benchmark (``benchmarks/nab.py``) and the detection suite
(``benchmarks/detection.py``): PyOD, scikit-learn, TSB-AD and a rolling z-score.

This module imports neither seqae nor any peer package at import time, so ``nab.py`` can import it in any
interpreter to learn the method names, and run it as a worker in another interpreter (a virtual environment
where the peers are installed)::

    .venv-peers/bin/python benchmarks/peers_nab.py TASKS.json

``TASKS.json`` is a list of ``{"method", "values" (path of a .npy of the z-scored series, (n,) or (n, F)), "n_train", "seed",
"quick", "out" (path of the .npz to write)}``; for each task the worker fits the method on
``values[:n_train]``, scores every point and writes ``scores`` (n,), ``predictions`` (n,) 0/1, ``fit_s``,
``score_s`` and ``threshold_rule`` to ``out``. A task that fails writes ``error`` instead. All metrics are
computed by ``nab.py`` (with seqae's metrics), so the peers' environments need no seqae.

Window-based peers (PyOD AutoEncoder and VAE, IsolationForest) see flattened sliding windows of 64 points (of
every channel, for multivariate series)
(stride 1, training windows taken from the training part only); a point's score is the mean of the scores
of the windows that cover it (the same rule as seqae's ``score_aggregation="mean"``), and its detection is
``point score > threshold_`` with the threshold the library derives from its training windows at
``contamination=0.01`` (PyOD's ``threshold_``; scikit-learn's ``offset_``), the same contamination as
seqae's default. TSB-AD's detectors only return scores; for them the detection threshold is the 99th
percentile of the training part's point scores (the same rule as PyOD's, at contamination 0.01).
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

WINDOW = 64
CONTAMINATION = 0.01

# method -> (label for the table, the module whose presence makes it available)
PEERS: dict[str, tuple[str, str]] = {
    "pyod-ae": ("PyOD AutoEncoder (flattened windows of 64)", "pyod"),
    "pyod-vae": ("PyOD VAE (flattened windows of 64)", "pyod"),
    "iforest": ("IsolationForest (scikit-learn, flattened windows of 64)", "sklearn"),
    "tsbad-ae": ("TSB-AD 1.5 AutoEncoder", "TSB_AD"),
    "tsbad-lstmad": ("TSB-AD LSTMAD (epochs capped at 20)", "TSB_AD"),
    "tsbad-usad": ("TSB-AD USAD", "TSB_AD"),
    "pyod-lstm": ("PyOD LSTMAD forecaster (window 64, epochs capped at 10)", "pyod"),
    "zscore": ("rolling z-score (trailing window of 64)", "numpy"),
}


def available(method: str) -> bool:
    """True when this interpreter can import what ``method`` needs (checked without importing it)."""
    return importlib.util.find_spec(PEERS[method][1]) is not None


# ------------------------------------------------------------------------------------------ window helpers
def _windows(values: np.ndarray) -> np.ndarray:
    """(n - WINDOW + 1, WINDOW * F) flattened windows, stride 1 (a copy, float32)."""
    view = np.lib.stride_tricks.sliding_window_view(values, WINDOW, axis=0)   # (m, WINDOW) or (m, F, WINDOW)
    return view.reshape(len(view), -1).astype(np.float32)


def _windows_to_points(window_scores: np.ndarray, n: int) -> np.ndarray:
    """Mean, for every point, of the scores of the windows that cover it."""
    total = np.zeros(n + 1)
    count = np.zeros(n + 1)
    m = len(window_scores)
    # window s covers points s .. s + WINDOW - 1: a difference array of the window scores
    np.add.at(total, np.arange(m), window_scores)
    np.add.at(total, np.arange(m) + WINDOW, -window_scores)
    np.add.at(count, np.arange(m), 1)
    np.add.at(count, np.arange(m) + WINDOW, -1)
    return np.cumsum(total)[:n] / np.maximum(np.cumsum(count)[:n], 1)


def _run_windowed(model, values: np.ndarray, n_train: int, score_sign: float = 1.0, threshold=None) -> dict:
    n = len(values)
    t0 = time.perf_counter()
    model.fit(_windows(values[:n_train]))
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    window_scores = score_sign * np.asarray(model.decision_function(_windows(values)), dtype=np.float64)
    scores = _windows_to_points(window_scores, n)
    score_s = time.perf_counter() - t0
    thr = float(model.threshold_ if threshold is None else threshold(model))
    return {"scores": scores, "predictions": (scores > thr).astype(np.int8), "fit_s": fit_s, "score_s": score_s}


# ------------------------------------------------------------------------------------------ the peers
def _pyod_ae(values, n_train, seed, quick):
    from pyod.models.auto_encoder import AutoEncoder
    model = AutoEncoder(contamination=CONTAMINATION, epoch_num=1 if quick else 10, random_state=seed, verbose=0,
                        device="cpu")
    out = _run_windowed(model, values, n_train)
    out["threshold_rule"] = "PyOD threshold_ (contamination=0.01, window scores)"
    return out


def _pyod_vae(values, n_train, seed, quick):
    from pyod.models.vae import VAE
    model = VAE(contamination=CONTAMINATION, epoch_num=1 if quick else 30, random_state=seed, verbose=0,
                device="cpu")
    out = _run_windowed(model, values, n_train)
    out["threshold_rule"] = "PyOD threshold_ (contamination=0.01, window scores)"
    return out


def _iforest(values, n_train, seed, quick):
    from sklearn.ensemble import IsolationForest

    class _IF(IsolationForest):  # higher = more abnormal, like the others
        def decision_function(self, X):
            return -self.score_samples(X)

    model = _IF(n_estimators=20 if quick else 100, contamination=CONTAMINATION, random_state=seed)
    out = _run_windowed(model, values, n_train, threshold=lambda m: -m.offset_)
    out["threshold_rule"] = "scikit-learn offset_ (contamination=0.01, window scores)"
    return out


def _tsbad(name, values, n_train, seed, quick):
    """TSB-AD's semi-supervised runners: fit on the training part, score the whole series."""
    import torch
    torch.manual_seed(seed)
    np.random.seed(seed)
    x = values.reshape(-1, 1).astype(np.float64)
    train = x[:n_train]
    epochs = 1 if quick else None
    # TSB-AD's own runners' settings (TSB_AD.model_wrapper.run_AutoEncoder / run_LSTMAD / run_USAD defaults);
    # LSTMAD's epochs capped at 20 as in peers_NAB.md (its default is 50).
    if name == "tsbad-ae":
        from TSB_AD.models.AE import AutoEncoder
        model = AutoEncoder(slidingWindow=100, hidden_neurons=[64, 32], batch_size=128, epochs=epochs or 50)
    elif name == "tsbad-lstmad":
        from TSB_AD.models.LSTMAD import LSTMAD
        model = LSTMAD(window_size=100, pred_len=1, lr=0.0008, feats=1, batch_size=128, epochs=epochs or 20)
    else:
        from TSB_AD.models.USAD import USAD
        model = USAD(win_size=5, feats=1, lr=1e-4, epochs=epochs or 10)
    t0 = time.perf_counter()
    model.fit(train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = np.asarray(model.decision_function(x), dtype=np.float64).ravel()
    score_s = time.perf_counter() - t0
    if len(scores) != len(values):
        raise RuntimeError(f"{name} returned {len(scores)} scores for {len(values)} points")
    thr = float(np.quantile(scores[:n_train], 1 - CONTAMINATION))
    return {"scores": scores, "predictions": (scores > thr).astype(np.int8), "fit_s": fit_s, "score_s": score_s,
            "threshold_rule": "99th percentile of the training part's scores"}


def _pyod_lstm(values, n_train, seed, quick):
    import torch
    from pyod.models.ts_lstm import LSTMAD
    torch.manual_seed(seed)
    x = values.reshape(len(values), -1)
    model = LSTMAD(window_size=WINDOW, epochs=1 if quick else 10, contamination=CONTAMINATION)
    t0 = time.perf_counter()
    model.fit(x[:n_train])
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = np.asarray(model.decision_function(x), dtype=np.float64)
    score_s = time.perf_counter() - t0
    return {"scores": scores, "predictions": (scores > model.threshold_).astype(np.int8), "fit_s": fit_s,
            "score_s": score_s, "threshold_rule": "PyOD threshold_ (contamination=0.01)"}


def _zscore(values, n_train, seed, quick):
    """|x_t - mean| / std over the WINDOW points before t, averaged over channels; the first WINDOW points
    use the training part's statistics. Threshold: the 99th percentile of the training part's scores."""
    t0 = time.perf_counter()
    x = values.reshape(len(values), -1)
    csum = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x]), axis=0)
    csq = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x * x]), axis=0)
    n = len(x)
    end = np.arange(n)
    start = np.maximum(end - WINDOW, 0)
    count = np.maximum(end - start, 1)[:, None]
    mean = (csum[end] - csum[start]) / count
    var = np.maximum((csq[end] - csq[start]) / count - mean * mean, 0.0)
    head = end < WINDOW
    mean[head], var[head] = x[:n_train].mean(axis=0), x[:n_train].var(axis=0)
    scores = (np.abs(x - mean) / np.sqrt(var + 1e-6)).mean(axis=1)
    thr = float(np.quantile(scores[:n_train], 1 - CONTAMINATION))
    return {"scores": scores, "predictions": (scores > thr).astype(np.int8), "fit_s": 0.0,
            "score_s": time.perf_counter() - t0, "threshold_rule": "99th percentile of the training part's scores"}


def run_peer(method: str, values: np.ndarray, n_train: int, seed: int = 0, quick: bool = False) -> dict:
    """Fit ``method`` on ``values[:n_train]`` and score every point; see the module docstring."""
    values = np.asarray(values, dtype=np.float64)
    if method == "pyod-lstm":
        return _pyod_lstm(values, n_train, seed, quick)
    if method == "zscore":
        return _zscore(values, n_train, seed, quick)
    if method == "pyod-ae":
        return _pyod_ae(values, n_train, seed, quick)
    if method == "pyod-vae":
        return _pyod_vae(values, n_train, seed, quick)
    if method == "iforest":
        return _iforest(values, n_train, seed, quick)
    if method.startswith("tsbad-"):
        return _tsbad(method, values, n_train, seed, quick)
    raise ValueError(f"unknown peer {method!r}; expected one of {sorted(PEERS)}")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    tasks = json.loads(Path(argv[0]).read_text())
    threads = int(tasks[0].get("threads", 0)) if tasks else 0
    if threads:
        import torch
        torch.set_num_threads(threads)
    # Import each method's package before any timing, so that the first series' fit_s is not import time.
    warm = {"pyod-ae": "pyod.models.auto_encoder", "pyod-vae": "pyod.models.vae", "iforest": "sklearn.ensemble",
            "tsbad-ae": "TSB_AD.models.AE", "tsbad-lstmad": "TSB_AD.models.LSTMAD", "tsbad-usad": "TSB_AD.models.USAD",
            "pyod-lstm": "pyod.models.ts_lstm", "zscore": "numpy"}
    for method in sorted({t["method"] for t in tasks}):
        try:
            importlib.import_module(warm[method])
        except Exception:  # reported by the task itself
            pass
        try:  # and one tiny untimed run: the first fit of a process pays for lazy set-up (seconds)
            run_peer(method, np.sin(np.arange(300) / 5.0), 200, 0, True)
        except Exception:
            pass
    for task in tasks:
        try:
            out = run_peer(task["method"], np.load(task["values"]), int(task["n_train"]), int(task["seed"]),
                           bool(task["quick"]))
        except Exception:  # recorded, reported by nab.py; the other tasks go on
            out = {"error": traceback.format_exc()}
        part = task["out"] + ".part.npz"  # written whole, then renamed: nab.py never reads half a file
        np.savez(part, **out)
        os.replace(part, task["out"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
