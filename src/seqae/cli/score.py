"""``seqae score``: apply a saved anomaly detector to a series."""
from __future__ import annotations

import argparse

from seqae.cli import _common
from seqae.cli._common import CLIError, HelpFormatter
from seqae.cli.detect import add_output_files, check_length, check_missing, check_outputs, report
from seqae.exceptions import DataFileError

EPILOG = """\
INPUT must have the value columns the model was trained on (found by name; --columns picks others, in the
training order). The output is as for 'seqae detect': one row per input row with 'score' and 'label'.

examples:
  seqae score model.seqae new.csv --time-column timestamp -o scores.csv --plot anomalies.png
  seqae score model.seqae new.parquet -o scores.parquet --missing interpolate
"""


def add_parser(sub) -> None:
    p = sub.add_parser("score", help="score a series with a saved detector",
                       description="Score every row of a time series (CSV or Parquet) with a detector saved by "
                                   "'seqae fit' or 'seqae detect --save-model'.",
                       epilog=EPILOG, formatter_class=HelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a model file from 'seqae fit'")
    p.add_argument("input", metavar="INPUT", help="the series: a .csv, .csv.gz, .parquet or .pq file")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="scores file to write (.csv or .parquet)")
    _common.add_series_input(p, columns_help="value columns, in the model's order (default: the columns the "
                                             "model was trained on)")
    add_output_files(p, save_model=False)
    _common.add_truth_options(p)
    grp = p.add_argument_group("model")
    grp.add_argument("--missing", choices=("raise", "interpolate"),
                     help="missing values: an error, or linear interpolation (default: as when fitted)")
    grp.add_argument("--device", metavar="D", help="run on this device instead of the saved one (e.g. cpu)")
    _common.add_output_options(p)
    p.set_defaults(run=run)


def _read_for_model(args: argparse.Namespace, names: list[str]):
    if args.columns is not None:
        return _common.read_series(args.input, args.time_column, args.columns)
    try:
        return _common.read_series(args.input, args.time_column, names)
    except DataFileError as exc:
        if "no column" not in str(exc):
            raise
        series = _common.read_series(args.input, args.time_column, None)
    if series.shape[1] != len(names):
        raise CLIError(f"{args.input} has no column(s) {', '.join(map(repr, names))} that the model was trained on; "
                       f"it has {', '.join(map(repr, series.columns[:20]))}. Name the ones to use with --columns")
    return series  # as many columns as the model, under other names: used in file order


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
    series = _read_for_model(args, names)
    if series.shape[1] != len(names):
        raise CLIError(f"the model expects {len(names)} value column(s) ({', '.join(names)}), got "
                       f"{series.shape[1]} from --columns")
    check_missing(series, args.input, model.missing)
    check_length(len(series), model.window, args.input, "the model needs at least one full window")
    truth = _common.load_truth(args, series.index if args.time_column else None, len(series), args.time_column)
    out.step(f"read {len(series)} rows x {series.shape[1]} column(s) from {args.input}; scoring with {args.model}")
    detected = model.detect(series)
    report(out, args, series, detected, model, truth)
    return 0
