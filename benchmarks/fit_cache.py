"""Fits of the detection suite's cases kept on disk, so that a study rescoring the same fits many ways
(``tie_break.py``, ``novelty_mix.py``) fits each case once per seed.

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
