#!/usr/bin/env python
"""Sequence embeddings on UEA/UCR classification sets (issues #4, #16): seqae against unsupervised baselines.

Rows: "default" is ``LSTMAutoencoder(random_state=seed)`` with no per-set tuning; every other seqae row changes
one thing (``VARIANTS``), "before16" is the default before issue #16, "untrained" a control. Peers that need
packages not installed here (aeon, ts2vec) are shown from shared/reference/peers_UEA.md, labelled "(reference)".

Protocol, the same for every representation:

1. fit the representation on the train split WITHOUT labels;
2. embed train and test;
3. on the standardised train embeddings, fit a linear SVM (``LinearSVC``, C by 5-fold stratified CV on train)
   and an RBF SVM (``SVC``, C and gamma by the same CV); report test accuracy.

Nothing is chosen on the test split. Baselines run in the same script and on the same splits when their
packages are installed (see below): raw series (zero-padded, flattened, standardised; through the same two SVMs,
so its figure can differ from the reference's LinearSVC-only one),
1-NN DTW (aeon, full window, unequal lengths natively), MiniRocket + RidgeClassifierCV (aeon, unequal lengths
zero-padded to the longest train/test length, as in shared/reference/peers_UEA.md), and TS2Vec (the authors'
PyPI package ``ts2vec``, 320-dim full-series encoding, RBF SVM) when importable. For MiniRocket and TS2Vec the
SVM columns are reported as well (for MiniRocket only with ``--minirocket-svm``: LinearSVC on its ~10,000
features costs minutes per set), so every representation can be read through the same classifiers.

Environment (the baselines' packages stay out of seqae's own venv)::

    python3.11 -m venv .venv-uea && .venv-uea/bin/pip install torch==2.13.0   # CPU wheel first
    .venv-uea/bin/pip install -e . aeon==1.6.0

Examples::

    .venv-uea/bin/python benchmarks/uea.py                       # everything, one seed, writes results/uea.md
    .venv-uea/bin/python benchmarks/uea.py --seeds 3             # mean over seeds 0, 1, 2
    .venv/bin/python benchmarks/uea.py --sets GunPoint --variants default,before16 --quick --no-write
    PYTHONPATH=src .venv/bin/python benchmarks/uea.py --variants default,before16 --baselines raw --seeds 3 \
        --threads 1        # the summary's default row (issue #16)
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SETS = ["JapaneseVowels", "BasicMotions", "GunPoint", "ArrowHead", "ItalyPowerDemand"]
RESULTS = Path(__file__).resolve().parent / "results"

# ------------------------------------------------------------------------------------------ seqae variants
# "default" is LSTMAutoencoder(random_state=seed): the library's defaults, no per-set tuning. Every other row
# changes one thing against it (issue #16: one row per idea), or is the configuration before issue #16.
QUICK_STEPS = 100


def seqae_variants() -> dict[str, Callable[[int, bool], object]]:
    from seqae import LSTMAutoencoder
    from seqae.autoencoder import PARAMS_BEFORE_ISSUE_16

    def ae(**change):
        def make(seed: int, quick: bool):
            params = dict(change)
            if quick:
                params.update(epochs=5, min_steps=QUICK_STEPS)
            return LSTMAutoencoder(**params, random_state=seed)
        return make

    def with_differences(seed: int, quick: bool):
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer
        return make_pipeline(FunctionTransformer(add_differences), ae()(seed, quick))

    def two_seeds(seed: int, quick: bool):
        from sklearn.pipeline import make_union
        return make_union(ae()(seed, quick), ae()(seed + 1000, quick))

    return {name: ae(**change) for name, change in VARIANTS.items()} | {
        "before16": ae(**PARAMS_BEFORE_ISSUE_16), "default+diff": with_differences, "default-x2": two_seeds}


def add_differences(X: list) -> list:
    """Each (T, F) sequence with its first differences beside it, (T, 2F); 0 at the first step."""
    return [np.concatenate([x, np.diff(x, axis=0, prepend=x[:1])], axis=1) for x in X]


# name -> parameters given to LSTMAutoencoder besides random_state. "default" passes none. The idea rows are
# measured against STAGE1, the default as it was before crops, masking and the 64-value latent were adopted
# (the step budget and the multi-scale read-out alone), each changing one thing.
STAGE1 = dict(min_crop=1.0, mask_fraction=0.0, latent_dim=16)
VARIANTS = {
    "default": {},
    "stage1": STAGE1,
    "epoch-rule": {**STAGE1, "min_steps": None, "lr_schedule": "constant"},
    "pooled": {**STAGE1, "embedding": "pooled"},
    "latent-only": {**STAGE1, "embedding": "latent"},
    "latent-64": {**STAGE1, "latent_dim": 64},
    "hidden-128": {**STAGE1, "hidden_size": 128},
    "bidirectional": {**STAGE1, "bidirectional": True},
    "crop": {**STAGE1, "min_crop": 0.5},
    "mask": {**STAGE1, "mask_fraction": 0.25},
    "contrastive": {**STAGE1, "contrastive_weight": 1.0},
    "default+contrastive": {"contrastive_weight": 1.0},
    # Candidates for the default, each against it (chosen by train CV, see results/uea.md).
    "default-crop0.8": {"min_crop": 0.8},
    "default-nomask": {"mask_fraction": 0.0},
    "default-nocrop": {"min_crop": 1.0},
    "default-epoch-rule": {"min_steps": None, "lr_schedule": "constant"},
    "default-2layers": {"num_layers": 2},
    "default+contrastive0.2": {"contrastive_weight": 0.2},
    # Control: one optimiser step, i.e. a random LSTM read out the default way: what does training add?
    "untrained": {**STAGE1, "epochs": 1, "min_steps": 1},
}

VARIANT_LABELS = {
    "default": "**seqae default** `LSTMAutoencoder(random_state=s)`",
    "before16": "seqae default before #16 (epoch rule, constant LR, 16-value latent only)",
    "stage1": "stage 1: step budget + cosine LR + multi-scale read-out (`min_crop=1, mask_fraction=0, latent_dim=16`)",
    "epoch-rule": "stage 1, but the epoch rule (`min_steps=None, lr_schedule='constant'`)",
    "pooled": "stage 1, but `embedding='pooled'` (latent + last/mean/max of the top layer)",
    "latent-only": "stage 1, but `embedding='latent'` (16 values)",
    "latent-64": "stage 1 + `latent_dim=64`",
    "hidden-128": "stage 1 + `hidden_size=128`",
    "bidirectional": "stage 1 + `bidirectional=True`",
    "crop": "stage 1 + random crops `min_crop=0.5`",
    "mask": "stage 1 + masked steps `mask_fraction=0.25`",
    "contrastive": "stage 1 + contrastive term `contrastive_weight=1.0`",
    "default+contrastive": "default + contrastive term `contrastive_weight=1.0`",
    "default-crop0.8": "default, but `min_crop=0.8`",
    "default-nomask": "default, but `mask_fraction=0` (crops only)",
    "default-nocrop": "default, but `min_crop=1` (masked steps only)",
    "default-epoch-rule": "default, but the epoch rule (`min_steps=None, lr_schedule='constant'`)",
    "default-2layers": "default + a second LSTM layer (`num_layers=2`; both layers read out)",
    "default+contrastive0.2": "default + contrastive term `contrastive_weight=0.2`",
    "default+diff": "default on each sequence with its first differences as further features",
    "default-x2": "two defaults (seeds s and s + 1000), their embeddings side by side",
    "untrained": "control: stage 1 after one optimiser step (`epochs=1, min_steps=1`)",
    # Rows of earlier code (git history), named in the notes of results/uea.md; no parameter reproduces them.
    "default-nostd": "default without the read-out's standard deviation (commit 576d446; AMD EPYC, 2026-12-07)",
    "default-1204": "default of 2026-12-04: no crop floor, no standard deviation (commit befbf0e; AMD EPYC, "
                    "2026-12-07; the floor changes only sequences under 64 steps)",
    "default-1204-xeon": "default of 2026-12-04 as measured that day (run9; Intel Xeon)",
    "raw": "raw: zero-pad, flatten (measured here)",
    "dtw": "1-NN DTW (aeon, full window)",
    "minirocket": "MiniRocket (aeon)",
    "ts2vec": "TS2Vec (ts2vec package)",
}
# Peer figures from shared/reference/peers_UEA.md (aeon 1.6.0 and ts2vec 0.1 run side by side on 2026-11-22),
# used where those packages are not installed here: raw padded + LinearSVC, 1-NN DTW, MiniRocket + ridge,
# TS2Vec + RBF SVM.
REFERENCE = {
    "raw (reference)": dict(JapaneseVowels=0.946, BasicMotions=0.775, GunPoint=0.893, ArrowHead=0.669,
                            ItalyPowerDemand=0.966),
    "1-NN DTW (reference)": dict(JapaneseVowels=0.949, BasicMotions=0.975, GunPoint=0.907, ArrowHead=0.703,
                                 ItalyPowerDemand=0.950),
    "TS2Vec + SVM (reference)": dict(JapaneseVowels=0.984, BasicMotions=0.975, GunPoint=0.980, ArrowHead=0.846,
                                     ItalyPowerDemand=0.956),
    "MiniRocket + ridge (reference)": dict(JapaneseVowels=0.989, BasicMotions=1.000, GunPoint=0.993,
                                           ArrowHead=0.851, ItalyPowerDemand=0.964),
}
BASELINES = ["raw", "dtw", "minirocket", "ts2vec"]
MINIROCKET_SVM = False  # --minirocket-svm
CONTROLS = {"untrained", "before16"}  # not seqae candidates  # reported, but not counted as "seqae" in the per-set comparison


# ------------------------------------------------------------------------------------------------ helpers
@dataclass
class Result:
    set: str
    method: str
    seed: int
    linear: float = float("nan")      # test accuracy, linear SVM (raw) / 1-NN (dtw) / ridge (minirocket) ...
    rbf: float = float("nan")         # test accuracy, RBF SVM
    other: float = float("nan")       # the baseline's own classifier (1-NN for DTW, ridge for MiniRocket)
    linear_cv: float = float("nan")   # best 5-fold CV accuracy on train (what chose C)
    rbf_cv: float = float("nan")
    dim: int = 0
    fit_s: float = float("nan")       # representation fit on train (no labels)
    embed_s: float = float("nan")     # embedding train + test
    notes: dict = field(default_factory=dict)


def zero_pad(X: list[np.ndarray], length: int) -> np.ndarray:
    """(T_i, F) arrays -> (N, length, F), zeros after the end (sequences longer than ``length`` are cut)."""
    out = np.zeros((len(X), length, X[0].shape[1]), dtype=np.float32)
    for i, x in enumerate(X):
        n = min(len(x), length)
        out[i, :n] = x[:n]
    return out


def to_aeon(X: list[np.ndarray]):
    """aeon's collection formats: (N, C, T) when lengths are equal, else a list of (C, T_i)."""
    if len({len(x) for x in X}) == 1:
        return np.stack([x.T for x in X]).astype(np.float64)
    return [np.ascontiguousarray(x.T, dtype=np.float64) for x in X]


def svm_scores(Z_train, y_train, Z_test, y_test, quick: bool) -> dict:
    """Linear and RBF SVMs on standardised embeddings, hyper-parameters by 5-fold CV on train only."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, LinearSVC

    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    Cs = np.logspace(-4, 2, 4 if quick else 7)
    linear = GridSearchCV(make_pipeline(StandardScaler(), LinearSVC(max_iter=50_000)), {"linearsvc__C": Cs}, cv=cv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at large C on separable data
        linear.fit(Z_train, y_train)
    d = Z_train.shape[1]
    gammas = [0.1 / d, 1.0 / d, 10.0 / d] if not quick else [1.0 / d]  # 1/d is "scale" after standardisation
    rbf = GridSearchCV(make_pipeline(StandardScaler(), SVC(kernel="rbf")),
                       {"svc__C": np.logspace(-1, 3, 3 if quick else 5), "svc__gamma": gammas}, cv=cv)
    rbf.fit(Z_train, y_train)
    return dict(linear=linear.score(Z_test, y_test), rbf=rbf.score(Z_test, y_test),
                linear_cv=linear.best_score_, rbf_cv=rbf.best_score_, dim=d)


# ------------------------------------------------------------------------------------------------- methods
def run_transformer(name, make, train, test, seed, quick) -> Result:
    model = make(seed, quick)
    t0 = time.perf_counter()
    model.fit(train.X)
    t1 = time.perf_counter()
    Z_train, Z_test = model.transform(train.X), model.transform(test.X)
    t2 = time.perf_counter()
    r = Result(set="", method=name, seed=seed, fit_s=t1 - t0, embed_s=t2 - t1)
    for k, v in svm_scores(Z_train, train.y, Z_test, test.y, quick).items():
        setattr(r, k, v)
    if hasattr(model, "steps"):                       # a pipeline: its last step is the autoencoder
        model = model.steps[-1][1]
    fitted = [m for _, m in model.transformer_list] if hasattr(model, "transformer_list") \
        else getattr(model, "autoencoders_", [model])
    r.notes["epochs"] = "/".join(str(m.n_epochs_) for m in fitted)
    r.notes["stop"] = "/".join(m.stop_reason_ for m in fitted)
    return r


def run_raw(train, test, seed, quick) -> Result:
    length = max(len(x) for x in train.X + test.X)
    t0 = time.perf_counter()
    Z_train = zero_pad(train.X, length).reshape(len(train.X), -1)
    Z_test = zero_pad(test.X, length).reshape(len(test.X), -1)
    r = Result(set="", method="raw", seed=seed, fit_s=0.0, embed_s=time.perf_counter() - t0)
    for k, v in svm_scores(Z_train, train.y, Z_test, test.y, quick).items():
        setattr(r, k, v)
    return r


def run_dtw(train, test, seed, quick) -> Result:
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    t0 = time.perf_counter()
    clf = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw").fit(to_aeon(train.X), train.y)
    t1 = time.perf_counter()
    acc = float(np.mean(clf.predict(to_aeon(test.X)) == test.y))
    return Result(set="", method="dtw", seed=seed, other=acc, fit_s=t1 - t0, embed_s=time.perf_counter() - t1)


def run_minirocket(train, test, seed, quick) -> Result:
    from aeon.transformations.collection.convolution_based import MiniRocket
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    length = max(len(x) for x in train.X + test.X)
    A_train = zero_pad(train.X, length).transpose(0, 2, 1).astype(np.float64)   # (N, C, T)
    A_test = zero_pad(test.X, length).transpose(0, 2, 1).astype(np.float64)
    t0 = time.perf_counter()
    mr = MiniRocket(random_state=seed).fit(A_train)
    t1 = time.perf_counter()
    Z_train, Z_test = mr.transform(A_train), mr.transform(A_test)
    t2 = time.perf_counter()
    ridge = make_pipeline(StandardScaler(with_mean=False), RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)))
    ridge.fit(Z_train, train.y)
    r = Result(set="", method="minirocket", seed=seed, other=ridge.score(Z_test, test.y), fit_s=t1 - t0,
               embed_s=t2 - t1, dim=Z_train.shape[1])
    if MINIROCKET_SVM:  # LinearSVC on ~10,000 features costs minutes per set: off unless asked for
        for k, v in svm_scores(Z_train, train.y, Z_test, test.y, quick).items():
            setattr(r, k, v)
    return r


def run_ts2vec(train, test, seed, quick) -> Result:
    import torch
    from ts2vec import TS2Vec

    length = max(len(x) for x in train.X + test.X)
    # TS2Vec takes NaN as padding (its own convention for unequal lengths).
    def pad_nan(X):
        out = np.full((len(X), length, X[0].shape[1]), np.nan, dtype=np.float32)
        for i, x in enumerate(X):
            out[i, : len(x)] = x
        return out
    A_train, A_test = pad_nan(train.X), pad_nan(test.X)
    torch.manual_seed(seed)
    np.random.seed(seed)
    t0 = time.perf_counter()
    model = TS2Vec(input_dims=A_train.shape[2], device="cpu", output_dims=320)
    model.fit(A_train, n_iters=50 if quick else None, verbose=False)
    t1 = time.perf_counter()
    Z_train = model.encode(A_train, encoding_window="full_series")
    Z_test = model.encode(A_test, encoding_window="full_series")
    t2 = time.perf_counter()
    r = Result(set="", method="ts2vec", seed=seed, fit_s=t1 - t0, embed_s=t2 - t1)
    for k, v in svm_scores(Z_train, train.y, Z_test, test.y, quick).items():
        setattr(r, k, v)
    return r


BASELINE_RUNNERS = {"raw": run_raw, "dtw": run_dtw, "minirocket": run_minirocket, "ts2vec": run_ts2vec}
BASELINE_NEEDS = {"raw": None, "dtw": "aeon", "minirocket": "aeon", "ts2vec": "ts2vec"}


def importable(module: str | None) -> bool:
    if module is None:
        return True
    try:
        __import__(module)
        return True
    except Exception:  # noqa: BLE001 - any failure to import means "not installed here"
        return False


# ------------------------------------------------------------------------------------------------- report
def machine(merged: bool = False) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import torch
    threads = "torch threads as in the command" if merged else f"torch threads {torch.get_num_threads()}"
    return (f"{cpu}, {os.cpu_count()} logical CPUs ({threads}), "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, torch {torch.__version__}")


def versions() -> str:
    import sklearn
    import torch

    import seqae
    out = [f"seqae {seqae.__version__}", f"torch {torch.__version__}", f"scikit-learn {sklearn.__version__}"]
    for mod in ("aeon", "ts2vec"):
        try:
            out.append(f"{mod} {__import__(mod).__version__}")
        except Exception:  # noqa: BLE001
            pass
    return ", ".join(out)


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=True).stdout.strip()
    except Exception:  # noqa: BLE001
        return "unknown"


def chosen(r: Result) -> float:
    """The one figure per method, picked without the test split: the baseline's own classifier where it has one
    (1-NN for DTW, ridge for MiniRocket), otherwise the SVM (linear or RBF) with the higher CV accuracy on train."""
    if np.isfinite(r.other):
        return r.other
    if not np.isfinite(r.rbf_cv) or r.linear_cv >= r.rbf_cv:
        return r.linear
    return r.rbf


def aggregate(results: list[Result]) -> dict[tuple[str, str], dict]:
    """Mean (and std over seeds) per (set, method)."""
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.set, r.method), []).append(r)
    out = {}
    for key, rs in groups.items():
        agg = {}
        for f in ("linear", "rbf", "other", "linear_cv", "rbf_cv", "fit_s", "embed_s", "chosen"):
            vals = np.array([chosen(r) if f == "chosen" else getattr(r, f) for r in rs], dtype=float)
            agg[f] = float(np.mean(vals)) if np.isfinite(vals).any() else float("nan")
            agg[f + "_std"] = float(np.std(vals)) if len(vals) > 1 and np.isfinite(vals).all() else float("nan")
        agg["dim"], agg["n"] = rs[0].dim, len(rs)
        out[key] = agg
    return out


def fmt(x: float, std: float = float("nan")) -> str:
    if not np.isfinite(x):
        return "-"
    return f"{x:.3f}" + (f" ±{std:.3f}" if np.isfinite(std) and std > 0 else "")


def markdown(results: list[Result], args, command: str, started: str, seconds: float) -> str:
    agg = aggregate(results)
    sets = [s for s in args.sets if any(k[0] == s for k in agg)]
    methods = [m for m in args.variants + args.baselines if any(k[1] == m for k in agg)]
    lines = [
        "# seqae embeddings on UEA/UCR sets (issues #4, #16)",
        "",
        f"Command: `{command}`  ",
        f"Date: {started}" + (f", {seconds / 60:.1f} min in all" if np.isfinite(seconds) else "")
        + f"; commit {git_commit()} plus uncommitted work  ",
        f"Machine: {machine(merged=bool(args.merge))}  ",
        f"Versions: {versions()}  ",
        f"Seeds: {', '.join(map(str, range(args.first_seed, args.first_seed + args.seeds)))}"
        + (" (mean ± std over the seeds each row has: see the seeds column below)" if args.seeds > 1 else "")
        + ("; --quick (short training, small grids: not comparable)" if args.quick else ""),
        "",
        "Protocol: representation fit on the train split without labels; train and test embedded; linear SVM "
        "(LinearSVC) and RBF SVM (SVC) on standardised train embeddings, C (and gamma) by 5-fold stratified CV on "
        "train; test accuracy. \"own\" is the baseline's own classifier: 1-NN for DTW, RidgeClassifierCV for "
        "MiniRocket (the figures in shared/reference/peers_UEA.md). Fit and embed seconds are wall-clock on "
        "the machine above (shared with other jobs, so timings are indicative).",
        "",
        "## Test accuracy (linear SVM / RBF SVM / own classifier)",
        "",
        "| method | " + " | ".join(sets) + " |",
        "|---|" + "---|" * len(sets),
    ]
    for m in methods:
        cells = []
        for s in sets:
            a = agg.get((s, m))
            if a is None:
                cells.append("n/a")
                continue
            parts = [fmt(a["linear"], a["linear_std"]), fmt(a["rbf"], a["rbf_std"])]
            if np.isfinite(a["other"]):
                parts.append(fmt(a["other"], a["other_std"]))
            cells.append(" / ".join(parts))
        lines.append(f"| {VARIANT_LABELS.get(m, m)} | " + " | ".join(cells) + " |")
    lines += ["", "## Summary: one figure per method and set", "",
              "The classifier is chosen without the test split: the SVM (linear or RBF) with the higher 5-fold CV "
              "accuracy on train; for DTW and MiniRocket their own classifier. Mean (± std) over the seeds; "
              "reference rows are copied from shared/reference/peers_UEA.md (aeon / ts2vec not installed here). "
              "Fit s: mean seconds to fit the representation, per set.", "",
              "| method | " + " | ".join(sets) + " | mean | mean train CV | fit s (max over sets) |",
              "|---|" + "---|" * (len(sets) + 3)]
    for m in methods:
        vals = [agg[(s, m)]["chosen"] if (s, m) in agg else float("nan") for s in sets]
        cells = [fmt(agg[(s, m)]["chosen"], agg[(s, m)]["chosen_std"]) if (s, m) in agg else "n/a" for s in sets]
        fits = [agg[(s, m)]["fit_s"] for s in sets if (s, m) in agg]
        mean = float(np.mean(vals)) if np.isfinite(vals).all() else float("nan")
        # What a user could choose by without the test split: the CV accuracy of the SVM each set picked.
        cvs = [np.nanmax([agg[(s, m)]["linear_cv"], agg[(s, m)]["rbf_cv"]]) if (s, m) in agg
               and np.isfinite(agg[(s, m)]["linear_cv"]) else float("nan") for s in sets]
        cv = float(np.mean(cvs)) if np.isfinite(cvs).all() else float("nan")
        lines.append(f"| {VARIANT_LABELS.get(m, m)} | " + " | ".join(cells) + f" | {fmt(mean)} | {fmt(cv)} | "
                     + (f"{max(fits):.1f}" if fits else "-") + " |")
    if set(sets) <= set(next(iter(REFERENCE.values()))):
        for name, row in REFERENCE.items():
            lines.append(f"| {name} | " + " | ".join(f"{row[s]:.3f}" for s in sets)
                         + f" | {np.mean([row[s] for s in sets]):.3f} | - | - |")
    lines += ["",
              "## CV accuracy on train (what chose C / gamma), embedding size, seconds", "",
              "| set | method | seeds | dim | linear CV | RBF CV | chosen (test) | fit s | embed s |",
              "|---|---|---|---|---|---|---|---|---|"]
    for s in sets:
        for m in methods:
            a = agg.get((s, m))
            if a is not None:
                lines.append(f"| {s} | {m} | {a['n']} | {a['dim'] or '-'} | {fmt(a['linear_cv'])} | "
                             f"{fmt(a['rbf_cv'])} | "
                             f"{fmt(a['chosen'], a['chosen_std'])} | {a['fit_s']:.1f} | {a['embed_s']:.2f} |")
    skipped = [b for b in args.requested_baselines if b not in args.baselines]
    if skipped:
        lines += ["", f"Baselines not run (package not importable here): {', '.join(skipped)}."]
    return "\n".join(lines) + "\n"


def read_csv(path: Path) -> list[Result]:
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            notes = dict(kv.split("=", 1) for kv in row.pop("notes").split(";") if "=" in kv)
            r = Result(set=row.pop("set"), method=row.pop("method"), seed=int(row.pop("seed")), notes=notes)
            r.dim = int(row.pop("dim"))
            for k, v in row.items():
                setattr(r, k, float(v))
            out.append(r)
    return out


NOTES_MARKER = "<!-- hand-written notes below: kept when the script rewrites the tables above -->"


def write_report(path: Path, report: str) -> None:
    """Write the generated tables, keeping any hand-written notes after NOTES_MARKER in the existing file."""
    notes = ""
    if path.is_file():
        old = path.read_text()
        if NOTES_MARKER in old:
            notes = old[old.index(NOTES_MARKER):]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report + ("\n" + notes if notes else ""))


def write_csv(results: list[Result], path: Path) -> None:
    """Write ``results`` into the per-seed table ``path``: rows of the same set, method and seed are replaced,
    the table's other rows (other runs' methods, sets or seeds) are kept; atomically (temp file, then rename)."""
    fields = ["set", "method", "seed", "linear", "rbf", "other", "linear_cv", "rbf_cv", "dim", "fit_s", "embed_s",
              "notes"]
    new = [[getattr(r, k) if k != "notes" else ";".join(f"{a}={b}" for a, b in r.notes.items()) for k in fields]
           for r in results]
    measured = {(str(row[0]), str(row[1]), str(row[2])) for row in new}
    kept = []
    if path.is_file():
        with open(path, newline="") as f:
            rows = csv.reader(f)
            if next(rows, None) == fields:
                kept = [row for row in rows if (row[0], row[1], row[2]) not in measured]
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(fields)
        w.writerows(kept + new)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    all_variants = list(seqae_variants())
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated (default: all five)")
    p.add_argument("--variants", default=",".join(all_variants),
                   help=f"seqae variants, comma-separated, or 'none' (default: {','.join(all_variants)})")
    p.add_argument("--baselines", default=",".join(BASELINES),
                   help="baselines, comma-separated, or 'none'; those whose package is missing are skipped")
    p.add_argument("--seeds", type=int, default=1, help="run seeds 0..N-1 and report the mean (default 1)")
    p.add_argument("--first-seed", type=int, default=0, help="seeds run are FIRST..FIRST+N-1 (default 0)")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} steps and small grids: a smoke run")
    p.add_argument("--minirocket-svm", action="store_true", help="also the SVM columns for MiniRocket (slow)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    p.add_argument("--output", type=Path, default=RESULTS / "uea.md", help="markdown report")
    p.add_argument("--csv", type=Path, default=RESULTS / "uea.csv", help="per-seed results")
    p.add_argument("--no-write", action="store_true", help="print only, write no files")
    p.add_argument("--merge", type=Path, nargs="+", metavar="CSV",
                   help="run nothing: write the report from the per-seed CSVs of earlier runs (e.g. runs split "
                        "by set or method in parallel), for the --sets/--variants/--baselines given")
    p.add_argument("--command", default=None, help="with --merge: the command(s) to quote in the report")
    args = p.parse_args(argv)

    def names(text: str, known: list[str], what: str) -> list[str]:
        if text.strip().lower() == "none":
            return []
        chosen = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in chosen if t not in known]
        if bad:
            p.error(f"unknown {what}: {', '.join(bad)} (choose from {', '.join(known)})")
        return chosen

    args.sets = names(args.sets, SETS, "set")
    # --merge may also name rows of earlier code that no parameter reproduces (labelled in VARIANT_LABELS).
    args.variants = names(args.variants, all_variants + [m for m in VARIANT_LABELS if args.merge
                                                         and m not in all_variants and m not in BASELINES], "variant")
    args.requested_baselines = names(args.baselines, BASELINES, "baseline")
    args.baselines = [b for b in args.requested_baselines if importable(BASELINE_NEEDS[b])]
    global MINIROCKET_SVM
    MINIROCKET_SVM = args.minirocket_svm
    if args.seeds < 1:
        p.error("--seeds must be >= 1")

    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    from seqae.datasets import load_uea
    # The first torch.optim.Adam of a process imports torch._dynamo (5-20 s here): do it before any timing.
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    # The first fit of a process also loads the compiled LSTM kernels (seconds): not part of any set's fit time.
    from seqae import LSTMAutoencoder
    warm = [np.zeros((5, 1), dtype=np.float32) + np.arange(5, dtype=np.float32)[:, None]] * 4
    LSTMAutoencoder(hidden_size=4, latent_dim=2, epochs=1, min_steps=1, random_state=0).fit(warm)

    command = "python benchmarks/uea.py " + " ".join(sys.argv[1:] if argv is None else argv)
    started = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    t_start = time.perf_counter()
    if args.merge:
        results = [r for path in args.merge for r in read_csv(path)]
        args.baselines = args.requested_baselines
        args.first_seed, args.seeds = min(r.seed for r in results), len({r.seed for r in results})
        mtime = max(path.stat().st_mtime for path in args.merge)
        started = _dt.datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M") + " (runs finished)"
        report = markdown(results, args, args.command or command, started, float("nan"))
        print(report)
        if not args.no_write:
            write_report(args.output, report)
            if args.csv.resolve() not in {m.resolve() for m in args.merge}:
                write_csv(results, args.csv)
        return 0
    for b in args.requested_baselines:
        if b not in args.baselines:
            print(f"# baseline {b}: {BASELINE_NEEDS[b]} not importable, skipped", file=sys.stderr)
    variants = seqae_variants()
    results: list[Result] = []
    for s in args.sets:
        train, test = load_uea(s, "train"), load_uea(s, "test")
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for m in args.variants + args.baselines:
                try:
                    if m in variants:
                        r = run_transformer(m, variants[m], train, test, seed, args.quick)
                    else:
                        r = BASELINE_RUNNERS[m](train, test, seed, args.quick)
                except Exception as err:  # noqa: BLE001 - one failing method must not lose the others
                    print(f"{s:16s} {m:14s} seed {seed}: FAILED {type(err).__name__}: {err}", flush=True)
                    continue
                r.set = s
                results.append(r)
                if not args.no_write:
                    write_csv(results, args.csv)   # as it goes: an interrupted run keeps what it measured
                print(f"{s:16s} {m:14s} seed {seed}: linear {fmt(r.linear)} rbf {fmt(r.rbf)} own {fmt(r.other)} "
                      f"(cv {fmt(r.linear_cv)}/{fmt(r.rbf_cv)}, dim {r.dim}) fit {r.fit_s:.1f}s "
                      f"embed {r.embed_s:.2f}s {r.notes or ''}", flush=True)
    report = markdown(results, args, command, started, time.perf_counter() - t_start)
    print(report)
    if not args.no_write:
        write_report(args.output, report)
        write_csv(results, args.csv)
        print(f"wrote {args.output} and {args.csv}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
