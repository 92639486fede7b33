"""``seqae score``: apply a saved anomaly detector to a series."""
from __future__ import annotations

import argparse

import pandas as pd

from seqae.cli import _common, _truth
from seqae.cli._base import command_help
from seqae.cli._common import CLIError, HelpFormatter
from seqae.cli.detect import add_output_files, check_outputs, check_series, report
from seqae.exceptions import MissingColumnError

EPILOG = """\
INPUT must have the value columns the model was trained on: they are found by name (the file's other
columns are ignored), and a file without them is an error that names them. --columns names the file's
columns that stand for the model's instead, in the model's order. The output is as for 'seqae detect':
one row per input row with 'score' and 'label'.

examples:
  seqae score model.seqae new.csv --time-column timestamp -o scores.csv --plot anomalies.png
  seqae score model.seqae new.parquet -o scores.parquet --missing interpolate
"""


def add_parser(sub) -> None:
    from seqae.preprocessing.series_validation import MISSING

    p = sub.add_parser("score", help=command_help("score"),
                       description="Score every row of a time series (CSV or Parquet) with a detector saved by "
                                   "'seqae fit' or 'seqae detect --save-model'.",
                       epilog=EPILOG, formatter_class=HelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a model file from 'seqae fit'")
    p.add_argument("input", metavar="INPUT",
                   help="the series: a CSV (.csv, or compressed: .csv.gz, .bz2, .zip, .xz) or Parquet "
                        "(.parquet, .pq) file")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="scores file to write (.csv or .parquet)")
    _common.add_series_input(p, columns_help="value columns, in the model's order (default: the columns the "
                                             "model was trained on)")
    add_output_files(p, save_model=False)
    _truth.add_truth_options(p)
    grp = p.add_argument_group("model")
    grp.add_argument("--missing", choices=MISSING,
                     help="missing values: an error, or linear interpolation (default: as when fitted)")
    grp.add_argument("--device", metavar="D", help="run on this device instead of the saved one (e.g. cpu)")
    _common.add_output_options(p)
    p.set_defaults(run=run)


def _check_column_map(columns: list[str], names: list[str]) -> None:
    """--columns stands for the model's columns, in its order: a model column named in another place is a mistake
    (scored by position, a swapped pair flags nearly every point), never a mapping."""
    given = ",".join(columns)
    if len(columns) != len(names):
        raise CLIError(f"--columns {given}: the model expects {len(names)} value column(s) ({','.join(names)}), "
                       f"got {len(columns)}")
    for i, col in enumerate(columns):
        if col != names[i] and col in names:
            raise CLIError(f"--columns {given}: {col!r} is the model's column {names.index(col) + 1}, not {i + 1}; "
                           f"give its columns in its order ({','.join(names)}), or other columns in their places")


def _read_for_model(args: argparse.Namespace, names: list[str], out) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The series as read (for the output) and as the model sees it (its column names).

    By default the model's columns are found by name (the file's other columns are ignored, its order does not
    matter); a file without them is an error that names the missing columns and the file's others. --columns
    names the file's columns that stand for the model's, in its order.
    """
    choice = _common.time_choice(args)
    if args.columns is not None:
        _check_column_map(args.columns, names)
        series = _common.read_series(args.input, choice, args.columns, out)
        return series, series.set_axis(names, axis=1)
    try:
        series = _common.read_series(args.input, choice, names, out)
    except MissingColumnError as exc:
        if not set(exc.missing) <= set(names):
            raise  # the time column
        instead = f"; it has {', '.join(map(repr, exc.others))} instead" if exc.others else ""
        raise CLIError(f"{args.input} lacks the model's column(s) {', '.join(map(repr, exc.missing))}{instead}. "
                       f"Rename them, or name the columns that stand for the model's ({','.join(names)}) in that "
                       "order with --columns") from None
    return series, series


def run(args: argparse.Namespace) -> int:
    import seqae
    from seqae import AnomalyDetector
    from seqae.exceptions import ModelFileError

    out = _common.console(args)
    check_outputs(args)
    model = seqae.load(args.model, device=args.device)
    if not isinstance(model, AnomalyDetector):
        raise ModelFileError(f"{args.model!r} holds a {type(model).__name__}, not an AnomalyDetector; 'seqae score' "
                             "needs a model from 'seqae fit' or 'seqae detect --save-model'")
    if args.missing is not None:
        model.set_params(missing=args.missing)
    names = list(model.feature_names_in_)
    series, as_fitted = _read_for_model(args, names, out)
    args.time_column = series.index.name  # found or given: the labels and the output use it
    check_series(series, model.missing, model.window, args.input, "the model needs at least one full window")
    truth = _truth.load_truth(args, series.index if args.time_column else None, len(series), args.time_column)
    out.step(f"read {len(series)} rows x {series.shape[1]} column(s) from {args.input}; scoring with {args.model}")
    detected = model.detect(as_fitted)
    # Contributions under the file's names, as its value columns in the output.
    detected = detected.rename(columns={f"contribution_{m}": f"contribution_{f}"
                                        for m, f in zip(as_fitted.columns, series.columns)})
    report(out, args, series, detected, model, truth)
    return 0
