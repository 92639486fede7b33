"""``seqae demo``: anomaly detection on a NAB series that ships with seqae, end to end, in about a minute."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from seqae.cli import _common, _truth
from seqae.cli._base import command_help
from seqae.cli._common import CLIError, HelpFormatter

# Chosen so that the demo finishes in well under a minute on one idle CPU core (about 30 s measured, 75 s on a
# heavily loaded one): a window of one day of the half-hourly taxi series, a small network, at most 2048
# training windows, early stopping. Fewer epochs are faster and coarser; a larger network did not score better.
DEMO_PARAMS = dict(window=48, hidden_size=32, latent_dim=8, epochs=30, patience=5, batch_size=64,
                   max_train_windows=2048, threshold="pot", device="cpu")
DEFAULT_TRAIN_FRACTION = 0.5

_DESCRIPTIONS = {
    "nyc_taxi": "NYC taxi passengers every 30 minutes (NAB realKnownCause/nyc_taxi); known anomalies: the NYC "
                "marathon, Thanksgiving, Christmas, New Year and a blizzard",
    "art_daily_jumpsup": "an artificial daily pattern every 5 minutes (NAB artificialWithAnomaly/"
                         "art_daily_jumpsup); known anomaly: a jump up",
}

EPILOG = """\
The detector is trained on the first half of the series (before the first known anomaly), then every
point is scored and flagged when its score exceeds a threshold set by Peaks Over Threshold on the
training scores. Written to the output folder: scores.csv (timestamp, value, score, label),
anomalies.png (series, scores, threshold, flagged points, known anomaly windows) and loss.png.

examples:
  seqae demo
  seqae demo --output-dir /tmp/demo --series art_daily_jumpsup
  seqae demo --epochs 5          # faster, coarser
"""


def add_parser(sub) -> None:
    from seqae.io import list_demo_series

    p = sub.add_parser("demo", help=command_help("demo"),
                       description="Run the anomaly detector on a series that ships with seqae, write the scores "
                                   "and plots, and evaluate against the known anomalies.",
                       epilog=EPILOG, formatter_class=HelpFormatter)
    p.add_argument("--output-dir", default="demo_output", metavar="DIR",
                   help="folder for scores.csv, anomalies.png and loss.png (created; default: demo_output)")
    p.add_argument("--series", default="nyc_taxi", choices=list_demo_series(), help="the series (default: nyc_taxi)")
    p.add_argument("--epochs", type=_common.positive_int, default=DEMO_PARAMS["epochs"], metavar="N",
                   help=f"maximum training epochs (default: {DEMO_PARAMS['epochs']})")
    p.add_argument("--train-fraction", type=_common.fraction, default=DEFAULT_TRAIN_FRACTION, metavar="F",
                   help=f"train on the first F of the series (default: {DEFAULT_TRAIN_FRACTION})")
    p.add_argument("--seed", type=_common.seed, default=0, metavar="S", help="random seed (default: 0)")
    _common.add_output_options(p)
    p.set_defaults(run=run)


def _window_report(index: pd.DatetimeIndex, labels: np.ndarray, windows) -> list[str]:
    lines = []
    for start, end in windows:
        inside = (index >= start) & (index <= end)
        hits = np.flatnonzero(inside & (labels == 1))
        span = f"{start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M}"
        if hits.size:
            lines.append(f"  {span}  detected: {hits.size} point(s) flagged, the first at "
                         f"{index[hits[0]]:%Y-%m-%d %H:%M}")
        else:
            lines.append(f"  {span}  missed")
    return lines


def run(args: argparse.Namespace) -> int:
    from seqae import AnomalyDetector
    from seqae.io import load_demo_series, write_table
    from seqae.plotting import plot_anomalies, plot_history

    out = _common.console(args)
    started = time.perf_counter()
    folder = Path(args.output_dir)
    if folder.exists() and not folder.is_dir():
        raise CLIError(f"--output-dir {str(folder)!r} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in ("scores.csv", "anomalies.png", "loss.png")}
    for path in paths.values():
        _common.check_writable(path, "output")

    series, windows = load_demo_series(args.series)
    index = series.index
    n = len(series)
    n_train = int(args.train_fraction * n)
    params = {**DEMO_PARAMS, "epochs": args.epochs, "random_state": args.seed, "verbose": out.progress_bars}
    if args.threads is not None:
        params["num_threads"] = args.threads
    if n_train < params["window"] + 2:
        raise CLIError(f"--train-fraction {args.train_fraction:g} leaves {n_train} training points, fewer than "
                       f"a window ({params['window']}) needs")
    out.info(f"seqae demo: {_DESCRIPTIONS.get(args.series, args.series)}.")
    out.info(f"{n} points, {index[0]:%Y-%m-%d} .. {index[-1]:%Y-%m-%d}, {len(windows)} known anomaly window(s).")
    clean = all(start > index[n_train - 1] for start, _ in windows)
    out.step(f"training on the first {n_train} points ({index[0]:%Y-%m-%d} .. {index[n_train - 1]:%Y-%m-%d}"
             f"{', before any known anomaly' if clean else ''}): window {params['window']} points, up to "
             f"{params['epochs']} epochs (under a minute on a laptop)")
    detector = AnomalyDetector(**params)
    _common.prepare_kernels(out, detector.device)
    t0 = time.perf_counter()
    detector.fit(series.iloc[:n_train])
    ae = detector.autoencoder_
    fit_seconds = time.perf_counter() - t0
    out.step(f"trained {ae.n_epochs_} epoch(s) in {fit_seconds:.1f}s ({ae.stop_reason_.replace('_', ' ')}; kept "
             f"epoch {ae.best_epoch_}); threshold {detector.threshold_:.4g} (Peaks Over Threshold)")

    out.step(f"scoring all {n} points")
    t0 = time.perf_counter()
    detected = detector.detect(series)
    score_seconds = time.perf_counter() - t0
    scores = detected["score"].to_numpy()
    labels = detected["label"].to_numpy()
    frame = pd.DataFrame({"timestamp": index, "value": series["value"].to_numpy(), "score": scores,
                          "label": labels})
    write_table(frame, paths["scores.csv"])

    out.step("evaluating and plotting")
    window_strings = [[f"{a:%Y-%m-%d %H:%M:%S}", f"{b:%Y-%m-%d %H:%M:%S}"] for a, b in windows]
    from seqae.metrics import windows_to_labels

    truth = _truth.Truth(labels=np.asarray(windows_to_labels(index.to_numpy(), window_strings), dtype=np.int8),
                          windows=window_strings, windows_are_times=True, source="NAB's labelled windows")
    metrics = _truth.evaluate_scores(truth, scores, labels, index)
    events = detector.events_of(detected)
    plot_anomalies(index, series.to_numpy(), scores, detector.threshold_, labels=labels, true_windows=windows,
                   path=paths["anomalies.png"], names=["value"], train_end=index[n_train - 1], events=events,
                   title=f"seqae demo: {args.series} - {int(labels.sum())} points flagged (red), known anomaly "
                         "windows (green)")
    plot_history(ae.history_, paths["loss.png"], best_epoch=ae.best_epoch_)

    out.info("")
    n_flagged = int(labels.sum())
    out.info(f"Flagged {n_flagged} of {n} points ({n_flagged / n:.2%}); events (start .. end):")
    for line in _common.describe_events(events) or ["  none"]:
        out.info(line)
    out.info("Known anomaly windows (NAB labels):")
    for line in _window_report(index, labels, windows):
        out.info(line)
    out.info(f"Evaluation against the known windows ({int(truth.labels.sum())} anomalous points):")
    shown = {k: metrics[k] for k in ("roc_auc", "pr_auc", "vus_roc", "vus_pr", "precision", "recall", "f1",
                                     "nab_standard") if k in metrics}
    out.info(_truth.format_metrics(shown))
    out.info("")
    out.info(f"Wrote {paths['scores.csv']}, {paths['anomalies.png']} and {paths['loss.png']}.")
    out.info(f"Done in {time.perf_counter() - started:.1f}s (training {fit_seconds:.1f}s, scoring "
             f"{score_seconds:.1f}s; Python's start-up not counted).")
    return 0
