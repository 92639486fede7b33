#!/usr/bin/env python
"""Event rules on cached scores (issue #15): how much of the event F1 gap is the labelling rule's.

The detection suite refits for every run; the rule that turns scores into events costs nothing beside the fit.
``cache`` fits the default ``AnomalyDetector`` once per events case of ``benchmarks/detection.py`` (the same
cases, protocol and standardisation) and keeps its point scores; ``evaluate`` applies a grid of rules to the
cached scores and prints, per group, F1 of the summed tp / fp / fn (Orion's overlap protocol, as in the suite)
and the largest ratio of the share of points flagged to the share labelled.

A rule is a JSON object; every key is optional:

- ``mp``: pruning ``min_percent`` (the default detector: 0.05);
- ``z_min``: start of the dynamic rule's z grid (default 0.5);
- ``frac``, ``step``: thresholds computed on windows of ``frac`` of the evaluated series, moved by ``step`` of
  the window (Hundman et al. and Orion compute their threshold per window, Orion with 0.33 and 0.1); the
  windows' events are united. Without ``frac``: one threshold for the whole series (the default);
- ``rounds``, ``later_mp``: the dynamic rule in rounds, pruned by ``later_mp`` after the first
  (``seqae.events.adaptive_runs``; default 1 round, the rule of these tables; the detector's default since
  2026-12-07 is 3 rounds with 0.1);
- ``k``: a fixed threshold ``mean + k * std`` per window instead of the dynamic one (Orion's ``fixed_threshold``);
- ``gap``: runs closer than ``gap`` detector windows are merged (default 1: the detector's ``event_gap``);
- ``pad``: every event is widened by ``pad`` detector windows on each side (Orion pads by 50 points);
- ``pw``: the events are found on the scores with this ``point_weight`` (the cache keeps the default scores
  and each point's own error, ``point_weight=1``, from which every weight follows).

Examples::

    python benchmarks/event_rules.py cache --seed 0 --dir /tmp/event_scores        # ~40 min on 2 busy cores
    python benchmarks/event_rules.py evaluate --dir /tmp/event_scores --tag s0 \
        --rules '[{}, {"mp": 0.1}, {"frac": 0.5, "step": 0.5, "mp": 0.1}]'
    python benchmarks/event_rules.py evaluate --mix /tmp/mix/mix0.pkl --rules '[{}, {"rounds": 3, "later_mp": 0.1}]'
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def cache(args) -> None:
    import torch

    import detection
    from seqae import AnomalyDetector
    torch.set_num_threads(1)
    args.dir.mkdir(parents=True, exist_ok=True)
    cases = [c for c in detection.load_cases(detection.data_root(args.data), args.groups.split(","), None)
             if "events" in c.protocols]
    for c in cases:
        path = args.dir / f"s{args.seed}__{c.group}__{c.series.replace('/', '_')}.npz"
        if path.exists():
            continue
        t0 = time.perf_counter()
        det = AnomalyDetector(random_state=args.seed, num_threads=1, **json.loads(args.params)).fit(c.values[:c.n_train])
        weight = det.point_weight
        scores = det.decision_function(c.values)
        point = det.set_params(point_weight=1.0).decision_function(c.values)   # S alone: every weight follows
        np.savez(path, scores=scores, point=point, point_weight=weight, labels=c.labels, true=c.true_events,
                 eval_from=c.eval_from, window=det.window)
        print(f"{c.group} {c.series} {time.perf_counter() - t0:.1f}s", flush=True)


def rule_events(s: np.ndarray, rule: dict, window: int) -> np.ndarray:
    """(k, 2) inclusive events of the scores ``s`` under ``rule`` (see the module docstring)."""
    from seqae.events import adaptive_runs, label_runs, merge_runs, prune_runs, runs_to_labels
    from seqae.thresholds import dynamic_threshold
    n, gap = len(s), int(rule.get("gap", 1.0) * window)
    frac = rule.get("frac")
    size = n if frac is None else max(int(np.ceil(n * frac)), 2)
    step = n if frac is None else max(int(np.ceil(size * rule.get("step", 0.1))), 1)
    starts = list(range(0, max(n - size, 0) + 1, step))
    if starts[-1] + size < n:
        starts.append(n - size)
    flagged = np.zeros(n, dtype=bool)
    for a in starts:
        x = s[a:a + size]
        k = rule.get("k")
        if k:
            runs = prune_runs(x, merge_runs(label_runs(x > x.mean() + k * x.std()), gap), rule.get("mp", 0.05))
        else:
            runs = adaptive_runs(x, lambda y: dynamic_threshold(y, z_min=rule.get("z_min", 0.5)), gap=gap,
                                 min_percent=rule.get("mp", 0.05), rounds=rule.get("rounds", 1),
                                 later_min_percent=rule.get("later_mp"))[0]
        flagged[a:a + len(x)] |= runs_to_labels(runs, len(x)).astype(bool)
    runs = merge_runs(label_runs(flagged), gap)
    pad = int(rule.get("pad", 0) * window)
    if pad and len(runs):
        runs = runs.copy()
        runs[:, 0] = np.maximum(runs[:, 0] - pad, 0)
        runs[:, 1] = np.minimum(runs[:, 1] + pad, n - 1)
        runs = merge_runs(runs, 0)
    return runs


def scores_of(d, pw: float | None) -> np.ndarray:
    """The cached scores, or with ``point_weight=pw``: ``(1 - w) W + max(w, 1e-3) S`` (``seqae.detection``'s
    rule), W recovered from the cached scores and S."""
    if pw is None:
        return d["scores"]
    w0, s = float(d["point_weight"]), d["point"]
    window = (d["scores"] - max(w0, 1e-3) * s) / (1.0 - w0)
    return (1.0 - pw) * window + max(pw, 1e-3) * s


def cached_cases(args):
    """(group, record) per cached events case: the npz files of ``cache``, or with ``--mix FILE`` the fits that
    ``benchmarks/novelty_mix.py --cache`` keeps (the default's scores are its rule ``max``; no ``point``, so no
    ``pw`` rule), with the suite's labels and events for them."""
    if args.mix is None:
        for f in sorted(args.dir.glob(f"{args.tag}__*.npz")):
            yield f.name.split("__")[1], np.load(f)
        return
    import pickle

    import detection
    import novelty_mix
    from seqae import AnomalyDetector
    cases = {(c.group, c.series): c for c in detection.load_cases(detection.data_root(args.data), detection.GROUPS,
                                                                  None) if args.protocol in c.protocols}
    window = AnomalyDetector().window
    for key, parts in sorted(pickle.loads(args.mix.read_bytes()).items()):
        c = cases.get(key)
        if c is not None:
            # the scores protocol's NAB cases, one group per NAB folder (realKnownCause is in no events group)
            group = f"NAB/{c.series.split('/')[0]}" if c.group == "NAB" else c.group
            yield group, {"scores": novelty_mix.RULES["max"](parts["all"], parts["train"]), "labels": c.labels,
                          "true": c.true_events, "eval_from": c.eval_from, "window": window}


def evaluate(args) -> None:
    import pandas as pd

    from seqae.events import runs_to_labels
    from seqae.metrics.events import event_confusion
    table = {}
    for rule in json.loads(args.rules):
        rows = []
        for group, d in cached_cases(args):
            e0 = int(d["eval_from"])
            runs = rule_events(scores_of(d, rule.get("pw"))[e0:], rule, int(d["window"]))
            true = d["true"][d["true"][:, 1] >= e0] - e0
            c = event_confusion(true, runs)
            rows.append(dict(group=group, tp=c.tp, fp=c.fp, fn=c.fn,
                             flagged=runs_to_labels(runs, len(d["scores"]) - e0).mean(),
                             labelled=d["labels"][e0:].mean()))
        g = pd.DataFrame(rows).groupby("group").sum(numeric_only=True)
        shares = pd.DataFrame(rows).groupby("group")[["flagged", "labelled"]].mean()
        f1 = 2 * g.tp / (2 * g.tp + g.fp + g.fn)
        ratio = shares.flagged / shares.labelled
        # UCR's one series labels a few points: any event is several times that, whatever the rule
        table[json.dumps(rule)] = {**f1.round(3).to_dict(), "mean": round(float(f1.mean()), 3),
                                   "flag/label max": round(float(ratio.max()), 2),
                                   "max but UCR": round(float(ratio.drop("UCR", errors="ignore").max()), 2)}
    frame = pd.DataFrame(table).T
    print("| rule | " + " | ".join(frame.columns) + " |")
    print("|---|" + "---|" * len(frame.columns))
    for rule, row in frame.iterrows():
        print(f"| `{rule}` | " + " | ".join(f"{v:.3f}" if not k.startswith(("flag", "max")) else f"{v:.2f}"
                                          for k, v in row.items()) + " |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cache", help="fit the default detector per events case and keep its scores")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--groups", default="NAB,SMAP,UCR,SKAB,SMAP-25")
    c.add_argument("--params", default="{}", help="JSON overrides of AnomalyDetector parameters")
    c.add_argument("--data", default=None, help="the shared data folder (default: $SEQAE_DATA or ../shared/data)")
    c.add_argument("--dir", type=Path, required=True)
    e = sub.add_parser("evaluate", help="F1 per group of each rule on the cached scores")
    e.add_argument("--dir", type=Path, help="the folder of `cache`")
    e.add_argument("--tag", default="s0", help="the cache's seed tag, e.g. s0")
    e.add_argument("--mix", type=Path, help="instead of --dir: a cache of benchmarks/novelty_mix.py (mix<seed>.pkl)")
    e.add_argument("--data", default=None, help="with --mix: the shared data folder")
    e.add_argument("--protocol", choices=("events", "scores"), default="events",
                   help="with --mix: the suite's cases of this protocol (scores: NAB fitted on its first 15%%, "
                        "events evaluated after it)")
    e.add_argument("--rules", default="[{}]", help="JSON list of rules (see the module docstring)")
    args = ap.parse_args(argv)
    if args.command == "evaluate" and (args.dir is None) == (args.mix is None):
        ap.error("evaluate: give --dir (a cache of this script) or --mix (one of novelty_mix.py)")
    cache(args) if args.command == "cache" else evaluate(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
