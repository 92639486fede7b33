"""Fits of the detection suite's cases kept on disk, so that a study rescoring the same fits many ways
(``tie_break.py``, ``novelty_mix.py``, ``window_span.py``) fits each case once per seed; ``score_rows``,
``seed_tables`` and ``write_report`` are the VUS-PR tables the scores-protocol studies make of them.

A cache is a pickle of ``{(group, series): parts}`` per seed (numpy arrays a study's own fit function made),
written atomically every few fits, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import argparse
import pickle
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Callable

# Fits between two writes of the cache: a killed run loses at most this many.
SAVE_EVERY = 10


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options every cached study takes: which groups and seeds, the data, the cache folder, processes."""
    ap.add_argument("--groups", default="NAB,SMAP,SMAP-25,UCR,SKAB")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds, one fit of each case per seed")
    ap.add_argument("--data")
    ap.add_argument("--cache", type=Path, required=True, help="folder of the per-seed fit caches")
    ap.add_argument("--jobs", type=int, default=2)


def cached_fits(cases, seed: int, path: Path, fit: Callable, jobs: int) -> dict:
    """``{(group, series): parts}`` for every case: read from ``path``, the missing ones made by
    ``fit((case, seed)) -> (group, series, parts)`` in ``jobs`` processes and added to it."""
    done = pickle.loads(path.read_bytes()) if path.exists() else {}
    todo = [(c, seed) for c in cases if (c.group, c.series) not in done]
    t0 = time.perf_counter()
    with Pool(jobs) as pool:
        for i, (group, name, parts) in enumerate(pool.imap_unordered(fit, todo)):
            done[(group, name)] = parts
            if i % SAVE_EVERY == SAVE_EVERY - 1 or i == len(todo) - 1:
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(pickle.dumps(done))
                tmp.replace(path)
    print(f"seed {seed}: {len(todo)} fits in {time.perf_counter() - t0:.0f} s", flush=True)
    return done


def score_rows(args, name: str, fit: Callable, variants: Callable) -> tuple[list[str], list[tuple]]:
    """The groups, and one row (seed, group, variant, VUS-PR, AUC-PR, series) per *scores* case of the suite, seed
    and variant: each case fitted once per seed by ``fit`` (cached as ``args.cache / f"{name}{seed}.pkl"``), then
    ``variants(parts)`` -> ``{variant: per-point scores of the whole series}``, evaluated after its training part."""
    import detection
    from seqae.metrics import pr_auc, vus_pr

    groups = [g for g in args.groups.split(",") if g]
    cases = [c for c in detection.load_cases(detection.data_root(args.data), groups, None)
             if "scores" in c.protocols]
    args.cache.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        done = cached_fits(cases, seed, args.cache / f"{name}{seed}.pkl", fit, args.jobs)
        for c in cases:
            labels = c.labels[c.eval_from:]
            for variant, s in variants(done[(c.group, c.series)]).items():
                s = s[c.eval_from:]
                rows.append((seed, c.group, variant, vus_pr(labels, s, detection.VUS_WINDOW), pr_auc(labels, s),
                             c.series))
    return groups, rows


def rule_rows(cases, done: dict, rules: dict) -> dict[str, dict[str, float]]:
    """``{rule: {column: figure}}`` for one seed's cached fits: each rule (``f(parts["all"], parts["train"])`` ->
    per-point scores of the whole series) scored after each case's training part: mean VUS-PR and AUC-PR per
    group on the *scores* cases, event F1 per group (the default dynamic rule's events, confusion summed over the
    group) on the *events* cases."""
    import numpy as np

    import detection
    from seqae import AnomalyDetector
    from seqae.metrics import pr_auc, vus_pr
    from seqae.metrics.events import event_confusion

    labeller = AnomalyDetector()     # the default threshold rule; it needs no fit (it reads the scores)
    by_key = {(c.group, c.series): c for c in cases}
    table = {}
    for name, rule in rules.items():
        vus, ap, conf = {}, {}, {}
        for key, parts in done.items():
            case = by_key.get(key)
            if case is None:
                continue
            s = rule(parts["all"], parts["train"])
            ev = case.eval_from
            if "scores" in case.protocols:
                vus.setdefault(case.group, []).append(vus_pr(case.labels[ev:], s[ev:], detection.VUS_WINDOW))
                ap.setdefault(case.group, []).append(pr_auc(case.labels[ev:], s[ev:]))
            if "events" in case.protocols:
                found = labeller._runs(labeller._label(s[ev:]))
                c = event_confusion(case.true_events[case.true_events[:, 1] >= ev] - ev, found)
                tp, fp, fn = conf.get(case.group, (0, 0, 0))
                conf[case.group] = (tp + c.tp, fp + c.fp, fn + c.fn)
        row = {f"{g} VUS-PR": float(np.mean(v)) for g, v in vus.items()}
        row.update({f"{g} AUC-PR": float(np.mean(v)) for g, v in ap.items()})
        row.update({f"{g} F1": 2 * tp / max(2 * tp + fp + fn, 1) for g, (tp, fp, fn) in conf.items()})
        table[name] = row
    return table


def rule_table(table: dict[tuple[int, str], dict[str, float]]) -> list[str]:
    """Markdown lines of ``{(seed, rule): row}`` (rows of :func:`rule_rows`): VUS-PR columns, then AUC-PR, then F1."""
    import detection

    order = {"VUS-PR": 0, "AUC-PR": 1, "F1": 2}
    columns = sorted({c for row in table.values() for c in row}, key=lambda c: (order[c.split()[-1]], c))
    lines = ["| seed | rule | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for (seed, rule), row in table.items():
        lines.append(f"| {seed} | {rule} | " + " | ".join(detection._f(row.get(c)) for c in columns) + " |")
    return lines


def rule_study(args, cases, fit: Callable, rules: dict, *, cache_name: str, title: str, script: str) -> str:
    """A cached study of scoring rules: each case fitted once per seed by ``fit`` (cached as
    ``args.cache / f"{cache_name}{seed}.pkl"``), every rule evaluated by :func:`rule_rows`, the table written to
    ``args.out`` under ``title`` with the command (``script`` and this process's arguments). Returns the text."""
    import datetime as _dt
    import shlex
    import sys

    import detection

    args.cache.mkdir(parents=True, exist_ok=True)
    table = {}                       # (seed, rule) -> {column: figure}
    for seed in [int(s) for s in args.seeds.split(",")]:
        done = cached_fits(cases, seed, args.cache / f"{cache_name}{seed}.pkl", fit, args.jobs)
        table.update({(seed, rule): row for rule, row in rule_rows(cases, done, rules).items()})
    lines = [f"# {title}", "",
             f"Made by `PYTHONPATH=src python benchmarks/{script} {shlex.join(sys.argv[1:])}` "
             f"({_dt.datetime.now(_dt.timezone.utc).isoformat(timespec='seconds')}, git {detection._git_rev()}, "
             f"{detection._cpu()}); rules and protocol in the script's docstring.", ""] + rule_table(table)
    text = "\n".join(lines) + "\n"
    args.out.write_text(text)
    return text


def seed_tables(rows: list[tuple], groups: list[str], variants) -> list[str]:
    """Markdown lines: for each seed, mean VUS-PR / AUC-PR per variant (rows) and group (columns)."""
    import numpy as np

    lines = []
    for seed in sorted({r[0] for r in rows}):
        lines += [f"## Seed {seed}", "", "| variant | " + " | ".join(groups) + " |", "|---" * (len(groups) + 1) + "|"]
        for name in variants:
            cells = []
            for g in groups:
                got = np.array([(r[3], r[4]) for r in rows if r[0] == seed and r[1] == g and r[2] == name])
                cells.append(f"{got[:, 0].mean():.4f} / {got[:, 1].mean():.4f}" if len(got) else "-")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def write_report(path: Path, title: str, script: str, argv, about: str, tables: list[str]) -> str:
    """Write a study's report atomically (a temporary file beside it, then renamed): ``title``, the command that
    made it (``script`` run with ``argv``), the date and ``about``, then ``tables``. Returns the text."""
    import datetime as _dt
    import shlex
    import sys

    lines = [f"# {title}", "",
             f"Command: `PYTHONPATH=src python benchmarks/{script} {shlex.join(argv or sys.argv[1:])}`  ",
             f"Date: {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC; {about}", ""] + tables
    text = "\n".join(lines)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return text
