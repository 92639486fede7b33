"""The detection suite (issue #15): seqae and its peers on NAB, SMAP, UCR and SKAB, under two protocols.

Groups (data under ``--data``, ``$SEQAE_DATA`` or ``../shared/data``):

* ``NAB``: the 52 NAB series with labelled windows (``labels/combined_windows.json``);
* ``SMAP``: 53 telemetry channels of NASA's SMAP, column 0 (the value); ``SMAP-25``: the same with all 25
  columns (the value and 24 one-hot commands), a multivariate row;
* ``UCR``: UCR anomaly archive series 135 (InternalBleeding16), train part normal only;
* ``SKAB``: the 14 multivariate experiments of SKAB's ``other/`` folder (8 sensors).

*scores* protocol (threshold-free, per series, then the mean per group): NAB and SKAB: fit on the first
``max(15%, 256)`` points, standardised with their statistics, score every point, evaluate on the points after
the training part; SMAP, SMAP-25 and UCR: fit on the train split, evaluate on the test split. Metrics: AUC-PR
(average precision), AUC-ROC, VUS-PR and VUS-ROC (TSB-AD's definition, sliding window 100), from
:mod:`seqae.metrics`.

*events* protocol (Orion's benchmark, so that ``shared/reference/Orion/0.7.1.csv`` is the peer table): NAB
groups artificialWithAnomaly, realAWSCloudwatch, realAdExchange, realTraffic and realTweets are fitted and
detected unsupervised on the whole signal with NAB's combined windows as labelled events; SMAP (column 0) and
UCR are fitted on train and detected on test (SMAP-25 and SKAB likewise, with no published peer). Detected
events are each method's own labelled intervals (seqae: ``detect_events``; peers: runs of their 0/1 labels).
Confusion by overlap (:func:`seqae.metrics.events.event_confusion`) summed over a group's signals; F1 =
2 tp / (2 tp + fp + fn), with the share of points flagged beside the share labelled.

Methods (``--methods``): ``seqae`` (``AnomalyDetector`` with the library defaults; ``--seqae-params`` JSON
overrides and ``--tag NAME`` stores such a run as ``seqae@NAME``), and the peers of ``peers_nab.py``:
``zscore``, ``iforest``, ``pyod-ae``, ``pyod-lstm`` (run in the first interpreter among this one,
``--peer-python`` and ``.venv-peers/bin/python`` that has their package; set up with
``python3.11 -m venv .venv-peers && .venv-peers/bin/pip install torch==2.13.0 && .venv-peers/bin/pip install
pyod==3.6.7 tqdm``).

``--rules '{"NAME": {...}}'`` also evaluates each seqae fit with other scoring or thresholding parameters
(``forecast_weight``, ``forecast_margin``, ``threshold``, ``threshold_params``, ``contamination``, ``event_gap``,
``score_aggregation``, ``point_weight``, ``channel_weights``, ``latent_weight``) applied to the same fit (one scoring pass per aggregation, point weight and use of the latent novelty), stored as ``<stem>~NAME``:
how the threshold rule, the aggregation and the mix of errors were compared.
Events here are cut from the whole series' scores (their part after ``eval_from``), so that one scoring pass
serves every rule.

Outputs (``--out``, default ``benchmarks/results/detection.md``): the report, and beside it the long table
``detection.csv`` (one row per method, series and protocol, ``method`` column; ``results_store.py``) with
``detection.json`` (per method: command, date, parameters). ``--resume`` keeps a method's rows made with the same
parameters and runs the rest; the report is rebuilt from every method in the table.

Usage::

    .venv/bin/python benchmarks/detection.py --methods seqae,zscore,iforest,pyod-ae,pyod-lstm --jobs 2 --resume
    .venv/bin/python benchmarks/detection.py --methods seqae --groups UCR,SKAB --limit 3 --out /tmp/d/detection.md
    .venv/bin/python benchmarks/detection.py --report-only
"""
from __future__ import annotations

import argparse
import ast
import concurrent.futures as cf
import datetime as _dt
import hashlib
import json
import multiprocessing
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import peers_nab  # noqa: E402  (imports no peer package)
from results_store import ResultsStore  # noqa: E402

DEFAULT_OUT = HERE / "results" / "detection.md"
TRAIN_SHARE, MIN_TRAIN, VUS_WINDOW = 0.15, 256, 100
GROUPS = ("NAB", "SMAP", "SMAP-25", "UCR", "SKAB")
ORION_NAB_GROUPS = ("artificialWithAnomaly", "realAWSCloudwatch", "realAdExchange", "realTraffic", "realTweets")
PEERS = ("zscore", "iforest", "pyod-ae", "pyod-lstm")
# What a --rules entry may set: parameters applied after the fit to the same per-point errors.
RULE_PARAMS = {"forecast_weight", "forecast_margin", "threshold", "threshold_params", "contamination", "event_gap",
               "score_aggregation", "point_weight", "channel_weights", "latent_weight", "latent_mix"}
FIELDS = ["group", "series", "protocol", "n_eval", "auc_pr", "auc_roc", "vus_pr", "vus_roc", "tp", "fp", "fn",
          "flagged", "labelled", "fit_s", "score_s", "error", "params"]


@dataclass
class Case:
    """One fit of one method: what it is fitted on, what is evaluated, under which protocols."""
    group: str               # group of the report (an Orion NAB group for NAB's events cases)
    series: str
    protocols: tuple         # ("scores",), ("events",) or both
    values: np.ndarray       # (n, F) standardised with the statistics of values[:n_train]
    n_train: int             # fit on values[:n_train]
    eval_from: int           # scores and events are evaluated on values[eval_from:]
    labels: np.ndarray       # (n,) 0/1
    true_events: np.ndarray  # (k, 2) inclusive, positions in values


# ============================================================================================== data
def data_root(arg: str | None) -> Path:
    base = Path(arg or os.environ.get("SEQAE_DATA") or ROOT.parent / "shared" / "data")
    if not (base / "NAB").is_dir():
        raise SystemExit(f"benchmark data not found under {base} (expected NAB/, SMAP/, UCR_Anomaly/, SKAB/); "
                         "pass --data or set SEQAE_DATA")
    return base


def _standardise(values: np.ndarray, n_fit: int) -> np.ndarray:
    values = values.reshape(len(values), -1).astype(np.float64)
    mu, sd = values[:n_fit].mean(axis=0), values[:n_fit].std(axis=0)
    return (values - mu) / np.where(sd > 0, sd, 1.0)


def _runs(labels: np.ndarray) -> np.ndarray:
    from seqae.events import label_runs
    return label_runs(labels)


def nab_cases(root: Path) -> list[Case]:
    import pandas as pd
    from seqae.metrics import windows_to_indices, windows_to_labels
    nab = root / "NAB"
    windows = json.loads((nab / "labels" / "combined_windows.json").read_text())
    cases = []
    for name in sorted(k for k, w in windows.items() if w and (nab / "data" / k).is_file()):
        df = pd.read_csv(nab / "data" / name)
        ts = pd.to_datetime(df["timestamp"]).to_numpy()
        win = [[np.datetime64(pd.Timestamp(a)), np.datetime64(pd.Timestamp(b))] for a, b in windows[name]]
        raw, labels, events = df["value"].to_numpy(np.float64), windows_to_labels(ts, win), windows_to_indices(ts, win)
        n = len(raw)
        n_train = max(int(TRAIN_SHARE * n), MIN_TRAIN)
        cases.append(Case("NAB", name, ("scores",), _standardise(raw, n_train), n_train, n_train, labels, events))
        group = name.split("/")[0]
        if group in ORION_NAB_GROUPS:
            cases.append(Case(group, name, ("events",), _standardise(raw, n), n, 0, labels, events))
    return cases


def smap_cases(root: Path, multivariate: bool) -> list[Case]:
    import pandas as pd
    table = pd.read_csv(root / "SMAP" / "labeled_anomalies.csv").drop_duplicates("chan_id")
    cases = []
    for row in table.itertuples():
        path = root / "SMAP" / f"{row.chan_id}.npz"
        if not path.is_file():
            continue
        with np.load(path) as z:
            train, test = z["train"], z["test"]
        if not multivariate:
            train, test = train[:, :1], test[:, :1]
        values = _standardise(np.vstack([train, test]), len(train))
        labels = np.zeros(len(values), np.int64)
        events = np.array(ast.literal_eval(row.anomaly_sequences), dtype=np.int64).reshape(-1, 2) + len(train)
        for a, b in events:
            labels[a:b + 1] = 1
        cases.append(Case("SMAP-25" if multivariate else "SMAP", row.chan_id, ("scores", "events"), values,
                          len(train), len(train), labels, events[np.argsort(events[:, 0])]))
    return cases


def ucr_cases(root: Path) -> list[Case]:
    import pandas as pd
    cases = []
    for test_path in sorted((root / "UCR_Anomaly").glob("*_TEST.csv")):
        train = pd.read_csv(str(test_path).replace("_TEST.csv", "_TRAIN.csv"))
        test = pd.read_csv(test_path)
        # The test file holds the whole series, its first rows being the train file.
        n_train = len(train)
        if not np.array_equal(test["value"].to_numpy()[:n_train], train["value"].to_numpy()):
            raise SystemExit(f"{test_path.name}: the test file does not start with the train file")
        labels = test["is_anomaly"].to_numpy(np.int64)
        cases.append(Case("UCR", test_path.name.split("_TEST")[0], ("scores", "events"),
                          _standardise(test["value"].to_numpy(np.float64), n_train), n_train, n_train, labels,
                          _runs(labels)))
    return cases


def skab_cases(root: Path) -> list[Case]:
    import pandas as pd
    cases = []
    for path in sorted((root / "SKAB" / "other").glob("*.csv"), key=lambda p: int(p.stem)):
        df = pd.read_csv(path, sep=";")
        labels = df["anomaly"].to_numpy().astype(np.int64)
        raw = df.drop(columns=["datetime", "anomaly", "changepoint"]).to_numpy(np.float64)
        n_train = max(int(TRAIN_SHARE * len(raw)), MIN_TRAIN)
        cases.append(Case("SKAB", path.name, ("scores", "events"), _standardise(raw, n_train), n_train, n_train,
                          labels, _runs(labels)))
    return cases


def load_cases(root: Path, groups, limit: int | None) -> list[Case]:
    loaders = {"NAB": lambda: nab_cases(root), "SMAP": lambda: smap_cases(root, False),
               "SMAP-25": lambda: smap_cases(root, True), "UCR": lambda: ucr_cases(root),
               "SKAB": lambda: skab_cases(root)}
    cases = []
    for group in groups:
        got = loaders[group]()
        if limit:
            keep = sorted({c.series for c in got})[:limit]
            got = [c for c in got if c.series in keep]
        cases += got
    return cases


# ============================================================================================== evaluation
def evaluate_case(case: Case, scores: np.ndarray, detected: np.ndarray, fit_s: float, score_s: float,
                  params: str) -> list[dict]:
    """Rows of the CSV for one case; ``detected`` are the (k, 2) detected events, positions in values."""
    from seqae.events import runs_to_labels
    from seqae.metrics import pr_auc, roc_auc, vus_pr, vus_roc
    from seqae.metrics.events import event_confusion
    rows = []
    labels = case.labels[case.eval_from:]
    base = {"group": case.group, "series": case.series, "n_eval": len(labels), "fit_s": round(fit_s, 3),
            "score_s": round(score_s, 3), "error": "", "params": params}
    if "scores" in case.protocols:
        s = np.asarray(scores, dtype=np.float64)[case.eval_from:]
        rows.append({**base, "protocol": "scores", "auc_pr": pr_auc(labels, s), "auc_roc": roc_auc(labels, s),
                     "vus_pr": vus_pr(labels, s, VUS_WINDOW), "vus_roc": vus_roc(labels, s, VUS_WINDOW)})
    if "events" in case.protocols:
        det = np.asarray(detected, dtype=np.int64).reshape(-1, 2)
        det = det[det[:, 1] >= case.eval_from]
        det = np.maximum(det, case.eval_from) - case.eval_from
        true = case.true_events[case.true_events[:, 1] >= case.eval_from] - case.eval_from
        c = event_confusion(true, det)
        rows.append({**base, "protocol": "events", "tp": c.tp, "fp": c.fp, "fn": c.fn,
                     "flagged": float(runs_to_labels(det, len(labels)).mean()), "labelled": float(labels.mean())})
    return rows


# ============================================================================================== running
def _seqae_case(case: Case, params: dict, threads: int, rules: dict) -> dict:
    """{rule: (scores, detected events, fit_s, score_s)}: the fit with ``params`` (rule ""), then for each rule
    the same fit with the rule's parameters (RULE_PARAMS), calibrated again on the training series as ``fit``
    does (scales and threshold), scored and labelled: what a detector fitted with them gives (tested), since
    none of them changes training. Errors are computed once per aggregation, point weight and use of the latent
    novelty, so a grid of rules costs little beside the fit."""
    import torch
    from seqae import AnomalyDetector
    if rules and params.get("repair_training"):
        raise ValueError("--rules with repair_training: a rule's labelling would change the events the first fit "
                         "repairs, hence the second fit; run each as its own --seqae-params")
    torch.set_num_threads(threads)
    det = AnomalyDetector(**params, num_threads=threads)
    t0 = time.perf_counter()
    det.fit(case.values[:case.n_train])
    fit_s = time.perf_counter() - t0
    fitted_params = det.get_params()   # each rule starts from these: a rule's overrides must not reach the next
    # the training series as the fit calibrated on it (with repair_training: its events repaired)
    train = det._calibration_series(det._validate(case.values[:case.n_train], fitted=True))
    series = det._validate(case.values, fitted=True)
    cache: dict[tuple, tuple] = {}   # (aggregation, point weight, novelty) -> (training parts, parts, seconds)

    def error_parts():
        key = (det.score_aggregation, det.point_weight, det._uses_novelty())
        if key not in cache:
            t0 = time.perf_counter()
            cache[key] = (det._training_parts(train), det._error_parts(series), time.perf_counter() - t0)
        return cache[key]

    out = {}
    for rule, overrides in {"": {}, **rules}.items():
        bad = set(overrides) - RULE_PARAMS
        if bad:
            raise ValueError(f"--rules: {sorted(bad)} need another fit; a rule sets only {sorted(RULE_PARAMS)}")
        det.set_params(**{**fitted_params, **overrides})
        train_parts, parts, score_s = error_parts()
        det._calibrate(*train_parts)
        scores = det._combine(*parts).mean(axis=1)
        detected = det._runs(det._label(scores[case.eval_from:])) + case.eval_from if "events" in case.protocols \
            else np.zeros((0, 2), np.int64)
        out[rule] = (scores, detected, fit_s, score_s)
    return out


def exit_with_parent(parent: int) -> None:
    """Pool initializer: the worker exits once its parent process is gone. A run stopped from outside (SIGTERM,
    SIGKILL) cannot shut its pool down, and its workers went on fitting for up to an hour, taking the cores from
    the runs after it (whose timings then said so)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def _peer_python(method: str, extra: list[str]) -> str | None:
    module = peers_nab.PEERS[method][1]
    for python in [sys.executable, *extra, str(ROOT / ".venv-peers" / "bin" / "python")]:
        if Path(python).exists() and subprocess.run([python, "-c", f"import {module}"],
                                                    capture_output=True).returncode == 0:
            return python
    return None


def _effective(params: dict) -> dict:
    """Every AnomalyDetector parameter as the run uses it (library defaults filled in): a change of default
    makes --resume run the series again."""
    from seqae import AnomalyDetector
    return json.loads(json.dumps(AnomalyDetector(**params).get_params(), default=str))


def params_key(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:12]


def store_of(out: Path) -> ResultsStore:
    """The long table beside the report: ``detection.csv`` for ``detection.md``."""
    return ResultsStore(out.with_suffix(".csv"), FIELDS, key=("group", "series", "protocol"))


def run_method(method: str, stem: str, cases: list[Case], args, params: dict, store: ResultsStore) -> None:
    rules = json.loads(args.rules) if method == "seqae" else {}
    paths = {"": stem, **{r: f"{stem}~{r}" for r in rules}}   # the method name of each rule's rows
    keys = {r: params_key(_effective({**params, **rules.get(r, {})}) if method == "seqae"
                          else params) for r in paths}
    done = set.intersection(*({(x["group"], x["series"]) for x in store.rows(paths[r])
                               if x["params"] == keys[r] and not x["error"]} for r in paths)) \
        if args.resume else set()
    rows = {r: [x for x in store.rows(paths[r]) if (x["group"], x["series"]) in done] for r in paths}
    todo = [c for c in cases if (c.group, c.series) not in done]
    print(f"{stem}: {len(todo)} cases to run ({len(cases) - len(todo)} kept)", flush=True)
    started = time.perf_counter()

    def record(case: Case, result) -> None:
        if not isinstance(result, BaseException) and not all(np.isfinite(v[0]).all() for v in result.values()):
            result = RuntimeError("the method returned non-finite scores")  # an error row, the run goes on
        for r in paths:
            if isinstance(result, BaseException):
                rows[r].append({"group": case.group, "series": case.series, "protocol": case.protocols[0],
                                "error": repr(result)[:300], "params": keys[r]})
            else:
                rows[r].extend(evaluate_case(case, *result[r], keys[r]))
            store.write(paths[r], rows[r])

    if method.startswith("seqae"):
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(args.jobs, mp_context=ctx, initializer=exit_with_parent,
                                    initargs=(os.getpid(),)) as pool:
            futures = {pool.submit(_seqae_case, c, params, args.threads, rules): c for c in todo}
            for i, fut in enumerate(cf.as_completed(futures), 1):
                case = futures[fut]
                exc = fut.exception()
                record(case, exc if exc is not None else fut.result())
                print(f"  [{i}/{len(todo)}] {case.group}/{case.series} {time.perf_counter() - started:.0f}s",
                      flush=True)
    else:
        python = _peer_python(method, args.peer_python)
        if python is None:
            print(f"{method}: no interpreter has {peers_nab.PEERS[method][1]}; skipped", flush=True)
            return
        with tempfile.TemporaryDirectory() as tmp_dir:
            tmp = Path(tmp_dir)
            tasks = []
            for i, c in enumerate(todo):
                np.save(tmp / f"{i}.npy", c.values)
                tasks.append({"method": method, "values": str(tmp / f"{i}.npy"), "n_train": c.n_train,
                              "seed": args.seed, "quick": False, "out": str(tmp / f"{i}.npz"),
                              "threads": args.threads})
            shards = [tasks[j::args.jobs] for j in range(args.jobs)]
            procs = []
            for j, shard in enumerate(shards):
                if shard:
                    (tmp / f"tasks{j}.json").write_text(json.dumps(shard))
                    procs.append(subprocess.Popen([python, str(HERE / "peers_nab.py"), str(tmp / f"tasks{j}.json")]))
            for p in procs:
                p.wait()
            for i, c in enumerate(todo):
                out_path = tmp / f"{i}.npz"
                if not out_path.is_file():
                    record(c, RuntimeError("the peer worker wrote no result"))
                    continue
                with np.load(out_path, allow_pickle=False) as z:
                    if "error" in z:
                        record(c, RuntimeError(str(z["error"])[-300:]))
                        continue
                    pred = z["predictions"]
                    events = _runs(pred[c.eval_from:]) + c.eval_from
                    record(c, {"": (z["scores"], events, float(z["fit_s"]), float(z["score_s"]))})
    sidecar = {"command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
               "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "params": params,
               "seconds": round(time.perf_counter() - started, 1), "jobs": args.jobs,
               "threads": args.threads, "git": _git_rev(), "cpu": _cpu()}
    for r, name in paths.items():
        store.write(name, rows[r], json.loads(json.dumps({**sidecar, "rule": rules.get(r, {}),
                                                          "params_key": keys[r]}, default=str)))


def _cpu() -> str:
    """The CPU's model name and the instruction set torch and seqae's kernels use on it ("avx2", "avx512"): fits
    differ between CPUs in the last bits, and over training in the results; two hosts both named "AMD EPYC", one
    without AVX-512, fitted NAB's 52 series in 224 s and 128 s."""
    import torch
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {torch.backends.cpu.get_cpu_capability().lower()}"


def _git_rev() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return ""


# ============================================================================================== report
def orion_f1() -> dict[str, dict[str, float]]:
    """{group: {pipeline: F1}} from Orion's per-signal table, summed per group as in our events protocol."""
    path = ROOT.parent / "shared" / "reference" / "Orion" / "0.7.1.csv"
    if not path.is_file():
        return {}
    import pandas as pd
    d = pd.read_csv(path)
    d = d[d["iteration"] == 0]
    out: dict[str, dict[str, float]] = {}
    for (group, pipe), g in d.groupby(["dataset", "pipeline"]):
        tp, fp, fn = g["tp"].sum(), g["fp"].sum(), g["fn"].sum()
        out.setdefault(group, {})[pipe] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    # Orion's UCR group has 250 series; ours is series 135 alone: compare with that signal's row.
    ucr = d[(d["dataset"] == "UCR") & d["signal"].astype(str).str.startswith("135-")]
    out["UCR"] = {p: (2 * g["tp"].sum() / max(2 * g["tp"].sum() + g["fp"].sum() + g["fn"].sum(), 1))
                  for p, g in ucr.groupby("pipeline")}
    return out


def _f(x, digits=3) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "-"
    return "-" if x != x else f"{x:.{digits}f}"


def write_report(out: Path) -> str:
    store = store_of(out)
    methods = dict(sorted(store.by_method().items()))
    lines = ["# Detection suite (issue #15)", "",
             "Made by `benchmarks/detection.py` (see its docstring for the protocols); per-series rows in "
             f"`benchmarks/results/{store.path.name}` (column `method`), the command of each in "
             f"`{store.meta_path.name}`.", ""]
    for stem in methods:
        meta = store.meta(stem)
        if meta:
            lines.append(f"- `{stem}`: `{meta.get('command', '')}` ({meta.get('date', '')}, git "
                         f"{meta.get('git', '')}, {meta.get('seconds', '')} s for the cases it ran"
                         + (f", {meta['cpu']}" if meta.get("cpu") else "") + ")")
    lines += ["", "## Scores: mean per group (AUC-PR / VUS-PR; AUC-ROC / VUS-ROC below)", ""]
    groups = [g for g in GROUPS if any(r["group"] == g and r["protocol"] == "scores"
                                       for rows in methods.values() for r in rows)]
    lines.append("| method | " + " | ".join(f"{g} AUC-PR / VUS-PR" for g in groups) + " |")
    lines.append("|---" * (len(groups) + 1) + "|")
    roc = ["", "| method | " + " | ".join(f"{g} AUC-ROC / VUS-ROC" for g in groups) + " |",
           "|---" * (len(groups) + 1) + "|"]
    for stem, rows in methods.items():
        cells, cells_roc = [], []
        for g in groups:
            r = [x for x in rows if x["group"] == g and x["protocol"] == "scores" and not x["error"]]
            mean = lambda k: np.mean([float(x[k]) for x in r]) if r else float("nan")  # noqa: E731
            errs = sum(1 for x in rows if x["group"] == g and x["error"])
            note = f" ({len(r)}{', ' + str(errs) + ' failed' if errs else ''})"
            cells.append(f"{_f(mean('auc_pr'))} / {_f(mean('vus_pr'))}{note}")
            cells_roc.append(f"{_f(mean('auc_roc'))} / {_f(mean('vus_roc'))}")
        lines.append(f"| {stem} | " + " | ".join(cells) + " |")
        roc.append(f"| {stem} | " + " | ".join(cells_roc) + " |")
    lines += roc
    ref = orion_f1()
    egroups = [g for g in (*ORION_NAB_GROUPS, "SMAP", "UCR", "SMAP-25", "SKAB")
               if any(r["group"] == g and r["protocol"] == "events" for rows in methods.values() for r in rows)]
    lines += ["", "## Events: F1 per group (summed tp, fp, fn), share of points flagged / labelled", "",
              "| method | " + " | ".join(egroups) + " |", "|---" * (len(egroups) + 1) + "|"]
    for stem, rows in methods.items():
        cells = []
        for g in egroups:
            r = [x for x in rows if x["group"] == g and x["protocol"] == "events" and not x["error"]]
            if not r:
                cells.append("-")
                continue
            tp, fp, fn = (sum(int(float(x[k])) for x in r) for k in ("tp", "fp", "fn"))
            f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
            flagged = np.mean([float(x["flagged"]) for x in r])
            labelled = np.mean([float(x["labelled"]) for x in r])
            cells.append(f"**{_f(f1)}** ({tp}/{fp}/{fn}; {flagged:.3f} / {labelled:.3f})")
        lines.append(f"| {stem} | " + " | ".join(cells) + " |")
    for pipe in ("aer", "lstm_dynamic_threshold", "lstm_autoencoder", "dense_autoencoder", "tadgan", "arima"):
        cells = [_f(ref.get(g, {}).get(pipe)) for g in egroups]
        lines.append(f"| Orion {pipe} (published) | " + " | ".join(cells) + " |")
    best = []
    for g in egroups:
        if ref.get(g):
            pipe, f1 = max(ref[g].items(), key=lambda kv: -1 if kv[1] != kv[1] else kv[1])
            best.append(f"{_f(f1)} ({pipe})")
        else:
            best.append("-")
    lines.append("| best published pipeline | " + " | ".join(best) + " |")
    lines += ["", "Cells: F1 (tp/fp/fn; mean share of points flagged / labelled). Orion's rows are computed from "
              "`shared/reference/Orion/0.7.1.csv` the same way (its UCR figure: series 135 alone).", ""]
    old = out.read_text() if out.is_file() else ""
    if "<!-- NOTES_BEGIN -->" in old:
        lines.append(old[old.index("<!-- NOTES_BEGIN -->"):].rstrip())
    else:
        lines += ["<!-- NOTES_BEGIN -->", "<!-- NOTES_END -->"]
    text = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".md.part")
    tmp.write_text(text)
    os.replace(tmp, out)
    return text


# ============================================================================================== main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--methods", default="seqae," + ",".join(PEERS))
    ap.add_argument("--groups", default=",".join(GROUPS))
    ap.add_argument("--data")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seqae-params", default="{}", help="JSON overrides of AnomalyDetector parameters")
    ap.add_argument("--tag", help="store the seqae run as seqae@TAG")
    ap.add_argument("--rules", default="{}", help='JSON {"NAME": {params}}: also score each seqae fit with these '
                    "scoring/threshold parameters set after fitting (threshold refitted), stored as <stem>~NAME")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--limit", type=int, help="first N series of each group (a smoke test)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--peer-python", action="append", default=[])
    args = ap.parse_args(argv)
    if not args.report_only:
        groups = [g for g in args.groups.split(",") if g]
        unknown = set(groups) - set(GROUPS)
        if unknown:
            raise SystemExit(f"--groups: unknown {sorted(unknown)}; choose from {', '.join(GROUPS)}")
        cases = load_cases(data_root(args.data), groups, args.limit)
        for method in [m for m in args.methods.split(",") if m]:
            if method != "seqae" and method not in peers_nab.PEERS:
                raise SystemExit(f"--methods: unknown {method!r}")
            stem = f"{method}@{args.tag}" if method == "seqae" and args.tag else method
            params = {**json.loads(args.seqae_params), "random_state": args.seed} if method == "seqae" \
                else {"seed": args.seed}
            run_method(method, stem, cases, args, params, store_of(args.out))
    print(write_report(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
