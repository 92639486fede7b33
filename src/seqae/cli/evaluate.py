"""``seqae evaluate``: metrics of a scores file against known anomalies."""
from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pandas as pd

from seqae.cli import _common, _truth
from seqae.cli._base import command_help
from seqae.cli._common import CLIError, HelpFormatter
from seqae.exceptions import DataFileError

EPILOG = """\
Known anomalies come as a CSV/Parquet file with a 0/1 column (aligned on the time column when both files
have it, else row by row) or as JSON windows, NAB style: [[start, end], ...] with timestamps (or row
numbers), inclusive, or a dict of such lists keyed by file name (as NAB's combined_windows.json).

Printed: ROC-AUC, PR-AUC, VUS-ROC and VUS-PR from the scores; when the scores file has the 0/1 'label'
column, also point-wise and range-based precision/recall/F1, and with windows the NAB score (standard
profile, normalised so that no detection scores 0 and a perfect detector 100).

examples:
  seqae evaluate scores.csv --labels truth.csv --label-column is_anomaly
  seqae evaluate scores.csv --windows combined_windows.json --windows-key nyc_taxi
  seqae evaluate scores.parquet --windows windows.json --json > metrics.json
"""


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help=command_help("evaluate"),
                       description="Evaluate anomaly scores (from 'seqae detect' or 'seqae score', or any "
                                   "CSV/Parquet file with a score column) against known anomalies.",
                       epilog=EPILOG, formatter_class=HelpFormatter)
    p.add_argument("scores", metavar="SCORES", help="the scores file (.csv or .parquet)")
    _truth.add_truth_options(p, title="known anomalies (--labels or --windows is required)")
    cols = p.add_argument_group("columns of the scores file")
    cols.add_argument("--score-column", default="score", metavar="C", help="anomaly scores (default: score)")
    cols.add_argument("--prediction-column", default=None, metavar="C",
                      help="0/1 detections (default: 'label' when present; the threshold metrics and the NAB "
                           "score need it)")
    cols.add_argument("--time-column", metavar="C",
                      help="timestamps (default: the first column that holds dates)")
    opts = p.add_argument_group("output")
    opts.add_argument("--sliding-window", type=_common.positive_int, default=100, metavar="N",
                      help="largest border width of VUS (default: 100)")
    opts.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(run=run)


def _detect_time_column(df: pd.DataFrame) -> str | None:
    from seqae.io import find_time_columns

    found = find_time_columns(df)
    return str(found[0]) if found else None


def _numeric(df: pd.DataFrame, column: str, path: str, what: str) -> np.ndarray:
    if column not in df.columns:
        raise DataFileError(f"{path}: no column {column!r} ({what}); available columns: "
                            f"{', '.join(map(repr, df.columns[:20]))}")
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataFileError(f"{path}: column {column!r}, row {i + 1}: {df[column].iloc[i]!r} is not a finite number")
    return values


def run(args: argparse.Namespace) -> int:
    if not args.labels and not args.windows:
        raise CLIError("evaluate: give the known anomalies with --labels FILE or --windows FILE.json")
    from seqae.io import read_frame

    df = read_frame(args.scores)
    time_column = args.time_column
    if time_column is None:
        time_column = _detect_time_column(df)
    elif time_column not in df.columns:
        raise DataFileError(f"{args.scores}: no column {time_column!r} (time column); available columns: "
                            f"{', '.join(map(repr, df.columns[:20]))}")
    times = None
    if time_column is not None:
        try:
            times = pd.DatetimeIndex(pd.to_datetime(df[time_column], format="mixed"))
        except (ValueError, TypeError) as exc:
            raise DataFileError(f"{args.scores}: time column {time_column!r} does not parse as dates: "
                                f"{str(exc).splitlines()[0]}") from None
    scores = _numeric(df, args.score_column, args.scores, "scores")
    predictions = None
    pred_column = args.prediction_column or ("label" if "label" in df.columns else None)
    if pred_column is not None:
        predictions = _numeric(df, pred_column, args.scores, "0/1 detections")
        if not np.isin(predictions, (0, 1)).all():
            i = int(np.flatnonzero(~np.isin(predictions, (0, 1)))[0])
            raise DataFileError(f"{args.scores}: column {pred_column!r}, row {i + 1}: expected 0 or 1, got "
                                f"{predictions[i]:g}")
        predictions = predictions.astype(np.int8)
    truth = _truth.load_truth(args, times, len(df), time_column)
    assert truth is not None
    metrics = _truth.evaluate_scores(truth, scores, predictions, times, sliding_window=args.sliding_window)
    if args.json:
        doc = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()}
        doc.update(n_points=len(df), n_anomalous_points=int(truth.labels.sum()),
                   n_flagged=None if predictions is None else int(predictions.sum()))
        print(json.dumps(doc, indent=2))
        return 0
    extra = {"points": len(df), "anomalous points": int(truth.labels.sum())}
    if predictions is not None:
        extra["flagged points"] = int(predictions.sum())
    print(f"{args.scores} against {truth.source}:")
    print(_truth.format_metrics(metrics, extra))
    if truth.labels.sum() == 0 or truth.labels.sum() == len(truth.labels):
        print("(the labels hold one class only, so the threshold-free metrics are undefined: n/a)")
    return 0
