"""``seqae detect``: fit an anomaly detector on the first part of a series (or another file) and score every row."""
from __future__ import annotations

import argparse

import pandas as pd

from seqae.cli import _common, _truth
from seqae.cli._base import command_help
from seqae.cli._common import CLIError, Console, HelpFormatter
from seqae.detection.series import DEFAULT_TRAIN_FRACTION, training_rows

EPILOG = """\
The detector is trained on the first --train-fraction of the rows (default 0.3; that part should be
mostly normal) or on another file (--train), then every row of INPUT is scored. The time column is the
first column of dates or times (said on stderr; --time-column picks another, --no-time-column none). The
output has one row per input row: the time column, the value columns, 'score' (higher = more abnormal),
'label' (1 = flagged: score above the threshold learned on the training part) and, for several value
columns, 'contribution_<column>' (each column's share of the score).

examples:
  seqae detect data.csv -o scores.csv                  # finds the time column, says which
  seqae detect data.csv --time-column timestamp --columns cpu,memory --window 32 --epochs 20 \\
      -o scores.parquet --plot anomalies.png --save-model model.seqae
  seqae detect test.csv --train normal.csv --time-column t --threshold pot --threshold-param q=1e-4 \\
      --score-aggregation window_mean -o scores.csv
  seqae detect nyc_taxi.csv --time-column timestamp --windows combined_windows.json \\
      --windows-key nyc_taxi -o scores.csv --plot anomalies.png     # also prints ROC-AUC, VUS-PR, NAB
"""


def add_parser(sub) -> None:
    p = sub.add_parser("detect", help=command_help("detect"),
                       description="Fit an LSTM-autoencoder anomaly detector and score every row of a time "
                                   "series (CSV or Parquet).",
                       epilog=EPILOG, formatter_class=HelpFormatter)
    p.add_argument("input", metavar="INPUT",
                   help="the series: a CSV (.csv, or compressed: .csv.gz, .bz2, .zip, .xz) or Parquet "
                        "(.parquet, .pq) file")
    p.add_argument("-o", "--output", metavar="FILE", required=True,
                   help="scores file to write (.csv or .parquet)")
    _common.add_series_input(p)
    train = p.add_argument_group("training data").add_mutually_exclusive_group()
    train.add_argument("--train-fraction", type=_common.fraction, metavar="F",
                       help=f"train on the first F of the rows (default: {DEFAULT_TRAIN_FRACTION})")
    train.add_argument("--train", metavar="FILE", help="train on this file instead (same columns)")
    add_output_files(p, save_model=True)
    _truth.add_truth_options(p)
    _common.add_detector_options(p)
    _common.add_output_options(p)
    p.set_defaults(run=run)


def add_output_files(p: argparse.ArgumentParser, *, save_model: bool) -> None:
    grp = p.add_argument_group("other outputs")
    grp.add_argument("--events", metavar="FILE", help="the anomaly events, one row per interval (start, end, "
                     "peak, peak_score, severity, channels), as .csv or .parquet")
    grp.add_argument("--plot", metavar="FILE.png", help="plot of the series, scores, threshold and anomaly events")
    grp.add_argument("--plot-contributions", metavar="FILE.png",
                     help="plot of each column's share of the score (several value columns)")
    if save_model:
        grp.add_argument("--save-model", metavar="FILE", help="save the fitted detector (for 'seqae score')")


def check_outputs(args: argparse.Namespace) -> None:
    """Every output path is checked before the (possibly long) training."""
    _common.table_kind(args.output, "output")
    _common.check_writable(args.output, "output")
    inputs = [getattr(args, name, None) for name in ("input", "train", "model", "labels", "windows")]
    _common.check_not_input(args.output, *inputs)
    if getattr(args, "events", None):
        _common.table_kind(args.events, "--events")
        _common.check_writable(args.events, "--events")
    for attr, what in (("plot", "--plot"), ("plot_contributions", "--plot-contributions"),
                       ("save_model", "--save-model")):
        path = getattr(args, attr, None)
        if path:
            _common.check_not_input(path, *inputs)
            if attr.startswith("plot") and not str(path).lower().endswith(".png"):
                raise CLIError(f"{what} {path!r}: plots are written as PNG; use a .png name")
            _common.check_writable(path, what)


def check_series(series: pd.DataFrame, missing: str, window: int, source: str, hint: str,
                 what: str | None = None) -> None:
    """The detector's own check of its input (:func:`seqae.preprocessing.check_series`), run before training so
    that a missing value anywhere or too short a series stops the command at once; its message in the CLI's
    words: the file, rows counted from 1, the option that fixes it. ``what`` names the series when it is not
    the whole of ``source`` (default: ``source``)."""
    from seqae.exceptions import MissingValueError, SeriesTooShortError
    from seqae.preprocessing import check_series as check

    try:
        check(series, min_length=window, missing=missing)
    except MissingValueError as exc:
        r = exc.position
        when = f" ({series.index[r]})" if isinstance(series.index, pd.DatetimeIndex) else ""
        raise CLIError(f"{source}: column {exc.column!r}, row {r + 1}{when}: missing value; {exc.count} in all. "
                       "Pass --missing interpolate to fill them") from None
    except SeriesTooShortError as exc:
        raise CLIError(f"{what or source} has {exc.length} row(s), fewer than the window ({window} points); "
                       f"{hint}") from None


def run(args: argparse.Namespace) -> int:
    from seqae import AnomalyDetector

    out = _common.console(args)
    check_outputs(args)
    detector = AnomalyDetector(**_common.model_params(args, detector=True, progress=out.progress_bars))
    _common.check_model(detector, args)
    series = _common.read_series(args.input, _common.time_choice(args), args.columns, out)
    args.time_column = series.index.name  # found or given: the training file, labels and output use it
    window = detector.window
    check_series(series, detector.missing, window, args.input, "use a smaller --window or a longer series")

    if args.train is not None:
        train = _common.read_series(args.train, args.time_column, list(map(str, series.columns)))
        check_series(train, detector.missing, window, args.train, "use a smaller --window or a longer training series",
                     what=f"the training file {args.train}")
        where = args.train
        train_end = None                    # the training part is another file: nothing to mark in this one
    else:
        frac = args.train_fraction if args.train_fraction is not None else DEFAULT_TRAIN_FRACTION
        n_train = training_rows(len(series), frac)
        train = series.iloc[:n_train]
        check_series(train, detector.missing, window, args.input,
                     "use a larger --train-fraction, a smaller --window or a longer series",
                     what=f"the training part (the first {frac:g} of {len(series)} rows)")
        where = f"the first {n_train} rows ({frac:g})"
        train_end = series.index[n_train - 1]
    truth = _truth.load_truth(args, series.index if args.time_column else None, len(series), args.time_column)

    out.step(f"read {len(series)} rows x {series.shape[1]} column(s) from {args.input}; training on {where}")
    fit_detector(detector, train, out)
    out.step("scoring every row")
    detected = detector.detect(series)
    report(out, args, series, detected, detector, truth, train_end=train_end)
    if getattr(args, "save_model", None):
        detector.save(args.save_model)
        out.info(f"saved the detector to {args.save_model}")
    return 0


def fit_detector(detector, train: pd.DataFrame, out: Console, checkpoint=None):
    params = detector.get_params()
    cap = params["max_train_windows"]
    out.step(f"training: window {params['window']}, hidden {params['hidden_size']}, latent {params['latent_dim']}, "
             f"up to {params['epochs']} epochs on {'all' if cap is None else f'at most {cap}'} windows")
    _common.prepare_kernels(out, params["device"])
    detector.fit(train, checkpoint=checkpoint)
    ae = detector.autoencoder_
    out.step(f"trained {ae.n_epochs_} epoch(s) in {ae.training_seconds_:.1f}s ({ae.stop_reason_.replace('_', ' ')}; "
             f"kept epoch {ae.best_epoch_}); threshold {detector.threshold_:.4g} ({params['threshold']})")
    if params["repair_training"]:
        k = len(detector.repaired_events_)
        out.step(f"the second fit saw {k} event(s) of the training part repaired" if k else
                 "the first fit found no event in the training part: nothing to repair, one fit")
    return detector


def report(out: Console, args: argparse.Namespace, series: pd.DataFrame, detected: pd.DataFrame, detector,
           truth: _truth.Truth | None, train_end=None) -> dict[str, float] | None:
    """Write the scores (and plots), print what was flagged and, with known anomalies, the evaluation.
    ``train_end``: the last row of the training part, marked in the plot (None: trained on another file)."""
    from seqae.io import write_table
    from seqae.plotting import plot_anomalies, plot_contributions

    frame = _common.result_frame(series, detected, args.time_column)
    write_table(frame, args.output)
    scores = detected["score"].to_numpy()
    labels = detected["label"].to_numpy()
    n_flagged = int(labels.sum())
    out.info(f"wrote {len(frame)} rows to {args.output}: {n_flagged} flagged ({n_flagged / len(frame):.2%}), "
             f"threshold {detector.threshold_:.4g}")
    events = detector.events_of(detected)
    lines = _common.describe_events(events)
    if lines:
        out.info(f"{len(events)} event{'s' if len(events) != 1 else ''} (start .. end):")
        for line in lines:
            out.info(line)
    if getattr(args, "events", None):
        write_table(_common.events_table(events, args.time_column), args.events)
        out.info(f"wrote {len(events)} events to {args.events}")
    metrics = None
    if truth is not None:
        metrics = _truth.evaluate_scores(truth, scores, labels, series.index if args.time_column else None)
        out.info(f"evaluation against {truth.source} ({int(truth.labels.sum())} anomalous points):")
        out.info(_truth.format_metrics(metrics))
    names = list(map(str, series.columns))
    if getattr(args, "plot", None):
        plot_anomalies(series.index, series.to_numpy(), scores, detector.threshold_, labels=labels,
                       true_windows=truth.plot_windows(series.index) if truth is not None else None,
                       path=args.plot, names=names, events=events, train_end=train_end)
        out.info(f"wrote the plot to {args.plot}")
    if getattr(args, "plot_contributions", None):
        contributions = (detected[[f"contribution_{c}" for c in names]].to_numpy() if len(names) > 1
                         else scores[:, None])
        plot_contributions(series.index, contributions, names, args.plot_contributions,
                           threshold=detector.threshold_)
        out.info(f"wrote the contributions plot to {args.plot_contributions}")
    return metrics
