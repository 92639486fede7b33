"""What the subcommands share: argument groups, building models from options, reading series and checking
output paths, and messages. Known anomalies and evaluation are in :mod:`seqae.cli._truth`."""
from __future__ import annotations

import argparse
import ast
import math
import os
import re
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqae.cli._base import PROG, CLIError, HelpFormatter, int_at_least, positive_int  # noqa: F401 (re-exported)
from seqae.exceptions import DataFileError, InputError


# ============================================================================================== messages
class Console:
    """Where the commands talk: results on stdout, progress on stderr, both silenced by ``--quiet``."""

    def __init__(self, quiet: bool = False, verbose: bool = False):
        self.quiet = quiet
        self.verbose = verbose
        self._t0 = time.perf_counter()

    @property
    def progress_bars(self) -> bool:
        """Show training progress bars: with --verbose, or by default when stderr is a terminal."""
        if self.quiet:
            return False
        return self.verbose or sys.stderr.isatty()

    def info(self, message: str = "") -> None:
        """A result line (stdout)."""
        if not self.quiet:
            print(message, flush=True)

    def note(self, message: str) -> None:
        """A remark about how the input was read (stderr, ``seqae: ...``): a choice the user may want to override."""
        if not self.quiet:
            print(f"{PROG}: {message}", file=sys.stderr, flush=True)

    def step(self, message: str) -> None:
        """A progress line (stderr), prefixed with the time since the command started."""
        if not self.quiet:
            print(f"[{time.perf_counter() - self._t0:6.1f}s] {message}", file=sys.stderr, flush=True)


def console(args: argparse.Namespace) -> Console:
    return Console(quiet=getattr(args, "quiet", False), verbose=getattr(args, "verbose", False))


def prepare_kernels(out: Console, device: str | None) -> None:
    """Build the fused CPU kernels before a fit that will use them, so that their one-time build (about a minute)
    is reported apart from the training time."""
    from seqae._params import resolve_device
    from seqae.nn import kernels

    if resolve_device(device).type != "cpu":
        return
    status = kernels.kernel_status()
    if not status.reason.startswith("not built yet"):
        return
    out.step("building the fused CPU LSTM kernels for this installation (once; 'seqae build-kernels' does it "
             "ahead of time)")
    t0 = time.perf_counter()
    available = kernels.extension() is not None
    out.step(f"built the kernels in {time.perf_counter() - t0:.1f}s" if available else
             "the kernels could not be built: training on torch's nn.LSTM (see the warning)")


# ======================================================================================== argument types
window_length = int_at_least(2, " points")
seed = int_at_least(0)


def int_or_none(text: str) -> int | None:
    if text.lower() in ("none", "all", "off"):
        return None
    return positive_int(text)


def _number_in(low: float, high: float):
    """An argparse type: a number in the interval (low, high]."""
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number in ({low:g}, {high:g}], got {text!r}") from None
        if not low < value <= high:
            raise argparse.ArgumentTypeError(f"must be in ({low:g}, {high:g}], got {text}")
        return value
    return convert


contamination = _number_in(0, 0.5)
fraction = _number_in(0, 1)


def margin_or_none(text: str) -> float | None:
    """An argparse type: a number >= 1, or 'none' for no margin."""
    if text.lower() in ("none", "off"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 1 or 'none', got {text!r}") from None
    if not (value >= 1.0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number >= 1 or 'none', got {text}")
    return value


def weight(text: str) -> float:
    """An argparse type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def threshold_param(text: str) -> tuple[str, int | float]:
    """An argparse type: NAME=NUMBER, one parameter of the threshold rule (whole numbers stay int: min_peaks)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    try:
        number: int | float = int(value) if value.strip().lstrip("+-").isdigit() else float(value)
    except ValueError:
        number = math.nan
    if not sep or not name.isidentifier() or not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER such as k=3, got {text!r}")
    return name, number


def column_list(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names such as 'a,b', got {text!r}")
    return names


# How the CLI reads an autoencoder option's value (``Option.value`` in seqae._autoencoder_params).
_OPTION_TYPES = {"count": positive_int, "count_or_none": int_or_none, "positive": positive_float, "seed": seed,
                 "text": str}


# ======================================================================================== argument groups
def add_output_options(parser: argparse.ArgumentParser) -> None:
    talk = parser.add_argument_group("messages")
    excl = talk.add_mutually_exclusive_group()
    excl.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    excl.add_argument("-v", "--verbose", action="store_true",
                      help="more detail, and training progress bars even when stderr is not a terminal")


def add_series_input(parser: argparse.ArgumentParser, *, columns_help: str | None = None) -> None:
    grp = parser.add_argument_group("input")
    when = grp.add_mutually_exclusive_group()
    when.add_argument("--time-column", metavar="C",
                      help="column of dates/times (kept in the output; must be strictly increasing); default: "
                           "the first column that holds them (dates as text, or whole seconds since 1970 under a "
                           "name such as 'timestamp'), said on stderr")
    when.add_argument("--no-time-column", action="store_true",
                      help="the input has no time column: rows are numbered, every column is a value")
    grp.add_argument("--columns", metavar="A,B", type=column_list,
                     help=columns_help or "value columns to use (default: every column but the time column)")


def time_choice(args: argparse.Namespace) -> str | None:
    """What the input options ask for: a column name, None (--no-time-column) or AUTO (find it)."""
    from seqae.io import AUTO

    if getattr(args, "no_time_column", False):
        return None
    return AUTO if args.time_column is None else args.time_column


def add_autoencoder_options(grp: argparse._ArgumentGroup, defaults: dict[str, Any]) -> None:
    """The autoencoder options, one per parameter of seqae._autoencoder_params that has an ``option``; defaults
    shown are the library's (``defaults``), the choices its registries."""
    from seqae._autoencoder_params import PARAMS

    for param in PARAMS:
        option = param.option
        if option is None:
            continue
        text = option.help + (f" (default: {defaults[param.name]})" if option.show_default else "")
        kwargs: dict[str, Any] = {"dest": option.dest or param.name, "help": text}
        if option.value == "switch":
            kwargs.update(action="store_true", default=None)
        elif option.value == "choice":
            kwargs["choices"] = option.choices
        else:
            kwargs.update(type=_OPTION_TYPES[option.value], metavar=option.metavar)
        if option.value == "count_or_none":
            kwargs["default"] = argparse.SUPPRESS   # "none" (None) differs from "not given"
        grp.add_argument(option.flag or "--" + param.name.replace("_", "-"), **kwargs)


def rule_parameters(rule: str) -> dict[str, Any]:
    """The --threshold-param names a threshold rule takes, with their defaults: its threshold function's, and
    the labelling parameters the detector takes out of threshold_params for it (``LABEL_PARAMS`` of
    seqae.detection.base: "dynamic" has min_percent).

    Raises InputError for a rule the threshold functions do not know.
    """
    from seqae.detection.base import LABEL_PARAMS
    from seqae.thresholds import threshold_parameters

    params = threshold_parameters(rule)
    params.update(LABEL_PARAMS.get(rule, {}))
    return params


def _threshold_params_help() -> str:
    """Each rule's parameters and defaults, read from the rules themselves (a rule added later is listed too)."""
    from inspect import Parameter

    from seqae.detection.base import THRESHOLDS

    def show(name, default):
        return name if default is Parameter.empty else f"{name}={default:g}" if isinstance(default, float) \
            else f"{name}={default}"

    rules = []
    for rule in THRESHOLDS:
        try:
            params = rule_parameters(rule)
        except InputError:
            continue  # a detector rule the threshold functions do not know: compute_threshold will say so
        if rule == "quantile":
            params.pop("contamination", None)  # --contamination
        if params:
            rules.append(f"{rule}: {', '.join(show(n, d) for n, d in params.items())}")
    return "; ".join(rules) if rules else "none take any"


def add_detector_options(parser: argparse.ArgumentParser) -> None:
    """Model options of the time-series commands (detect, fit): windows, threshold, autoencoder."""
    from seqae import AnomalyDetector
    from seqae.preprocessing.series_validation import MISSING
    from seqae.preprocessing.windows import AGGREGATIONS
    from seqae.detection.base import THRESHOLDS
    from seqae.detection.series import CHANNEL_WEIGHTS, LATENT_MIXES

    defaults = AnomalyDetector().get_params()
    grp = parser.add_argument_group("model")
    grp.add_argument("--window", type=window_length, metavar="W",
                     help=f"window length in points (default: {defaults['window']})")
    grp.add_argument("--stride", type=positive_int, metavar="S",
                     help="step between scored windows; larger is faster (default: 1)")
    grp.add_argument("--max-train-windows", type=int_or_none, metavar="N",
                     help="train on at most N evenly spaced windows, 'all' for every one "
                          f"(default: {defaults['max_train_windows']})")
    grp.add_argument("--score-aggregation", choices=AGGREGATIONS, metavar="HOW",
                     help="how the errors of the windows covering a point make its score: "
                          f"{', '.join(AGGREGATIONS)} (default: {defaults['score_aggregation']})")
    grp.add_argument("--point-weight", type=weight, metavar="W",
                     help="with a window_ aggregation, the share of each point's own error in its score, so that a "
                          f"short anomaly stands out from its window (default: {defaults['point_weight']})")
    grp.add_argument("--forecast-weight", type=weight, metavar="W",
                     help="the share of the next-step prediction error in each point's score beside the "
                          "reconstruction error; 0.5 finds one-point spikes that the window-level error spreads "
                          f"thin (default: {defaults['forecast_weight']})")
    grp.add_argument("--forecast-margin", type=margin_or_none, metavar="M", default=argparse.SUPPRESS,
                     help="the next-step error also counts where it exceeds M times its largest training value; "
                          f"'none' never (default: {defaults['forecast_margin']})")
    grp.add_argument("--latent-weight", type=weight, metavar="W",
                     help="the share of the windows' latent novelty (how far a window's code lies from the training "
                          "windows' codes) in each point's score, beside the reconstruction error; 0 scores by the "
                          f"errors alone (default: {defaults['latent_weight']})")
    grp.add_argument("--latent-mix", choices=LATENT_MIXES,
                     help="how the weighed novelty joins the weighed error: 'max' scores a point by the larger of "
                          f"the two, 'sum' by their sum (default: {defaults['latent_mix']})")
    grp.add_argument("--center-windows", action=argparse.BooleanOptionalAction, default=None,
                     help="the autoencoder sees each window minus its own mean, so that its error follows the shape "
                          "and not the level, which the latent novelty then compares beside the codes "
                          f"(default: {'on' if defaults['center_windows'] else 'off'})")
    grp.add_argument("--channel-weights", choices=CHANNEL_WEIGHTS,
                     help="several value columns: 'train' weighs down a column whose training error is above the "
                          f"median column's (default: {defaults['channel_weights']})")
    grp.add_argument("--contamination", type=contamination, metavar="F",
                     help="expected share of anomalies in the training part; sets the threshold with "
                          f"--threshold quantile (default: {defaults['contamination']})")
    grp.add_argument("--threshold", choices=THRESHOLDS, metavar="RULE",
                     help="how the threshold is derived from the training scores: "
                          f"{', '.join(THRESHOLDS)} (default: {defaults['threshold']})")
    grp.add_argument("--threshold-param", type=threshold_param, action="append", metavar="NAME=X",
                     help="a parameter of the threshold rule, repeatable; " + _threshold_params_help())
    grp.add_argument("--missing", choices=MISSING,
                     help="missing values (empty cells, NaN): an error, or linear interpolation (default: raise)")
    grp.add_argument("--repair-training", action="store_true", default=None,
                     help="fit twice: the second time on the training part with the first fit's events replaced by "
                          "straight lines, so that anomalies in it are not learnt as normal (twice the fitting time)")
    add_autoencoder_options(grp, defaults)


def add_embed_model_options(parser: argparse.ArgumentParser) -> None:
    from seqae import LSTMAutoencoder

    grp = parser.add_argument_group("model")
    add_autoencoder_options(grp, LSTMAutoencoder().get_params())


_DETECTOR_OPTIONS = ("window", "stride", "max_train_windows", "contamination", "threshold", "score_aggregation",
                     "point_weight", "forecast_weight", "forecast_margin", "latent_weight", "latent_mix",
                     "center_windows", "channel_weights", "missing", "repair_training")
# Options whose value may be None when given ('none'): absent from args unless given (argparse.SUPPRESS).
_NULLABLE_OPTIONS = ("forecast_margin",)


def model_params(args: argparse.Namespace, *, detector: bool, progress: bool) -> dict[str, Any]:
    """Estimator parameters from the options given (the ones not given keep the library defaults)."""
    from seqae._autoencoder_params import PARAMS

    params: dict[str, Any] = {}
    for param in PARAMS:
        if param.option is None:
            continue
        dest = param.option.dest or param.name
        if param.option.value == "count_or_none":
            if hasattr(args, dest):  # given (argparse.SUPPRESS leaves it out otherwise), maybe as None
                params[param.name] = getattr(args, dest)
        elif getattr(args, dest, None) is not None:
            params[param.name] = getattr(args, dest)
    for name in _DETECTOR_OPTIONS if detector else ():
        value = getattr(args, name, None)
        if value is not None or (name in _NULLABLE_OPTIONS and hasattr(args, name)):
            params[name] = value
    if detector and getattr(args, "threshold_param", None):
        params["threshold_params"] = dict(args.threshold_param)
    if getattr(args, "threads", None) is not None:
        params["num_threads"] = args.threads
    params["verbose"] = progress
    return params


def check_threshold_params(args: argparse.Namespace, rule: str) -> None:
    """--threshold-param: each name once, and one the rule takes (before training, in option words)."""
    given = [name for name, _ in getattr(args, "threshold_param", None) or ()]
    twice = sorted({name for name in given if given.count(name) > 1})
    if twice:
        raise CLIError(f"--threshold-param {twice[0]} is given more than once")
    try:
        accepted = list(rule_parameters(rule))
    except InputError:
        return  # a rule the threshold functions do not know: the detector's own check says so
    unknown = [name for name in given if name not in accepted]
    if unknown:
        takes = f"takes {', '.join(accepted)}" if accepted else "takes no parameters"
        raise CLIError(f"--threshold-param {unknown[0]}: --threshold {rule} {takes}")


def check_model(estimator, args: argparse.Namespace | None = None) -> None:
    """Check every parameter (and the device) before reading data or training: errors come first."""
    from seqae._params import resolve_device

    if args is not None and hasattr(estimator, "threshold"):
        check_threshold_params(args, estimator.threshold)
        if getattr(args, "threshold_param", None):
            try:
                estimator._check_label_params()     # min_percent, rounds, ... of "dynamic"
            except InputError as exc:
                raise CLIError(f"--threshold-param: {exc}") from None
    estimator._check_params()  # the autoencoder parameters too, for a detector
    resolve_device(estimator.device)


# ============================================================================================ tables
def table_kind(path: str | os.PathLike, what: str) -> str:
    """'csv' or 'parquet' from the extension (:func:`seqae.io.table_format`); any other name is a usage error."""
    from seqae.io import table_format

    try:
        return table_format(path)
    except DataFileError as exc:
        raise CLIError(f"{what} {exc}") from None


def check_not_input(output: str | os.PathLike, *inputs: str | os.PathLike | None) -> None:
    """Refuse to write an output over one of the command's inputs."""
    out = Path(output).resolve()
    for source in inputs:
        if source is not None and Path(source).resolve() == out:
            raise CLIError(f"{str(output)!r} is also an input of this command; write the output to another file")


def check_writable(path: str | os.PathLike, what: str) -> None:
    """Fail before any long computation when an output cannot be written there."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise CLIError(f"{what} {str(p)!r} is a directory; give a file name")
    if not folder.exists():
        raise CLIError(f"{what} {str(p)!r}: the folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise CLIError(f"{what} {str(p)!r}: {str(folder)!r} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CLIError(f"{what} {str(p)!r}: the folder {str(folder)!r} is not writable")


# The library's words for the input options, and the CLI's: its messages name parameters, ours name flags.
_OPTION_WORDS = (
    (re.compile(r"found by time_column='auto'; pass another time_column"),
     lambda m: "found by itself; pass another with --time-column"),
    (re.compile(r"time_column=None"), lambda m: "--no-time-column"),
    (re.compile(r"time_column=(['\"])(.*?)\1"), lambda m: f"--time-column {shlex.quote(m.group(2))}"),
    (re.compile(r"\(time_column\)"), lambda m: "(--time-column)"),
    (re.compile(r"\bcolumns=\[(.*?)\]"),
     lambda m: "--columns " + shlex.quote(",".join(map(str, ast.literal_eval(f"[{m.group(1)}]"))))),
)


def option_words(message: str) -> str:
    """A library message about the input parameters in the CLI's words (``--time-column timestamp``)."""
    for pattern, flag in _OPTION_WORDS:
        message = pattern.sub(flag, message)
    return message


def read_series(path: str, time_column: str | None, columns: Sequence[str] | None,
                out: Console | None = None) -> pd.DataFrame:
    """Read one series; ``time_column`` AUTO finds it, and ``out`` is told which column it took.

    The time column's name is the index's name (None without one).
    """
    from seqae.io import AUTO, read_table

    try:
        series = read_table(path, time_column=time_column, columns=columns)
    except InputError as exc:
        exc.args = (option_words(str(exc)),)  # keeps the type, and a MissingColumnError's columns
        raise
    if series.attrs.get("headerless") and out is not None:
        out.note(f"{path} has no header row (its first row holds numbers): every row read as data, the columns "
                 "named 0, 1, ... by position (for --columns); add a header row to name them")
    if time_column == AUTO and out is not None and series.index.name is not None:
        taken = series.index.name
        others = [c for c in series.attrs["time_columns"] if c != taken]
        also = (f" and leaving out {', '.join(map(repr, others))}, which also hold{'s' if len(others) == 1 else ''} "
                "dates" if others else "")
        out.note(f"using column {taken!r} as time{also} (override with --time-column, or --no-time-column)")
    return series


def events_table(events: pd.DataFrame, time_column: str | None) -> pd.DataFrame:
    """The events file: with a time column, times in start/end/peak and row positions beside them; without,
    start/end/peak are the 0-based row positions (the same as start_pos/end_pos, which are then left out)."""
    if time_column:
        return events.reset_index(drop=True)
    return events.drop(columns=["start_pos", "end_pos"]).reset_index(drop=True)


def result_frame(series: pd.DataFrame, detected: pd.DataFrame, time_column: str | None) -> pd.DataFrame:
    """One row per input row: time (when the input had a time column), the values, score, label, contributions."""
    clash = sorted(set(map(str, series.columns)) & set(map(str, detected.columns)))
    if clash:
        raise CLIError(f"the input has value column(s) named {', '.join(map(repr, clash))}, which the output "
                       "uses for the results; rename them or leave them out with --columns")
    out = pd.concat([series.reset_index(drop=True), detected.reset_index(drop=True)], axis=1)
    if time_column is not None:
        if time_column in out.columns:
            raise CLIError(f"the time column {time_column!r} has the name of an output column; rename it")
        out.insert(0, time_column, series.index)
    return out


def describe_events(events: pd.DataFrame, limit: int = 10) -> list[str]:
    """Events (``AnomalyDetector.detect_events``'s frame) as text lines in time order, at most ``limit``: the
    highest-scoring."""
    if not len(events):
        return []
    shown = events.nlargest(limit, "peak_score").sort_values("start_pos")
    lines = []
    for e in shown.itertuples():
        if isinstance(e.start, (int, np.integer)):  # no time column: 1-based row numbers, as in the errors
            where = f"row {e.start + 1}" if e.length == 1 else f"rows {e.start + 1} .. {e.end + 1}"
        else:
            where = f"{e.start}" if e.length == 1 else f"{e.start} .. {e.end}"
        channels = f", mostly {e.channels.replace(';', ', ')}" if e.channels else ""
        lines.append(f"  {where}  ({e.length} point{'s' if e.length > 1 else ''}, peak score "
                     f"{e.peak_score:.3g}{channels})")
    if len(events) > limit:
        lines.append(f"  ... and {len(events) - limit} more (the {limit} highest-scoring are shown)")
    return lines
