"""Speed and memory of seqae against the same models in Keras (TensorFlow backend), on the CPU (issue #5).

Cases (``--only`` takes these letters):

* A  training, LSTM autoencoder, random windows (7752, 30, 1), hidden 32, batch 32, Adam.
* B  training, LSTM-VAE, same data, latent 8.
* C  training, masked variable-length autoencoder, (1326, 356, 8) with real lengths uniform in 7..356;
     Keras pads every sequence to 356 (Masking + per-step sample_weight), seqae gets the list of real sequences.
* S  training, skewed lengths: 95% short (10..30 steps) and 5% long (300..400 steps), the model of C: an epoch
     should cost about its real steps, not N x longest.
* I  inference, the model of A: reconstruction error of every window, batch 1024; windows/s and peak memory.
* L  long series: a 1,000,000-point univariate series scored with window 100 at several strides (seqae only,
     with ``AnomalyDetector.decision_function`` where it exists, else ``reconstruction_error`` over chunks of
     strided windows); points/s and how much the peak memory grows while scoring.

Every (case, framework) runs in a child process of its own, so each gets its own thread pools and its peak
memory is that child's ``ru_maxrss``; all children read the same data, written once by this process from a seed.
Each child of cases A, B, C, S and I runs ``--rounds`` times (default 3), seqae's children first in one round
and Keras's in the next: on a shared 2-core machine a slow phase lasts minutes and moved a single child's figure
by up to 1.8x (case C, seqae: 0.30 to 0.55 s/epoch with the same code, seventh session), so one child per
framework decided a ratio by which of them met it. A figure pools the epochs (repeats) of all rounds; the
notes column gives each round's own median.

Training time per epoch: each framework trains for ``--epochs`` epochs (default 6) in one ``fit``; the first
epoch is a warm-up and the figure is the median of the others (wall and CPU seconds, CPU = ``process_time`` of
the child, all threads). Keras is timed with a callback at epoch begin/end. seqae's ``fit`` has no callbacks, so
the child records the time at the start of every epoch: ``seqae.training.loop.train_autoencoder`` calls
``length_grouped_batches`` exactly once per epoch (no validation set here), and the child wraps that function
with one that notes the clock before delegating. Epoch k then runs from its call to the next one (the last
epoch to ``fit``'s return). Nothing in the library is changed; the work timed is exactly ``fit``'s.

Usage::

    .venv-bench/bin/python benchmarks/perf.py                 # everything, writes benchmarks/results/perf.md
    .venv-bench/bin/python benchmarks/perf.py --quick --only A --no-keras   # smoke test, seconds
    .venv-bench/bin/python benchmarks/perf.py --seqae-threads auto          # seqae with its defaults only
    .venv-bench/bin/python benchmarks/perf.py --probe threads               # one investigation (see PROBES)
    make bench-perf                                           # 3 rounds of children, about 15 min

Keras runs in ``--keras-python`` (default: this interpreter if it can import TensorFlow, else
``.venv-bench/bin/python``; ``benchmarks/perf_setup.sh`` creates it); without TensorFlow, seqae runs alone.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import itertools
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KERAS_SCRIPT = HERE / "keras_reference.py"
DEFAULT_OUTPUT = HERE / "results" / "perf.md"
ALL_CASES = ("A", "B", "C", "S", "I", "L", "D")
CASE_TITLES = {"A": "A train LSTM-AE", "B": "B train LSTM-VAE", "C": "C train masked var-len",
               "S": "S train skewed 95/5", "I": "I infer A, batch 1024", "L": "L long series",
               "D": "D default AnomalyDetector, fit + score"}

# Sizes. "quick" keeps the whole smoke test within seconds; the shapes and models stay the same kind.
SIZES = {
    "full": {"A": (7752, 30, 1), "C": (1326, 7, 356, 8), "S": (2000, (10, 30), (300, 400), 8),
             "L": (1_000_000, 100, (1, 10, 100)), "epochs": 6, "repeats": 5, "L_train": 20_000, "D": 100_000},
    "quick": {"A": (640, 30, 1), "C": (96, 7, 120, 8), "S": (200, (10, 30), (100, 120), 8),
              "L": (20_000, 100, (1, 10, 100)), "epochs": 3, "repeats": 2, "L_train": 2_000, "D": 5_000},
}
# The seqae configurations matching the Keras models (keras_reference.py).
SEQAE_MODELS = {
    "A": dict(hidden_size=32, latent_dim=32),
    "B": dict(hidden_size=32, latent_dim=8, variational=True),
    # Keras C: Masking -> LSTM(100) -> RepeatVector -> LSTM(8): the decoder is 8 wide, so seqae's is too
    # (decoder_hidden_size=8, then a linear head of 8 -> 8 where Keras reads the LSTM's outputs directly).
    "C": dict(hidden_size=100, decoder_hidden_size=8, latent_dim=100),
    "S": dict(hidden_size=100, decoder_hidden_size=8, latent_dim=100),
    "I": dict(hidden_size=32, latent_dim=32),
    "L": dict(hidden_size=32, latent_dim=32),
}
# The Keras models train whole, clean sequences at a constant learning rate and read out the latent: so does
# seqae here (issue #16 changed LSTMAutoencoder's defaults to crops, masked steps, a cosine schedule over a step
# budget and a multi-scale read-out; those are pinned back so that the cases stay the same work as Keras's).
COMMON = dict(batch_size=32, learning_rate=1e-3, validation_fraction=0.0, patience=None, random_state=0,
              device="cpu", min_steps=None, lr_schedule="constant", min_crop=1.0, mask_fraction=0.0,
              contrastive_weight=0.0, embedding="latent")
INFER_BATCH = 1024
NOTES_MARKER = "<!-- notes: everything below this line is kept when perf.py rewrites the file -->"
SEED = 0


def case_name(case: str, size: str) -> str:
    s = SIZES[size]
    shape = {"A": "({},{},{})".format(*s["A"]), "B": "({},{},{})".format(*s["A"]), "I": "({},{},{})".format(*s["A"]),
             "C": "({},{}..{},{})".format(*s["C"]), "S": "({},{}+{},{})".format(s["S"][0], *[
                 f"{lo}..{hi}" for lo, hi in s["S"][1:3]], s["S"][3]),
             "L": "({:,} points, window {})".format(*s["L"][:2]), "D": "({:,} points)".format(s["D"])}[case]
    return f"{CASE_TITLES[case]} {shape}"


# ---------------------------------------------------------------------------------------------- data
def make_data(case: str, size: str, rng_seed: int = SEED) -> dict[str, np.ndarray]:
    """The arrays of one case, from a fixed seed: x (N, T, F) float32, and lengths (N,) for masked cases."""
    rng = np.random.default_rng([rng_seed, ord(case)])
    s = SIZES[size]
    if case in ("A", "B", "I"):
        n, t, f = s["A"]
        return {"x": rng.standard_normal((n, t, f), dtype=np.float32)}
    if case in ("C", "S"):
        if case == "C":
            n, lo, hi, f = s["C"]
            lengths = rng.integers(lo, hi + 1, size=n)
        else:
            n, short, long, f = s["S"]
            n_long = max(1, n // 20)
            lengths = np.concatenate([rng.integers(short[0], short[1] + 1, size=n - n_long),
                                      rng.integers(long[0], long[1] + 1, size=n_long)])
            lengths = lengths[rng.permutation(n)]
        x = np.zeros((n, int(lengths.max()), f), dtype=np.float32)
        for i, length in enumerate(lengths):
            x[i, :length] = rng.standard_normal((length, f), dtype=np.float32)
        return {"x": x, "lengths": lengths.astype(np.int64)}
    if case in ("L", "D"):
        n = s["L"][0] if case == "L" else s["D"]
        t = np.arange(n, dtype=np.float64)
        series = np.sin(2 * np.pi * t / 250) + 0.1 * rng.standard_normal(n)
        return {"series": series.astype(np.float32)}
    raise ValueError(case)


# ---------------------------------------------------------------------------------------------- seqae child
def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _seqae_input(data: dict[str, np.ndarray]):
    """What a seqae user passes: the array for fixed length, the list of real (unpadded) sequences otherwise."""
    x = data["x"]
    if "lengths" in data:
        return [x[i, :length] for i, length in enumerate(data["lengths"])]
    return x


def seqae_train(case: str, data: dict, epochs: int, threads: int | str = "auto", device: str = "cpu") -> dict:
    import seqae.training.loop as loop
    from seqae import LSTMAutoencoder

    marks: list[tuple[float, float]] = []
    original = loop.length_grouped_batches

    def timed_batches(*args, **kwargs):   # called once at the start of every training epoch
        marks.append((time.perf_counter(), time.process_time()))
        return original(*args, **kwargs)

    loop.length_grouped_batches = timed_batches
    X = _seqae_input(data)
    ae = LSTMAutoencoder(**SEQAE_MODELS[case], **{**COMMON, "device": device}, epochs=epochs, num_threads=threads)
    w0, c0 = time.perf_counter(), time.process_time()
    ae.fit(X)
    marks.append((time.perf_counter(), time.process_time()))
    loop.length_grouped_batches = original
    if len(marks) != epochs + 1 or ae.n_epochs_ != epochs:
        raise RuntimeError(f"expected {epochs} epochs, timed {len(marks) - 1}, ran {ae.n_epochs_}")
    return {"wall": [marks[i + 1][0] - marks[i][0] for i in range(epochs)],
            "cpu": [marks[i + 1][1] - marks[i][1] for i in range(epochs)],
            "fit_overhead_wall": marks[0][0] - w0, "total_wall": marks[-1][0] - w0,
            "loss": ae.history_["train_loss"]}


def _quick_fit(case: str, X, threads: int | str = "auto", device: str = "cpu"):
    """A fitted estimator for the inference cases; the weights do not change the cost of scoring."""
    from seqae import LSTMAutoencoder
    return LSTMAutoencoder(**SEQAE_MODELS[case], **{**COMMON, "device": device}, epochs=1, max_batches_per_epoch=5,
                           num_threads=threads).fit(X)


def seqae_infer(case: str, data: dict, repeats: int, threads: int | str = "auto", device: str = "cpu") -> dict:
    X = data["x"]
    ae = _quick_fit(case, X, threads, device)
    baseline = _rss_mb()
    ae.reconstruction_error(X)                                     # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        ae.reconstruction_error(X)
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return {"wall": wall, "cpu": cpu, "windows": int(len(X)), "rss_before_mb": baseline}


def seqae_long(case: str, data: dict, size: str) -> dict:
    n, window, strides = SIZES[size]["L"]
    series = data["series"]
    train = series[: SIZES[size]["L_train"]]
    from seqae import AnomalyDetector
    results = []
    det = AnomalyDetector(window=window, stride=window, **SEQAE_MODELS[case], **{**COMMON, "batch_size": 64},
                          epochs=1, max_train_windows=1024)
    det.fit(train)
    api = "seqae.AnomalyDetector.decision_function (per-point scores)"
    score = lambda s: det.set_params(stride=s).decision_function(series)  # noqa: E731
    score(strides[-1])                                             # warm-up at the cheapest stride
    for stride in strides:
        before = _rss_mb()
        w, c = time.perf_counter(), time.process_time()
        out = score(stride)
        wall, cpu = time.perf_counter() - w, time.process_time() - c
        results.append({"stride": stride, "wall": wall, "cpu": cpu, "points": int(n), "n_scores": int(len(out)),
                        "windows": int((n - window) // stride + 1), "rss_before_mb": before,
                        "rss_after_mb": _rss_mb()})
    return {"strides": results, "api": api, "window": window,
            "all_windows_mb": (n - window + 1) * window * 4 / 2**20}


def seqae_default_series(data: dict) -> dict:
    """Issue #5: fit and score a 100,000-point series with AnomalyDetector's default settings (seconds to minutes)."""
    from seqae import AnomalyDetector
    series = data["series"]
    det = AnomalyDetector(random_state=0, device="cpu")              # every other parameter at its default
    w = time.perf_counter()
    det.fit(series)
    fit_s = time.perf_counter() - w
    w = time.perf_counter()
    scores = det.decision_function(series)
    score_s = time.perf_counter() - w
    ae = det.autoencoder_
    return {"fit_s": fit_s, "score_s": score_s, "points": int(len(series)), "n_scores": int(len(scores)),
            "epochs": int(ae.n_epochs_), "stop_reason": ae.stop_reason_}


def seqae_child(args) -> int:
    import torch

    import seqae
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    with np.load(args.data) as f:
        data = {k: f[k] for k in f.files}
    result = {"framework": "seqae", "case": args.case,
              "versions": {"torch": torch.__version__, "seqae": seqae.__version__, "numpy": np.__version__,
                           "python": platform.python_version()},
              # The estimator runs fit and scoring under torch.set_num_threads(num_threads); "auto" trains on
              # one thread and scores on torch's count.
              "threads": {"intra_op": args.seqae_threads[0], "inter_op": torch.get_num_interop_threads()},
              "device": args.device}
    try:
        if args.case in ("A", "B", "C", "S"):
            result.update(seqae_train(args.case, data, args.epochs, args.seqae_threads[0], args.device))
        elif args.case == "I":
            result.update(seqae_infer(args.case, data, args.repeats, args.seqae_threads[0], args.device))
        elif args.case == "D":
            result.update(seqae_default_series(data))
        else:
            result.update(seqae_long(args.case, data, args.size))
    except Exception as e:  # noqa: BLE001 - reported in the table
        result["error"] = f"{type(e).__name__}: {e}"[:300]
    result["peak_rss_mb"] = _rss_mb()
    Path(args.out).write_text(json.dumps(result))
    return 0


# ---------------------------------------------------------------------------------------------- probes
# Where seqae's time goes, and what the proposals of issue #5 gain: ``perf.py --probe NAME``. Each probe times its
# variants in the same process, interleaved over rounds (median), so that load from other processes hits them
# alike; CPU milliseconds are the steadier figure on a shared machine.
PROBES = ("threads", "fit-threads", "adam", "fastpath", "fused-loss", "infer", "rows", "compile", "lstm", "fused")


def _interleave(variants: dict, reps: int, rounds: int = 5) -> dict[str, tuple[float, float]]:
    """variants: name -> (threads, fn). Returns name -> (median wall ms, median CPU ms) per call of fn."""
    import torch
    for threads, fn in variants.values():
        torch.set_num_threads(threads)
        fn(), fn()                                                      # warm-up
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    for _ in range(rounds):
        for name, (threads, fn) in variants.items():
            torch.set_num_threads(threads)
            w, c = time.perf_counter(), time.process_time()
            for _ in range(reps):
                fn()
            samples[name].append(((time.perf_counter() - w) / reps * 1e3, (time.process_time() - c) / reps * 1e3))
    return {k: (statistics.median(a for a, _ in v), statistics.median(b for _, b in v)) for k, v in samples.items()}


def _print_probe(title: str, res: dict[str, tuple[float, float]], unit: str = "ms per call") -> None:
    base = next(iter(res.values()))
    print(f"{title} ({unit}; median of interleaved rounds)")
    for name, (w, c) in res.items():
        print(f"  {name:58s} wall {w:9.2f}  CPU {c:9.2f}  (CPU speed-up over the first {base[1] / c:4.2f}x)")


def _train_step(case: str, fast: bool = False, compiled: bool = False, fused_loss: bool = False,
                model: dict | None = None, shape: tuple[int, int] | None = None, flat: str | None = None, **adam):
    """One optimisation step of the case's seqae module on a batch of 32 equal lengths, as the loop does it.

    ``fast``: the equal-length fast path; ``compiled``: the module through ``torch.compile``; ``fused_loss``: the
    loss through ``seqae.nn.fused_loss.fused_autoencoder_loss`` (one autograd node) instead of the module and
    ``autoencoder_loss``; ``adam``: keyword arguments of ``torch.optim.Adam`` (``fused=True``, ``foreach=True``).
    The step takes an optional length.
    """
    import torch
    import torch.nn.functional as fn

    from seqae.nn.autoencoder import AutoencoderConfig, SequenceAutoencoder
    from seqae.nn.losses import autoencoder_loss
    f, t = (1, 30) if case in ("A", "B", "I") else (8, 180)     # A, B and I: windows of 30; C, S: 180 steps of 8
    f, t = shape or (f, t)
    torch.manual_seed(0)
    m = SequenceAutoencoder(AutoencoderConfig(n_features=f, **(model or SEQAE_MODELS[case]))).train()
    params = list(m.parameters())
    if flat is not None:
        from seqae.training.adam import FlatAdam
        from seqae.training.flat import FlatParameters
        params = [FlatParameters(params).param]
    if flat == "flat-adam":
        opt = FlatAdam(params[0], lr=1e-3, clip_norm=1.0)
    else:
        opt = torch.optim.Adam(params, lr=1e-3, **adam)
    forward = torch.compile(m) if compiled else m
    batches = {}

    def step(t=t, n=32):
        if (n, t) not in batches:
            batches[n, t] = torch.randn(n, t, f), torch.full((n,), t)
        x, lengths = batches[n, t]
        if fused_loss:
            from seqae.nn.fused_loss import fused_autoencoder_loss
            loss = fused_autoencoder_loss(m, x, lengths)
        elif fast:    # all lengths equal: flip instead of gather, last step instead of indexing, plain MSE
            h, _ = m.encoder.forward_layers[0](x)
            latent = m.latent(h[:, -1], sample=True)
            loss = fn.mse_loss(m.decoder(latent.z, t, None).flip(1), x)
        else:
            out = forward(x, lengths)
            loss = autoencoder_loss(out.reconstruction, x, lengths, out.embedding, out.logvar)[0]
        if flat == "flat-adam":
            opt.zero_grad()
            loss.backward()
            opt.step()                                              # clips first
            return
        opt.zero_grad(set_to_none=flat is None)                     # flat gradients are views: zeroed in place
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    return step


def _spin() -> None:
    """A busy process: what another user's job does to a shared machine."""
    while True:
        pass


def _vectorised_errors(ae, X: np.ndarray) -> np.ndarray:
    """Proposal: reconstruction_error of an equal-length ndarray with whole-array validation, scaling and scoring."""
    import torch

    import seqae._runtime as runtime
    arr = np.asarray(X, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise ValueError("NaN or inf")
    xs = ((arr - ae.scaler_.mean) / ae.scaler_.scale).astype(np.float32)
    n, t, _ = xs.shape
    rows = max(1, min(runtime.INFERENCE_ROWS, runtime.INFERENCE_STEPS // t))
    out = np.empty(n, dtype=np.float32)
    module, lengths = ae.module_.eval(), torch.full((rows,), t, dtype=torch.int64)
    with torch.inference_mode():
        for i in range(0, n, rows):
            xb = torch.from_numpy(xs[i:i + rows])
            out[i:i + rows] = ((module(xb, lengths[:len(xb)]).reconstruction - xb) ** 2).mean(dim=(1, 2)).numpy()
    return out


def _fused_loss_fits() -> dict[str, tuple[float, float]]:
    """Seconds of whole fits with and without the fused loss (medians of 3, interleaved): case A's model on 7,752
    windows of 30 (4 epochs), and the default AnomalyDetector (its next-step head included) on 4,000 points
    (windows of 64), 10 epochs without early stopping, so that both paths take the same steps (early stopping
    follows the float path, and the two paths round differently)."""
    import seqae.training.objectives as objectives
    from seqae import AnomalyDetector, LSTMAutoencoder

    rng = np.random.default_rng(0)
    t = np.arange(30)
    windows = np.stack([np.sin(t / 3 + p)[:, None] + 0.1 * rng.normal(size=(30, 1))
                        for p in rng.uniform(0, 6, 7752)]).astype(np.float32)
    series = np.sin(np.arange(4000) / 7) + 0.1 * rng.normal(size=4000)
    fits = {"A, 4 epochs": lambda: LSTMAutoencoder(hidden_size=32, latent_dim=32, epochs=4, min_steps=None,
                                                   patience=None, num_threads=1, random_state=0).fit(windows),
            "default AnomalyDetector, 10 epochs": lambda: AnomalyDetector(epochs=10, patience=None, random_state=0,
                                                                          num_threads=1).fit(series)}
    applies = objectives.fused_loss_applies
    res = {}
    try:
        for label, fit in fits.items():
            times = {"fused": [], "module": []}
            for _ in range(3):
                for mode in times:
                    objectives.fused_loss_applies = applies if mode == "fused" else (lambda *args: False)
                    t0 = time.process_time()
                    fit()
                    times[mode].append(time.process_time() - t0)
            for mode in ("module", "fused"):
                value = float(np.median(times[mode]))
                res[f"{label}: {mode}"] = (value, value)
    finally:
        objectives.fused_loss_applies = applies
    return res


def run_probe(name: str) -> None:
    import torch
    from torch import nn

    from seqae import LSTMAutoencoder
    print(f"probe {name}: torch {torch.__version__}, default threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    X = make_data("A", "full")["x"]
    if name == "threads":
        res = _interleave({"training step A, 2 threads (torch default here)": (2, _train_step("A")),
                           "training step A, 1 thread": (1, _train_step("A"))}, reps=5)
        _print_probe("Threads, training (batch 32)", res)
        # num_threads=None: the estimator keeps the thread count each variant sets (its default, 1, would not).
        ae = _quick_fit("I", X).set_params(num_threads=None)
        res = _interleave({"reconstruction_error, 7752 windows, 2 threads": (2, lambda: ae.reconstruction_error(X)),
                           "reconstruction_error, 7752 windows, 1 thread": (1, lambda: ae.reconstruction_error(X))},
                          reps=1)
        _print_probe("Threads, inference A (batch 1024)", res)
    elif name == "fit-threads":
        # Training steps on one and two threads, on an idle machine and beside one busy process: what
        # num_threads="auto" decides by (seqae._runtime.FIT_THREADS_MIN_STEP_WORK).
        shapes = {"A: H=32, 32 x 30 steps": ("A", None, None),
                  "H=64, 32 x 30 steps": ("A", dict(hidden_size=64, latent_dim=64), None),
                  "C: H=100 (decoder 8), 32 x 180 steps of 8": ("C", None, None),
                  "H=128, 32 x 50 steps": ("A", dict(hidden_size=128, latent_dim=128), (1, 50))}
        for busy in (False, True):
            spinner = None
            if busy:
                import multiprocessing
                spinner = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
                spinner.start()
            try:
                for label, (case, model, shape) in shapes.items():
                    step = _train_step(case, fused_loss=True, fused=True, model=model, shape=shape)
                    res = _interleave({"1 thread": (1, step), "2 threads": (2, step)},
                                      reps=20 if case == "A" and model is None else 3)
                    _print_probe(f"Training step {label}, {'one other busy process' if busy else 'idle'}", res)
            finally:
                if spinner is not None:
                    spinner.terminate()
    elif name == "adam":
        for case in ("A", "C"):
            res = _interleave({f"{case}: Adam default (single-tensor on CPU)": (1, _train_step(case)),
                               f"{case}: Adam foreach=True": (1, _train_step(case, foreach=True)),
                               f"{case}: Adam fused=True": (1, _train_step(case, fused=True)),
                               f"{case}: flat weights, Adam fused=True": (1, _train_step(case, fused=True,
                                                                                          flat="torch")),
                               f"{case}: flat weights, FlatAdam (seqae's loop)": (1, _train_step(case,
                                                                                                 flat="flat-adam"))},
                              reps=20 if case == "A" else 2)
            _print_probe(f"Optimiser, training step {case}, 1 thread", res)
    elif name == "fastpath":
        for case in ("A", "C"):
            res = _interleave({f"{case}: now (fused Adam)": (1, _train_step(case, fused=True)),
                               f"{case}: equal-length fast path (fused Adam)": (1, _train_step(case, True, fused=True))},
                              reps=20 if case == "A" else 2)
            _print_probe(f"Equal-length batches, training step {case}, 1 thread", res)
    elif name == "fused-loss":
        # The training step with the fused loss against the module's own path, over sequence lengths and sizes
        # (what seqae.nn.fused_loss.MAX_STEPS is chosen by), then whole fits: case A, and the default detector.
        shapes = {"A: H=32, 30 steps of 1": ("A", None, None),
                  "H=32, 30 steps of 8": ("A", None, (8, 30)),
                  "H=100, 30 steps of 1": ("A", dict(hidden_size=100, latent_dim=100), (1, 30)),
                  "H=32, 180 steps of 1": ("A", None, (1, 180)),
                  "H=32, 180 steps of 8": ("A", None, (8, 180)),
                  "C: H=100 (decoder 8), 180 steps of 8": ("C", None, None)}
        for label, (case, model, shape) in shapes.items():
            res = _interleave({"module + autoencoder_loss": (1, _train_step(case, fused=True, model=model,
                                                                            shape=shape)),
                               "fused_autoencoder_loss": (1, _train_step(case, fused_loss=True, fused=True,
                                                                         model=model, shape=shape))},
                              reps=10 if (shape or (1, 30))[1] <= 30 and case == "A" else 2)
            _print_probe(f"Training step {label}, batch 32 (Adam, clipping), 1 thread", res)
        _print_probe("Whole fits, 1 thread", _fused_loss_fits(), unit="s per fit")
    elif name == "infer":
        ae = _quick_fit("I", X)
        ref, new = ae.reconstruction_error(X), _vectorised_errors(ae, X)
        print(f"  max relative difference of the scores: {np.max(np.abs(ref - new) / np.abs(ref)):.2g}")
        res = _interleave({"reconstruction_error (now)": (1, lambda: ae.reconstruction_error(X)),
                           "vectorised equal-length path": (1, lambda: _vectorised_errors(ae, X))}, reps=1)
        _print_probe(f"Inference A, {len(X)} windows, 1 thread", res, unit="ms per 7752 windows")
    elif name == "rows":
        import seqae._runtime as runtime

        def scoring(rows):
            def run():
                runtime.INFERENCE_ROWS = rows                  # a benchmark knob, restored below
                ae.reconstruction_error(X)
            return run

        default = runtime.INFERENCE_ROWS
        ae = _quick_fit("I", X).set_params(num_threads=None)    # keep each variant's thread count
        for threads in (1, 2):
            res = _interleave({f"{rows} rows": (threads, scoring(rows)) for rows in (256, 512, 1024, 2048)}, reps=2)
            _print_probe(f"Rows per inference batch, reconstruction_error of {len(X)} windows, {threads} thread(s)",
                         res, unit="ms per 7752 windows")
        runtime.INFERENCE_ROWS = default
    elif name == "compile":
        torch.set_num_threads(1)
        compiled = _train_step("A", compiled=True, fused=True)
        for label, kw in (("first step (compiles)", {}), ("new length 25 (recompiles)", {"t": 25}),
                          ("new batch 17 x length 40", {"t": 40, "n": 17})):
            w = time.perf_counter()
            compiled(**kw)
            print(f"  torch.compile {label}: {time.perf_counter() - w:.1f} s")
        _print_probe("torch.compile of the module, training step A, 1 thread",
                     _interleave({"eager": (1, _train_step("A", fused=True)), "torch.compile": (1, compiled)},
                                 reps=20))
    elif name == "lstm":
        def layer(i, h, t=180):
            lstm, x = nn.LSTM(i, h, batch_first=True), torch.randn(32, t, i)
            return lambda: lstm(x)[0].sum().backward()
        _print_probe("LSTM layers of case C, forward + backward, batch 32 x 180 steps, 1 thread",
                     _interleave({"encoder LSTM(8 -> 100)": (1, layer(8, 100)),
                                  "seqae decoder LSTM(100 -> 100)": (1, layer(100, 100)),
                                  "Keras's decoder LSTM(100 -> 8)": (1, layer(100, 8))}, reps=2))
    elif name == "fused":
        from seqae.nn.fused_lstm import fused_lstm_available, run_lstm
        if not fused_lstm_available():
            print("  the fused kernel is not available here (see the warning above)")
            return

        def pair(n, t, i, h, train):
            lstm, x = nn.LSTM(i, h, batch_first=True), torch.randn(n, t, i, requires_grad=train)
            if train:
                return (1, lambda: lstm(x)[0].sum().backward()), (1, lambda: run_lstm(lstm, x)[0].sum().backward())
            return (1, torch.inference_mode()(lambda: lstm(x))), (1, torch.inference_mode()(lambda: run_lstm(lstm, x)))

        for title, n, t, i, h, train, reps in (
                ("A encoder LSTM(1 -> 32), batch 32 x 30, forward + backward", 32, 30, 1, 32, True, 50),
                ("A decoder LSTM(32 -> 32), batch 32 x 30, forward + backward", 32, 30, 32, 32, True, 50),
                ("C encoder LSTM(8 -> 100), batch 32 x 180, forward + backward", 32, 180, 8, 100, True, 3),
                ("C decoder LSTM(100 -> 8), batch 32 x 180, forward + backward", 32, 180, 100, 8, True, 10),
                ("inference LSTM(1 -> 32), batch 1024 x 30, forward", 1024, 30, 1, 32, False, 5)):
            torch_lstm, fused = pair(n, t, i, h, train)
            _print_probe(title + ", 1 thread", _interleave({"nn.LSTM (oneDNN)": torch_lstm,
                                                            "seqae fused kernel": fused}, reps=reps))
        # The input projection's weight gradient, C's encoder (32 x 180 rows, 8 features, 400 gates).
        g, x = torch.randn(32 * 180, 400), torch.randn(32 * 180, 8)
        _print_probe("Weight gradient of the input projection, (5760 x 8) inputs, 400 gates, 1 thread",
                     _interleave({"g^T x (torch's linear backward)": (1, lambda: g.t() @ x),
                                  "(x^T g)^T (seqae's InputProjection)": (1, lambda: (x.t() @ g).t())}, reps=20))
    else:
        raise ValueError(name)


# ---------------------------------------------------------------------------------------------- parent
def _find_keras_python(explicit: str | None) -> str | None:
    candidates = [explicit] if explicit else [sys.executable, str(ROOT / ".venv-bench" / "bin" / "python")]
    for py in candidates:
        if not py or not Path(py).exists():
            continue
        if py == sys.executable and importlib.util.find_spec("tensorflow") is not None:
            return py
        ok = subprocess.run([py, "-c", "import importlib.util as u, sys; "
                                       "sys.exit(u.find_spec('tensorflow') is None or u.find_spec('keras') is None)"],
                            capture_output=True).returncode == 0
        if ok:
            return py
    return None


def _busy_cpu_seconds() -> float | None:
    """CPU seconds all processes of the machine have used since boot (/proc/stat), None where unavailable."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)             # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")            # user..steal, guest is inside user


def _children_cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run_child(cmd: list[str], out: Path, timeout: float, label: str) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    started = time.perf_counter()
    busy0, own0 = _busy_cpu_seconds(), _children_cpu_seconds()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if out.exists():
        result = json.loads(out.read_text())
    else:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        result = {"error": f"exit {proc.returncode}: " + " | ".join(tail)[:300]}
    result["child_seconds"] = time.perf_counter() - started
    # CPU used by other processes on the machine while the child ran, in cores: the figures are only as clean as
    # this is small (other jobs on 2 cores slow PyTorch's OpenMP threads far more than their share).
    busy, own = _busy_cpu_seconds() - busy0, _children_cpu_seconds() - own0
    result["others_cores"] = max(0.0, busy - own) / max(result["child_seconds"], 1e-9) if busy0 is not None else None
    print(f"  {label}: {result['child_seconds']:.1f} s, other processes used "
          f"{_fmt(result['others_cores'], '.2f')} cores" + (f"  ERROR {result['error']}" if "error" in result else ""),
          file=sys.stderr, flush=True)
    return result


def _median_after_warmup(values: list[float]) -> float:
    return statistics.median(values[1:] if len(values) > 1 else values)


def _pooled(children: list[dict], case: str) -> dict:
    """One result from the children of every round: the training epochs after each child's own warm-up pooled
    (the first kept in front as the one warm-up that the summary drops), the inference repeats pooled, the
    largest peak memory and the most CPU that other processes took. Also each child's own median, for the notes."""
    if len(children) == 1:
        return children[0]
    failed = [c for c in children if c.get("error")]
    if failed:
        return failed[0]
    merged = dict(children[0])
    if case in ("A", "B", "C", "S"):
        for key in ("wall", "cpu"):
            merged[key] = children[0][key][:1] + [v for c in children for v in c[key][1:]]
        merged["round_medians"] = [_median_after_warmup(c["wall"]) for c in children]
    else:                                                            # case I: repeats after a warm-up each
        for key in ("wall", "cpu"):
            merged[key] = [v for c in children for v in c[key]]
        merged["round_medians"] = [c["windows"] / statistics.median(c["wall"]) for c in children]
        merged["rss_before_mb"] = min(c["rss_before_mb"] for c in children)
    merged["peak_rss_mb"] = max(c.get("peak_rss_mb", 0.0) for c in children)
    others = [c["others_cores"] for c in children if c.get("others_cores") is not None]
    merged["others_cores"] = max(others) if others else None
    merged["rounds"] = len(children)
    return merged


def run_all(args) -> dict:
    size = "quick" if args.quick else "full"
    epochs = args.epochs or SIZES[size]["epochs"]
    repeats = SIZES[size]["repeats"]
    rounds = args.rounds or (1 if args.quick else 3)
    keras_py = None if args.no_keras else _find_keras_python(args.keras_python)
    if not args.no_keras and keras_py is None:
        print("TensorFlow/Keras not found (run benchmarks/perf_setup.sh): running seqae alone", file=sys.stderr)
    children: dict[str, dict[str, list[dict]]] = {}
    with tempfile.TemporaryDirectory(prefix="seqae-perf-") as tmp:
        tmpdir = Path(tmp)
        for case in args.only:
            data = make_data(case, size)
            data_path = tmpdir / f"{case}.npz"
            np.savez(data_path, **data)
            children[case] = {}
            runs = []   # (label, command, output) of each child of one round
            # seqae's defaults (num_threads="auto": one thread to train, torch's count, one per core, to score)
            # are "seqae"; explicit thread counts (LSTMAutoencoder(num_threads=N)) run the cases that have Keras
            # twins as "seqae-Nt", except one thread for training, which is what "auto" trains with.
            for threads in args.seqae_threads:
                if threads != "auto" and case in ("S", "L", "D"):
                    continue
                if threads == 1 and case != "I" and "auto" in args.seqae_threads:
                    continue
                label = "seqae" if threads == "auto" else f"seqae-{threads}t"
                out = tmpdir / f"{case}-{label}.json"
                runs.append((label, [sys.executable, str(Path(__file__).resolve()), "--child", "--case", case,
                                     "--data", str(data_path), "--out", str(out), "--epochs", str(epochs),
                                     "--repeats", str(repeats), "--size", size, "--seqae-threads", str(threads),
                                     "--device", args.device]
                             + (["--torch-threads", str(args.torch_threads)] if args.torch_threads else []), out))
            if keras_py is not None and case not in ("L", "D"):
                variants = [("keras", False), ("keras-xla", True)]
                if case == "S" and not args.quick:
                    variants = variants[:1]        # XLA does not change what padding costs; saves minutes
                for name, jit in variants:
                    out = tmpdir / f"{case}-{name}.json"
                    runs.append((name, [keras_py, str(KERAS_SCRIPT), "--task", "infer" if case == "I" else "train",
                                        "--case", "A" if case == "I" else case, "--data", str(data_path), "--out",
                                        str(out), "--epochs", str(epochs), "--repeats", str(repeats),
                                        "--batch-size", str(INFER_BATCH if case == "I" else 32)]
                                 + (["--jit"] if jit else []), out))
            # Rounds: every child again, seqae's first in even rounds and Keras's first in odd ones, so that a slow
            # phase of a shared machine (they last minutes) falls on both frameworks; L and D have no twin to
            # compare with and run once.
            case_rounds = 1 if case in ("L", "D") else rounds
            for r in range(case_rounds):
                print(case_name(case, size) + (f", round {r + 1} of {case_rounds}" if case_rounds > 1 else ""),
                      file=sys.stderr, flush=True)
                for label, cmd, out in (runs if r % 2 == 0 else runs[::-1]):
                    out.unlink(missing_ok=True)
                    children[case].setdefault(label, []).append(_run_child(cmd, out, args.timeout, label))
    results = {case: {label: _pooled(kids, case) for label, kids in by_label.items()}
               for case, by_label in children.items()}
    return {"results": results, "size": size, "epochs": epochs, "repeats": repeats, "keras_python": keras_py,
            "device": args.device, "rounds": rounds}


# ---------------------------------------------------------------------------------------------- report
def _fmt(v, spec=".2f", none="–"):
    return none if v is None else format(v, spec)


def _real_steps(case: str, size: str) -> int:
    d = make_data(case, size)
    return int(d["lengths"].sum()) if "lengths" in d else int(d["x"].shape[0] * d["x"].shape[1])


def summarise(run: dict) -> tuple[list[list[str]], list[str]]:
    """Table rows and target verdicts."""
    res, size = run["results"], run["size"]
    rows, verdicts = [], []
    train_stats: dict[str, dict[str, tuple[float, float]]] = {}
    for case, by_fw in res.items():
        for fw, r in by_fw.items():
            others = _fmt(r.get("others_cores"), ".2f")
            rss = _fmt(r.get("peak_rss_mb"), ".0f")
            if r.get("error"):
                rows.append([case_name(case, size), fw, "–", "–", "–", rss, others, "", f"error: {r['error']}"])
            elif case in ("A", "B", "C", "S"):
                w, c = _median_after_warmup(r["wall"]), _median_after_warmup(r["cpu"])
                train_stats.setdefault(case, {})[fw] = (w, c)
                rounds = " / ".join(f"{m:.2f}" for m in r.get("round_medians", []))
                note = "; ".join(x for x in (r.get("note", ""), f"rounds {rounds}" if rounds else "") if x)
                rows.append([case_name(case, size), fw, _fmt(w), _fmt(c), "", rss, others, "", note])
            elif case == "I":
                ws = r["windows"] / statistics.median(r["wall"])
                wc = r["windows"] / statistics.median(r["cpu"])
                r["windows_per_s"], r["windows_per_cpu_s"] = ws, wc
                rounds = " / ".join(f"{m / 1000:,.0f}k" for m in r.get("round_medians", []))
                note = f"RSS before scoring {r['rss_before_mb']:.0f} MB" + (f"; rounds {rounds}" if rounds else "")
                rows.append([case_name(case, size), fw, "", "", f"{ws:,.0f} win/s ({wc:,.0f}/CPU-s)", rss, others, "",
                             note])
            elif case == "D":
                rows.append([case_name(case, size), fw, "", "",
                             f"fit {r['fit_s']:.1f} s ({r['epochs']} epochs, {r['stop_reason']}), "
                             f"score {r['score_s']:.1f} s", rss, others, "", "defaults, random_state=0"])
            elif case == "L":
                for s in r["strides"]:
                    grow = s["rss_after_mb"] - s["rss_before_mb"]
                    rows.append([f"{case_name(case, size)}, stride {s['stride']}", fw, "", "",
                                 f"{s['points'] / s['wall']:,.0f} points/s ({s['windows'] / s['wall']:,.0f} win/s)",
                                 _fmt(s["rss_after_mb"], ".0f"), others, "",
                                 f"peak grew {grow:.0f} MB while scoring"])

    def best_keras(case, by=0):
        """Keras's fastest variant by wall (by=0) or CPU (by=1) time: (name, (wall, cpu))."""
        st = train_stats.get(case, {})
        ks = {k: v for k, v in st.items() if k.startswith("keras")}
        if not ks:
            return None, None
        name = min(ks, key=lambda k: ks[k][by])
        return name, ks[name]

    # Ratios to Keras's best in the table, and the targets.
    for row in rows:
        case = row[0][0]
        fw = row[1]
        if case in ("A", "B", "C", "S") and fw.startswith("seqae") and fw in train_stats.get(case, {}):
            name, kb = best_keras(case)
            cname, kc = best_keras(case, by=1)
            if kb:
                sw, sc = train_stats[case][fw]
                row[7] = f"{sw / kb[0]:.2f}x wall of {name}, {sc / kc[1]:.2f}x CPU of {cname}"
    seqae_labels = sorted({fw for by_fw in res.values() for fw in by_fw if fw.startswith("seqae")},
                          key=lambda fw: (fw != "seqae", fw))
    for (case, limit), fw in itertools.product((("A", 1 / 3), ("C", 1 / 8)), seqae_labels):
        name, kb = best_keras(case)
        cname, kc = best_keras(case, by=1)
        st = train_stats.get(case, {}).get(fw)
        if st and kb:
            rw, rc = st[0] / kb[0], st[1] / kc[1]
            met = lambda r: f"{'MET' if r <= limit else 'MISSED'} ({r / limit:.2f}x the target)"  # noqa: E731
            verdicts.append(f"Training {case}: {fw} {st[0]:.2f} s/epoch wall, {st[1]:.2f} s CPU = {rw:.3f}x the wall "
                            f"and {rc:.3f}x the CPU time of Keras's best ({name}: {kb[0]:.2f} s wall; {cname}: {kc[1]:.2f} s "
                            f"CPU); target <= {limit:.3f}x: wall {met(rw)}, CPU {met(rc)}.")
        elif st:
            verdicts.append(f"Training {case}: {fw} {st[0]:.2f} s/epoch; no Keras figure to compare.")
    if "S" in train_stats and "seqae" in train_stats["S"] and "C" in train_stats and "seqae" in train_stats["C"]:
        steps_s, steps_c = _real_steps("S", size), _real_steps("C", size)
        d = make_data("S", size)
        padded = d["x"].shape[0] * d["x"].shape[1]
        per_s = train_stats["S"]["seqae"][0] / steps_s
        per_c = train_stats["C"]["seqae"][0] / steps_c
        ratio = per_s / per_c
        verdicts.append(
            f"Skewed lengths (S): {steps_s:,} real steps, {padded:,} if padded to the longest "
            f"({padded / steps_s:.1f}x); seqae costs {per_s * 1e6:.1f} us per real step vs {per_c * 1e6:.1f} in C "
            f"(uniform lengths): {ratio:.2f}x. Target 'costs about its real steps' (<= 2x C's cost per real step, "
            f"where padding to the longest would be ~{padded / steps_s:.0f}x): {'MET' if ratio <= 2 else 'MISSED'}.")
        name, kb = best_keras("S")
        if kb:
            verdicts.append(f"  Keras on S (pads to the longest): {kb[0]:.2f} s/epoch, seqae "
                            f"{train_stats['S']['seqae'][0]:.2f} s ({train_stats['S']['seqae'][0] / kb[0]:.3f}x).")
    for fw in seqae_labels if "I" in res else ():
        s = res["I"].get(fw, {})
        ks = {k: v for k, v in res["I"].items() if k.startswith("keras") and "windows_per_s" in v}
        if "windows_per_s" in s and ks:
            name = max(ks, key=lambda k: ks[k]["windows_per_s"])
            cname = max(ks, key=lambda k: ks[k]["windows_per_cpu_s"])
            ratio = s["windows_per_s"] / ks[name]["windows_per_s"]
            cratio = s["windows_per_cpu_s"] / ks[cname]["windows_per_cpu_s"]
            kmem = min(v["peak_rss_mb"] for v in ks.values())
            verdicts.append(f"Inference A: {fw} {s['windows_per_s']:,.0f} windows/s ({s['windows_per_cpu_s']:,.0f} per "
                            f"CPU-s) = {ratio:.2f}x Keras's best by wall ({name}, {ks[name]['windows_per_s']:,.0f}) "
                            f"and {cratio:.2f}x by CPU ({cname}, {ks[cname]['windows_per_cpu_s']:,.0f}); target >= 4x: "
                            f"wall {'MET' if ratio >= 4 else 'MISSED'}, CPU {'MET' if cratio >= 4 else 'MISSED'}. "
                            f"Peak RSS {s['peak_rss_mb']:.0f} MB vs Keras's lowest {kmem:.0f} MB: "
                            f"{'MET' if s['peak_rss_mb'] <= kmem else 'MISSED'}.")
        elif "windows_per_s" in s:
            verdicts.append(f"Inference A: {fw} {s['windows_per_s']:,.0f} windows/s; no Keras figure to compare.")
    if "L" in res and "strides" in res["L"].get("seqae", {}):
        r = res["L"]["seqae"]
        s1 = r["strides"][0]
        grow = s1["rss_after_mb"] - s1["rss_before_mb"]
        bounded = grow <= 0.25 * r["all_windows_mb"]
        speeds = ", ".join(f"stride {s['stride']}: {s['points'] / s['wall']:,.0f} points/s" for s in r["strides"])
        verdict = "n/a in --quick (the series is too short to tell)" if size == "quick" else \
            ("MET" if bounded else "MISSED")
        verdicts.append(f"Long series ({s1['points']:,} points, window {r['window']}, via {r['api']}): {speeds}. "
                        f"Peak memory grew {grow:.0f} MB at stride {s1['stride']}, where all windows at once would "
                        f"take {r['all_windows_mb']:.0f} MB (target: growth <= 1/4 of that): bounded {verdict}.")
    d = res.get("D", {}).get("seqae", {})
    if "fit_s" in d:
        total = d["fit_s"] + d["score_s"]
        verdicts.append(f"Default settings, {d['points']:,}-point series: fit {d['fit_s']:.1f} s ({d['epochs']} epochs, "
                        f"{d['stop_reason']}) + scoring every point {d['score_s']:.1f} s = {total:.1f} s; target "
                        f"'seconds to a few minutes' (<= 300 s): {'MET' if total <= 300 else 'MISSED'}.")
    return rows, verdicts


HEADER = ["case", "framework", "s/epoch wall", "s/epoch CPU", "throughput", "peak RSS MB", "others' CPU (cores)",
          "vs Keras best", "notes"]


def render(rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADER)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)])


def machine_info(run: dict) -> list[str]:
    import torch
    cpu = "unknown"
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for by_fw in run["results"].values():
        for r in by_fw.values():
            versions.update({k: v for k, v in r.get("versions", {}).items() if k not in versions})
    threads = {fw: r.get("threads") for by_fw in run["results"].values() for fw, r in by_fw.items() if r.get("threads")}
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [f"- Date: {_dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
            f"- Machine: {ncpu} CPUs available (nproc), {cpu}, {platform.system()} {platform.release()}",
            f"- Python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
            f"TensorFlow {versions.get('tensorflow', 'not run')}, Keras {versions.get('keras', 'not run')}",
            f"- seqae device: {run.get('device', 'cpu')} (Keras: CPU)",
            f"- Threads (intra-op/inter-op; 0 = TensorFlow's default, one per core; seqae: its num_threads): "
            + ", ".join(f"{fw} {t['intra_op']}/{t['inter_op']}" for fw, t in threads.items()),
            f"- Sizes: {run['size']}; {run['epochs']} epochs per training run, the first a warm-up, median of the "
            f"rest; inference: median of {run['repeats']} after a warm-up",
            f"- Rounds: {run.get('rounds', 1)}: each child of cases A, B, C, S and I ran {run.get('rounds', 1)} "
            "times, seqae's and Keras's in turn first; a figure is the median over the epochs (repeats) of all its "
            "rounds, the medians of single rounds are in the notes column",
            f"- Keras interpreter: {_relative(run['keras_python']) if run['keras_python'] else 'none (seqae alone)'}"]


def _relative(path: str) -> str:
    """A path inside the repository, relative to it (no machine-specific prefix in the report)."""
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return path


def _thread_counts(text: str) -> list[int | str]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(p == "auto" or (p.isdigit() and int(p) >= 1) for p in parts):
        raise argparse.ArgumentTypeError(f"expected 'auto' and thread counts >= 1 such as auto,1,2; got {text!r}")
    return [p if p == "auto" else int(p) for p in parts]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="seqae vs Keras speed and memory on the CPU (issue #5)")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke test in seconds")
    p.add_argument("--only", default=",".join(ALL_CASES), help=f"comma-separated cases from {','.join(ALL_CASES)}")
    p.add_argument("--no-keras", action="store_true", help="run seqae only")
    p.add_argument("--keras-python", help="interpreter with TensorFlow and Keras (default: auto)")
    p.add_argument("--epochs", type=int, help="epochs per training run, the first being a warm-up")
    p.add_argument("--rounds", type=int, help="times each child of cases A, B, C, S and I runs, the frameworks "
                   "in turn first; figures pool all rounds (default 3, 1 with --quick)")
    p.add_argument("--seqae-threads", type=_thread_counts, default=["auto", 1, 2], metavar="N[,N]",
                   help="LSTMAutoencoder(num_threads=N) for each N: 'auto' (the default, row 'seqae': one thread "
                        "to train, torch's count to score) and counts (rows 'seqae-Nt'; one thread only for "
                        "scoring when 'auto' is there) (default: auto,1,2)")
    p.add_argument("--device", default="cpu", help="seqae's device for cases A, B, C, S and I: 'cpu' (default) or "
                   "'cuda' (Keras stays on the CPU: tensorflow-cpu; case L runs on the CPU)")
    p.add_argument("--torch-threads", type=int, help="torch.set_num_threads in seqae's child before anything "
                                                       "runs (default: torch's own, one per core)")
    p.add_argument("--probe", choices=PROBES, help="time one investigation of issue #5 in this process instead")
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed per child process")
    p.add_argument("--output", help="markdown report (default: benchmarks/results/perf.md for a full run of all "
                                    "cases; none otherwise)")
    # child mode (internal)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int, default=5, help=argparse.SUPPRESS)
    p.add_argument("--size", default="full", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        if args.epochs is None:
            args.epochs = SIZES[args.size]["epochs"]
        return seqae_child(args)

    if args.probe:
        run_probe(args.probe)
        return 0
    only = [c.strip().upper() for c in args.only.split(",") if c.strip()]
    bad = [c for c in only if c not in ALL_CASES]
    if bad or not only:
        p.error(f"--only takes letters from {','.join(ALL_CASES)}, got {args.only!r}")
    args.only = [c for c in ALL_CASES if c in only]
    command = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.executable, Path.cwd())
                                                  if sys.executable.startswith(str(Path.cwd())) else sys.executable,
                                                  os.path.relpath(__file__, Path.cwd()), *(argv or sys.argv[1:])])
    started = time.perf_counter()
    run = run_all(args)
    rows, verdicts = summarise(run)
    table = render(rows)
    print(table)
    print()
    for v in verdicts:
        print(v)
    print(f"\n({time.perf_counter() - started:.0f} s in all)")
    output = args.output or (str(DEFAULT_OUTPUT) if not args.quick and args.only == list(ALL_CASES) else None)
    if output:
        text = "\n".join([
            "# seqae vs Keras on the CPU: speed and memory (issue #5)", "",
            f"Made by `{command}` (benchmarks/perf.py; models in benchmarks/keras_reference.py).", "",
            *machine_info(run), "",
            "Training figures are seconds per epoch, median after a warm-up epoch, wall and CPU (all threads of "
            "the child process), pooled over the rounds. Each (case, framework) ran in a child process of its own "
            "in every round; peak RSS is the largest ru_maxrss of those children (framework, data and model "
            "included). `keras` is Keras's default on a CPU "
            "(`jit_compile='auto'` resolves to no XLA there); `keras-xla` is `jit_compile=True`.", "",
            table, "", "## Targets", "", *[f"- {v}" if not v.startswith("  ") else f"  {v.strip()}"
                                           for v in verdicts], ""])
        out_path = Path(output)
        if out_path.exists() and NOTES_MARKER in out_path.read_text():     # hand-written notes survive a re-run
            text += "\n" + NOTES_MARKER + out_path.read_text().split(NOTES_MARKER, 1)[1]
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(text)
        print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
