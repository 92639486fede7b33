"""``seqae detect-many``: one detector per series of a long table (fitted on each series' first part), every
row scored, in this process or on Dask workers."""
from __future__ import annotations

import argparse
import logging
import os
import re
from pathlib import Path

import pandas as pd

from seqae.cli import _common
from seqae.cli._base import command_help, positive_int
from seqae.cli._common import CLIError, HelpFormatter
from seqae.detection.series import DEFAULT_TRAIN_FRACTION

# --engine's choices: "local" runs the series one after another here; "dask" on Dask workers through Fugue.
ENGINES = ("local", "dask")

EPILOG = """\
INPUT is a long table: one row per time step of one series, a column of series ids (--by), optionally a
column of times (--time-column), the other columns (or --columns) the values. Each series gets its own
detector, trained on its first --train-fraction of rows with a seed derived from its id and --seed, so a
rerun, or another engine, gives the same output. The output has every row of every series with 'score',
'label', 'event' (the event number within its series, 0 outside events) and 'error' (empty); a series that
failed (too short for the window, all missing, ...) has one row holding its error instead, and the count is
printed. Each series is trained on one torch thread unless --threads says otherwise.

--output-dir DIR instead of -o: the results are written where they are made (by the Dask workers, or series by
series here), never gathered in this process: DIR/scores/ and DIR/events/ (Parquet datasets, one or more files
each; read them with pandas.read_parquet or any Parquet reader), DIR/failures.parquet (one row per failed series
with its error) and DIR/manifest.json. DIR is written beside, then renamed into place: a failed or interrupted
run leaves a previous DIR as it was. For tables whose results do not fit in one process's memory. With
--engine dask, a Parquet INPUT and --time-column (of dates or numbers), the workers read the file themselves:
the table never passes through this process either.

examples:
  seqae detect-many fleet.parquet --by machine --time-column ts -o scores.parquet --events events.csv
  seqae detect-many fleet.parquet --by machine --time-column ts --engine dask --workers 2 -o scores.parquet
  seqae detect-many fleet.parquet --by machine --time-column ts --engine dask --scheduler tcp://head:8786 \\
      -o scores.parquet            # an existing Dask cluster (seqae installed on its workers)
  seqae detect-many fleet.parquet --by machine --time-column ts --engine dask --output-dir results/
"""


def add_parser(sub) -> None:
    p = sub.add_parser("detect-many", help=command_help("detect-many"),
                       description="Fit one anomaly detector per series of a long table and score every row, "
                                   "here or on Dask workers.", epilog=EPILOG, formatter_class=HelpFormatter)
    p.add_argument("input", metavar="INPUT",
                   help="the long table: a CSV (.csv, or compressed: .csv.gz, .bz2, .zip, .xz) or Parquet "
                        "(.parquet, .pq) file")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", metavar="FILE", help="scores file to write (.csv or .parquet)")
    where.add_argument("--output-dir", metavar="DIR", help="write scores/, events/ and failures.parquet into DIR "
                       "from where they are made, without gathering them here (new, empty, or a previous "
                       "--output-dir, which is replaced on success)")
    grp = p.add_argument_group("input")
    grp.add_argument("--by", metavar="C", required=True, help="the column of series ids")
    grp.add_argument("--time-column", metavar="C", help="the column that orders each series' rows (dates, or "
                     "numbers); default: the file's row order")
    grp.add_argument("--columns", metavar="A,B", type=_common.column_list,
                     help="value columns (default: every column but --by and --time-column)")
    grp.add_argument("--train-fraction", type=_common.fraction, metavar="F",
                     help=f"train each series' detector on its first F of rows (default: {DEFAULT_TRAIN_FRACTION})")
    run_grp = p.add_argument_group("where the series run")
    run_grp.add_argument("--engine", choices=ENGINES, default="local",
                         help="local: one after another in this process; dask: on Dask workers "
                              '(pip install "seqae[dask]") (default: local)')
    run_grp.add_argument("--workers", type=positive_int, metavar="N",
                         help="--engine dask: worker processes of the local Dask cluster started for the run, "
                              "one thread each (default: one per core)")
    run_grp.add_argument("--scheduler", metavar="ADDRESS",
                         help="--engine dask: the address of a running Dask scheduler to use instead")
    out = p.add_argument_group("other outputs")
    out.add_argument("--events", metavar="FILE", help="the anomaly events, one row per event with its series id "
                     "(start, end, peak, peak_score, severity), as .csv or .parquet")
    _common.add_detector_options(p)
    _common.add_output_options(p)
    p.set_defaults(run=run)


def _check_args(args: argparse.Namespace) -> None:
    if args.engine != "dask" and (args.workers is not None or args.scheduler is not None):
        flag = "--workers" if args.workers is not None else "--scheduler"
        raise CLIError(f"{flag} is for --engine dask; add --engine dask or leave {flag} out")
    if args.workers is not None and args.scheduler is not None:
        raise CLIError("--workers starts a local cluster, --scheduler uses a running one: give one of them")
    if args.output_dir is not None:
        if args.events:
            raise CLIError("--events is for -o; --output-dir writes the events into DIR/events/: leave --events out")
        from seqae.exceptions import InputError
        from seqae.many._output import check_output

        try:
            target = check_output(args.output_dir)
        except InputError as exc:
            raise CLIError(str(exc).replace("output=", "--output-dir ")) from None
        if target in Path(args.input).absolute().parents:
            raise CLIError(f"--output-dir {args.output_dir!r} holds the input {args.input}, and is replaced on "
                           "success; write to another directory")
        return
    _common.table_kind(args.output, "output")
    _common.check_writable(args.output, "output")
    _common.check_not_input(args.output, args.input)
    if args.events:
        _common.table_kind(args.events, "--events")
        _common.check_writable(args.events, "--events")
        _common.check_not_input(args.events, args.input)


def _columns(names: list[str], args: argparse.Namespace) -> list[str]:
    """The columns the run reads (--by, --time-column, the values), after checking the flags against ``names``."""
    for flag, name in (("--by", args.by), ("--time-column", args.time_column)):
        if name is not None and name not in names:
            raise CLIError(f"{flag} {name!r}: no such column in {args.input}; its columns are {names}")
    if args.by == args.time_column:
        raise CLIError("--by and --time-column name the same column; the series id and the time must differ")
    if args.columns is not None:
        unknown = [c for c in args.columns if c not in names]
        if unknown:
            raise CLIError(f"--columns: {unknown} not in {args.input}; its columns are {names}")
        return [args.by] + ([args.time_column] if args.time_column else []) + list(args.columns)
    return names


def _read_on_workers(args: argparse.Namespace):
    """--engine dask, a Parquet INPUT and --time-column: a Dask frame that the workers read, so that the table
    never passes through this process (only its schema is read here). None where the table is read here
    instead: another engine or format, no time column (a Dask frame keeps no row order), or a time column
    of text, which is parsed as dates here."""
    if args.engine != "dask" or args.time_column is None or _common.table_kind(args.input, "INPUT") != "parquet":
        return None
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(args.input)
        n_rows = pq.ParquetFile(args.input).metadata.num_rows
    except (OSError, pa.ArrowException) as exc:
        raise CLIError(f"{args.input}: cannot read as Parquet: {exc}") from None
    kept = _columns([str(n) for n in schema.names], args)
    time = schema.field(args.time_column).type
    if not (pa.types.is_timestamp(time) or pa.types.is_date(time) or pa.types.is_integer(time)
            or pa.types.is_floating(time)):
        return None
    bad = [c for c in kept if c not in (args.by, args.time_column)
           and not (pa.types.is_integer(schema.field(c).type) or pa.types.is_floating(schema.field(c).type)
                    or pa.types.is_boolean(schema.field(c).type))]
    if bad:
        raise CLIError(f"column(s) {bad} of {args.input} are not numbers; choose the value columns with --columns")
    if n_rows == 0:
        raise CLIError(f"{args.input}: no data rows")
    import dask
    import dask.dataframe as dd

    # Text as pandas reads it (object), not Dask's Arrow strings: the output's id column has one type, whoever read.
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.read_parquet(args.input, columns=kept)


def _read(args: argparse.Namespace) -> pd.DataFrame:
    from seqae.io import read_frame

    table = read_frame(args.input)
    table.columns = [str(c) for c in table.columns]
    table = table[_columns(list(table.columns), args)]
    time = args.time_column
    if time is not None and not (pd.api.types.is_numeric_dtype(table[time])
                                 or pd.api.types.is_datetime64_any_dtype(table[time])):
        try:
            table[time] = pd.to_datetime(table[time])
        except (ValueError, TypeError) as exc:
            raise CLIError(f"--time-column {time!r}: cannot read its values as dates ({exc}); name a column of "
                           "dates or numbers, or leave --time-column out to keep the file's row order") from None
    values = [c for c in table.columns if c not in (args.by, time)]
    bad = [c for c in values if not pd.api.types.is_numeric_dtype(table[c])]
    if bad:
        raise CLIError(f"column(s) {bad} of {args.input} are not numbers; choose the value columns with --columns")
    return table


def _flag_words(message: str) -> str:
    """A series' error in the CLI's words: the detector's parameter names as the flags that set them."""
    return re.sub(r"\b(train_fraction|window|missing='interpolate')",
                  lambda m: "--" + m.group(1).replace("_", "-").replace("='", " ").rstrip("'"), message)


def _engine(args: argparse.Namespace, stack):
    """None for local; else a Dask client (a local cluster started for the run, closed at the end)."""
    if args.engine == "local":
        return None
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise CLIError('--engine dask needs Dask and Fugue: pip install "seqae[dask]"') from None
    if args.scheduler is not None:
        return stack.enter_context(Client(args.scheduler))
    import dask

    from seqae.many import DASK_WORKER_CONFIG

    workers = args.workers or os.cpu_count() or 1
    with dask.config.set(DASK_WORKER_CONFIG):
        # silence_logs: Dask logs each of its shuffles as a WARNING, which is not one for the user.
        cluster = stack.enter_context(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                   dashboard_address=None, silence_logs=logging.ERROR))
    return stack.enter_context(Client(cluster))


def run(args: argparse.Namespace) -> int:
    import contextlib

    from seqae.io import write_table
    from seqae.many import detect_many

    out = _common.console(args)
    _check_args(args)
    params = _common.model_params(args, detector=True, progress=False)
    seed = params.pop("random_state", 0)      # --seed: the base seed, mixed with each series' id
    from seqae import AnomalyDetector

    _common.check_model(AnomalyDetector(**params), args)
    table = _read_on_workers(args)
    if table is None:
        table = _read(args)
        n_series = table[args.by].nunique(dropna=False)
        out.step(f"read {len(table)} rows of {n_series} series from {args.input}; engine {args.engine}")
    else:
        out.step(f"engine dask: the workers read {args.input}")
    _common.prepare_kernels(out, params.get("device", "auto"))
    with contextlib.ExitStack() as stack:
        engine = _engine(args, stack)
        result = detect_many(table, by=args.by, time=args.time_column, engine=engine,
                             train_fraction=args.train_fraction, random_state=seed, output=args.output_dir,
                             **params)
    if args.output_dir is not None:
        return _report_dir(out, result, args)
    if not isinstance(table, pd.DataFrame):    # read by the workers: the series are counted from the result
        n_series = result.scores[args.by].nunique(dropna=False) + result.n_failed
    frame = pd.concat([result.scores.assign(error=None), result.failures], ignore_index=True) \
        if result.n_failed else result.scores.assign(error=None)
    frame = frame.astype({"label": "Int64", "event": "Int64"})   # the failed series' rows have none
    frame["error"] = frame["error"].map(lambda e: e if e is None else _flag_words(e))
    if result.n_failed == n_series:
        raise CLIError(f"all {n_series} series failed; the first: {result.failures['error'].iloc[0]}")
    write_table(frame, args.output)
    n_flagged = int(result.scores["label"].sum())
    out.info(f"wrote {len(result.scores)} rows of {n_series - result.n_failed} series to {args.output}: "
             f"{n_flagged} flagged, {len(result.events)} events")
    _report_failures(out, result, n_series, f"rows with 'error' in {args.output}")
    if args.events:
        write_table(result.events, args.events)
        out.info(f"wrote {len(result.events)} events to {args.events}")
    return 0


def _report_failures(out, result, n_series: int, where: str) -> None:
    if result.n_failed:
        out.info(f"{result.n_failed} of {n_series} series failed ({where}); the first:")
        for sid, error in result.failures.head(3).itertuples(index=False):
            out.info(f"  {sid}: {_flag_words(error)}")


def _report_dir(out, result, args: argparse.Namespace) -> int:
    """--output-dir: the counts (the rows are on disk, written by whoever made them)."""
    if result.n_failed == result.n_series:
        raise CLIError(f"all {result.n_series} series failed (written to {args.output_dir}); the first: "
                       f"{_flag_words(result.failures['error'].iloc[0])}")
    out.info(f"wrote {result.n_rows} rows of {result.n_series - result.n_failed} series and {result.n_events} "
             f"events to {args.output_dir} (scores/, events/, failures.parquet)")
    _report_failures(out, result, result.n_series, f"listed in {Path(args.output_dir) / 'failures.parquet'}")
    return 0
