"""Scale-out benchmark (issue #17 item 3): many series with one detector each, and one model trained data-parallel.

Many series: ``--series`` synthetic series of ``--length`` points (sines of random period, noise, drift, and
injected spikes, level shifts and noise bursts in their second half), one default ``AnomalyDetector`` per series
(trained on the first 30%, one torch thread), through ``seqae.many.detect_many``:

- ``pandas``: the pandas loop in this process (engine=None);
- ``dask1`` / ``dask2``: a Dask ``LocalCluster`` of 1 or 2 worker processes, one thread each, through Fugue. The
  cluster is started and its workers import seqae and load the kernels before the clock starts (a one-off cost,
  reported apart);
- ``split2``: no engine, the ceiling an engine is measured against: 2 plain processes side by side, each the
  pandas loop over every other series (ids sorted), started together once both have imported seqae and hold
  their half; its seconds are the slower one's. It says what running two series at once costs on these cores
  (shared caches and memory bandwidth) apart from what Dask and Fugue add.

Reported: wall time, series per second, the ratio to the pandas loop, and the peak resident memory of each
process that ran series (this one for pandas; each Dask worker); the outputs of every engine are compared
with the pandas loop's, series by series.

DDP: one ``LSTMAutoencoder`` trained on ``--ddp-sequences`` windows of the series, one process (one thread) vs
2 processes of one thread each under torchrun (``--ddp`` starts them), same global batch and seed: seconds of
training and the final training losses.

Run from the repository root, with the Dask extra installed (pip install "seqae[dask]"):

    python benchmarks/scale.py --series 1000          # the issue's size
    python benchmarks/scale.py --series 40 --modes pandas,dask1,dask2,ddp
    python benchmarks/scale.py --series 40 --modes pandas,dask2 --output-dir /tmp/scale   # written by the workers
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def synthetic_table(n_series: int, length: int, seed: int = 0) -> pd.DataFrame:
    """A long table (series, ts, value) of sines with noise and drift, anomalies in the second half."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    ids, values = [], []
    for i in range(n_series):
        v = np.sin(2 * np.pi * t / rng.uniform(20, 200)) + 0.1 * rng.standard_normal(length)
        v += np.linspace(0, rng.normal(0, 0.5), length)
        for _ in range(3):
            at = int(rng.integers(length // 2, length - 60))
            kind = rng.integers(3)
            if kind == 0:
                v[at:at + 3] += rng.choice([-1, 1]) * rng.uniform(3, 6)
            elif kind == 1:
                v[at:at + 50] += rng.uniform(1.5, 3)
            else:
                v[at:at + 50] += rng.standard_normal(50)
        ids.append(np.full(length, f"s{i:05d}"))
        values.append(v)
    return pd.DataFrame({"series": np.concatenate(ids),
                         "ts": np.tile(pd.date_range("2026-01-01", periods=length, freq="min"), n_series),
                         "value": np.concatenate(values)})


def proc_status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (``VmRSS``, ``VmHWM``, ...) in MB; None off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _peak_mb() -> float:
    """Peak resident memory of this process. On Linux from /proc (VmHWM): ``ru_maxrss`` survives fork and exec,
    so a Dask worker that the driver started reported the driver's own peak at that moment (both workers of the
    1,000-series run gave exactly 3,506 MB, the driver's size after reading back two earlier runs)."""
    peak = proc_status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_s() -> float:
    """CPU seconds this process has used (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _warm() -> float:
    """Import seqae's detector and load the kernels in this (worker) process; returns its peak memory."""
    from seqae.nn.kernels import extension

    extension()
    return _peak_mb()


def _split_part(part: pd.DataFrame, where: dict, start, results) -> None:
    """One process of ``split<N>``: the pandas loop over its share, timed from the moment all shares are ready."""
    from seqae.many import detect_many

    _warm()
    start.wait()
    t0, cpu = time.perf_counter(), _cpu_s()
    detect_many(part, by="series", time="ts", **where)
    results.put((time.perf_counter() - t0, _cpu_s() - cpu, _peak_mb()))


def run_split(table: pd.DataFrame, wheres: list[dict]) -> tuple:
    """``split<N>``, N = len(wheres) (process k's detect_many arguments): (seconds of the slower process, peak MB
    per process, CPU seconds of all)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    processes = len(wheres)
    ids = np.sort(table["series"].unique())
    start, results = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=_split_part, args=(table[table["series"].isin(ids[k::processes])], wheres[k],
                                                   start, results)) for k in range(processes)]
    for proc in procs:
        proc.start()
    done = []
    while len(done) < processes:
        try:
            done.append(results.get(timeout=5))
        except queue.Empty:
            if any(proc.exitcode not in (None, 0) for proc in procs):   # a share failed: its traceback is above
                raise RuntimeError("a split process failed") from None
    for proc in procs:
        proc.join()
    return max(d[0] for d in done), sorted(d[2] for d in done), sum(d[1] for d in done)


def run_many(table: pd.DataFrame, mode: str, output: Path | None = None, params: dict | None = None,
             dask_trim: bool = False, parquet: Path | None = None):
    """One mode's run; with ``output``, the results are written there from where they are made (``output=``)
    and read back after the clock, for the comparison. ``params`` go to every series' detector. ``parquet``:
    the Dask modes read the table from that file on the workers (as ``seqae detect-many --engine dask`` does)
    instead of receiving the pandas table. Returns (result, seconds, peak MB per process, setup seconds, CPU
    seconds of every process, CPU seconds of this one: with Dask the scheduler and Fugue's planning)."""
    from seqae.many import detect_many, read_output

    where = dict(params or {}) if output is None else {"output": output / mode, **(params or {})}
    if mode == "pandas":
        _warm()                       # as the Dask workers and split<N>'s processes are, before the clock
        start, cpu = time.perf_counter(), _cpu_s()
        result = detect_many(table, by="series", time="ts", **where)
        seconds, cpu = time.perf_counter() - start, _cpu_s() - cpu
        return (result if output is None else read_output(output / mode)), seconds, [_peak_mb()], 0.0, cpu, cpu
    if mode.startswith("split"):
        # each process writes its own share (output=), or builds its result and drops it: not compared
        wheres = [dict(where, output=output / mode / str(k)) if output is not None else where
                  for k in range(int(mode.removeprefix("split")))]
        if output is not None:
            (output / mode).mkdir(parents=True, exist_ok=True)
        seconds, peaks, cpu = run_split(table, wheres)
        return None, seconds, peaks, 0.0, cpu, 0.0
    from distributed import Client, LocalCluster

    workers = int(mode.removeprefix("dask"))
    started = time.perf_counter()
    import dask

    # As seqae detect-many --engine dask starts its workers (seqae.many.DASK_WORKER_CONFIG).
    # (dask_trim: Dask's own MALLOC_TRIM_THRESHOLD_=65536 instead, to see what it does to the workers' memory.)
    from seqae.many import DASK_WORKER_CONFIG

    config = dict(DASK_WORKER_CONFIG)
    if dask_trim:
        del config["distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"]
    with warnings.catch_warnings(), dask.config.set(config):
        warnings.simplefilter("ignore", FutureWarning)
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                          memory_limit=0) as cluster, Client(cluster) as client:
            client.run(_warm)
            setup = time.perf_counter() - started
            driver = _cpu_s()
            before = sum(client.run(_cpu_s).values()) + driver
            start = time.perf_counter()
            if parquet is not None:
                import dask.dataframe as dd

                with dask.config.set({"dataframe.convert-string": False}):     # as the CLI reads it
                    table = dd.read_parquet(parquet, split_row_groups=True)
            result = detect_many(table, by="series", time="ts", engine=client, **where)
            seconds = time.perf_counter() - start
            driver = _cpu_s() - driver        # this process: the scheduler, Fugue's planning, the graph
            cpu = sum(client.run(_cpu_s).values()) + _cpu_s() - before     # workers and this driver
            peaks = sorted(client.run(_peak_mb).values())
    return (result if output is None else read_output(output / mode)), seconds, peaks, setup, cpu, driver


def ddp_worker(args) -> None:
    """One process of the DDP run (started by torchrun, or alone for 1 process): fit, rank 0 prints JSON."""
    import torch

    from seqae import LSTMAutoencoder

    torch.set_num_threads(1)
    X = ddp_data(args)
    ae = LSTMAutoencoder(hidden_size=64, latent_dim=16, epochs=args.ddp_epochs, batch_size=128, min_steps=None,
                         patience=None, validation_fraction=0.0, random_state=0, num_threads=1)
    if "RANK" in os.environ:
        from seqae.training.distributed import fit_distributed

        fit_distributed(ae, X)
        rank = int(os.environ["RANK"])
    else:
        ae.fit(X)
        rank = 0
    if rank == 0:
        print(json.dumps({"seconds": ae.training_seconds_, "train_loss": ae.history_["train_loss"],
                          "peak_mb": _peak_mb()}))


def ddp_data(args) -> np.ndarray:
    table = synthetic_table(max(1, args.ddp_sequences * 64 // args.length + 1), args.length, seed=1)
    v = table["value"].to_numpy(np.float32)
    starts = np.linspace(0, len(v) - 64, args.ddp_sequences).astype(np.int64)
    return np.stack([v[s:s + 64] for s in starts])[:, :, None]


def run_ddp(args, processes: int) -> dict:
    here = [sys.executable, str(Path(__file__).resolve()), "--ddp-worker", "--length", str(args.length),
            "--ddp-sequences", str(args.ddp_sequences), "--ddp-epochs", str(args.ddp_epochs)]
    if processes > 1:
        here = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
                *here[1:]]
    start = time.perf_counter()
    out = subprocess.run(here, capture_output=True, text=True, check=True).stdout
    doc = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    doc["wall"] = time.perf_counter() - start
    return doc


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--series", type=int, default=1000)
    p.add_argument("--length", type=int, default=5000)
    p.add_argument("--modes", default="pandas,dask1,dask2,ddp")
    p.add_argument("--ddp-sequences", type=int, default=8192)
    p.add_argument("--ddp-epochs", type=int, default=3)
    p.add_argument("--ddp-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", default=str(RESULTS / "scale.json"))
    p.add_argument("--detector-params", type=json.loads, default={},
                   help="JSON of AnomalyDetector parameters for every series (default: the default detector), e.g. "
                   "'{\"epochs\": 5}' to measure the engines at a lighter cost per series")
    p.add_argument("--dask-trim", action="store_true",
                   help="keep Dask's MALLOC_TRIM_THRESHOLD_=65536 in the workers (seqae's local clusters unset it)")
    p.add_argument("--from-parquet", action="store_true",
                   help="Dask modes read the table from a Parquet file (row groups of 100,000 rows) on the workers")
    p.add_argument("--output-dir", type=Path, help="write each mode's results into DIR/<mode> from the workers "
                   "(detect_many(output=)) instead of gathering them in this process; read back after the clock")
    args = p.parse_args()
    if args.ddp_worker:
        ddp_worker(args)
        return
    modes = args.modes.split(",")
    if args.output_dir is not None:
        args.output_dir.mkdir(parents=True, exist_ok=True)
    report = {"command": "python " + " ".join(sys.argv), "series": args.series, "length": args.length,
              "detector_params": args.detector_params, "dask_trim": args.dask_trim, "runs": {},
              "load_average_before": os.getloadavg()}
    table = synthetic_table(args.series, args.length)
    report["table_mb"] = round(table.memory_usage(deep=True).sum() / 2**20, 1)
    parquet = None
    if args.from_parquet:
        import tempfile

        parquet = Path(tempfile.mkdtemp(prefix="seqae-scale-")) / "table.parquet"
        table.to_parquet(parquet, row_group_size=100_000, index=False)
        report["from_parquet"] = True
    reference = None
    for mode in [m for m in modes if m != "ddp"]:
        result, seconds, peaks, setup, cpu, driver = run_many(table, mode, args.output_dir, args.detector_params,
                                                               args.dask_trim, parquet)
        same = None
        if result is None:          # split<N>: the pandas loop's own code on shares, not gathered
            pass
        elif reference is None:
            reference = result
        else:
            same = bool(result.scores.equals(reference.scores) and result.events.equals(reference.events)
                        and result.failures.equals(reference.failures))
        report["runs"][mode] = {"seconds": round(seconds, 2), "series_per_s": round(args.series / seconds, 3),
                                "cpu_s_per_series": round(cpu / args.series, 2),
                                "driver_cpu_s_per_series": round(driver / args.series, 3),
                                "peak_mb_per_process": [round(m) for m in peaks], "setup_s": round(setup, 1),
                                "failed": None if result is None else result.n_failed,
                                "events": None if result is None else len(result.events),
                                "identical_to_first": same}
        print(mode, report["runs"][mode], flush=True)
    base = report["runs"].get("pandas")
    if base:
        for run in report["runs"].values():
            run["speedup_vs_pandas"] = round(base["seconds"] / run["seconds"], 2)
    if "ddp" in modes:
        one, two = run_ddp(args, 1), run_ddp(args, 2)
        report["ddp"] = {"1 process": one, "2 processes": two,
                         "speedup": round(one["seconds"] / two["seconds"], 2),
                         "max_rel_loss_diff": float(np.max(np.abs(np.array(two["train_loss"]) /
                                                                  np.array(one["train_loss"]) - 1)))}
        print("ddp", report["ddp"], flush=True)
    report["load_average_after"] = os.getloadavg()      # other processes on the cores bound the speed-up
    Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
