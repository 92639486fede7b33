"""Known anomalies for the commands that evaluate (detect, score, evaluate, demo): 0/1 label columns of a table,
or NAB-style anomaly windows, read by :mod:`seqae.io` and aligned on the series; and the metrics against them."""
from __future__ import annotations

import argparse
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from seqae.cli._base import CLIError
from seqae.exceptions import DataFileError, InputError


# ====================================================================================== ground truth
@dataclass
class Truth:
    """Known anomalies of one series: 0/1 labels per row, and the windows when the source gave windows."""

    labels: np.ndarray                      # (n,) int8
    windows: list[list[Any]] | None = None  # [start, end] in timestamps (str) or row indices (int)
    windows_are_times: bool = False
    source: str = ""

    def plot_windows(self, index: pd.Index) -> list[tuple[Any, Any]]:
        """(start, end) pairs in the units of ``index`` for the plot."""
        if self.windows is not None and self.windows_are_times:
            return [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in self.windows]
        from seqae.events import label_runs

        return [(index[a], index[b]) for a, b in label_runs(self.labels)]


# read_windows's words for its key parameter: "key=NAME" (choose one), "key='x'" (the one given).
_WINDOWS_KEY = re.compile(r"\bkey=(NAME\b)?")


def windows_truth(path: str, key: str | None, times: pd.Index | None, n: int,
                  default_key: str | None = None) -> Truth:
    from seqae.io import read_windows
    from seqae.metrics import windows_to_labels

    try:
        windows, are_times = read_windows(path, key, data_file=default_key)
    except DataFileError:
        raise
    except InputError as exc:  # which entry to take: the library names its parameter, the user gave the option
        raise CLIError(_WINDOWS_KEY.sub(lambda m: "--windows-key" if m.group(1) else "--windows-key ",
                                        str(exc))) from None
    if are_times:
        if times is None:
            raise CLIError(f"{path} gives windows as timestamps, so the series needs a time column "
                           "(--time-column)")
        labels = windows_to_labels(np.asarray(times), windows) if windows else np.zeros(n, dtype=np.int8)
    else:
        labels = windows_to_labels(np.arange(n), windows) if windows else np.zeros(n, dtype=np.int8)
    return Truth(labels=np.asarray(labels, dtype=np.int8), windows=windows, windows_are_times=are_times,
                 source=str(path))


def _binary_column(values: pd.Series, where: str) -> np.ndarray:
    if values.dtype == bool:
        return values.to_numpy().astype(np.int8)
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() | ~num.isin([0, 1])
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFileError(f"{where}, row {i + 1}: expected 0 or 1, got {values.iloc[i]!r}")
    return num.to_numpy().astype(np.int8)


def table_truth(path: str, label_column: str | None, time_column: str | None, times: pd.Index | None,
                n: int) -> Truth:
    """0/1 labels from a CSV/Parquet column, aligned on the time column when both sides have one, else by row."""
    from seqae.io import read_frame

    df = read_frame(path)
    if label_column is None:
        candidates = [c for c in df.columns if str(c) != time_column]
        if "label" in df.columns:
            label_column = "label"
        elif len(candidates) == 1:
            label_column = candidates[0]
        else:
            raise CLIError(f"{path}: which column holds the 0/1 labels? Name it with --label-column "
                           f"(columns: {', '.join(map(str, df.columns[:20]))})")
    if label_column not in df.columns:
        raise DataFileError(f"{path}: no column {label_column!r} (labels); available columns: "
                            f"{', '.join(map(repr, df.columns[:20]))}")
    where = f"{path}: column {label_column!r}"
    if time_column is not None and times is not None and time_column in df.columns:
        try:
            label_times = pd.DatetimeIndex(pd.to_datetime(df[time_column], format="mixed"))
        except (ValueError, TypeError) as exc:
            raise DataFileError(f"{path}: time column {time_column!r} does not parse as dates ({exc})") from None
        labels = pd.Series(_binary_column(df[label_column], where), index=label_times)
        if not labels.index.is_unique:
            dup = labels.index[labels.index.duplicated()][0]
            raise DataFileError(f"{path}: time column {time_column!r}: {dup} appears more than once")
        target = pd.DatetimeIndex(times)
        if (target.tz is None) != (labels.index.tz is None):
            raise DataFileError(f"{path}: the times of the labels and of the series differ in time zone awareness")
        aligned = labels.reindex(target)
        if aligned.isna().any():
            i = int(np.flatnonzero(aligned.isna().to_numpy())[0])
            raise DataFileError(f"{path}: no label for time {target[i]} (row {i + 1} of the series); "
                                f"{int(aligned.isna().sum())} time(s) have none")
        return Truth(labels=aligned.to_numpy().astype(np.int8), source=str(path))
    labels = _binary_column(df[label_column], where)
    if len(labels) != n:
        raise DataFileError(f"{path}: {len(labels)} label rows, but the series has {n} rows; to align by time "
                            "both files need the time column")
    return Truth(labels=labels, source=str(path))


def load_truth(args: argparse.Namespace, times: pd.Index | None, n: int, time_column: str | None) -> Truth | None:
    """--labels (CSV/Parquet column, or .json windows) or --windows (.json).

    A windows dict keyed by file name (NAB's combined_windows.json) is matched to the input file's name when
    --windows-key is not given.
    """
    labels_path = getattr(args, "labels", None)
    windows_path = getattr(args, "windows", None)
    if labels_path and windows_path:
        raise CLIError("give --labels or --windows, not both")
    key = getattr(args, "windows_key", None)
    if windows_path or (labels_path and str(labels_path).lower().endswith(".json")):
        named_like = getattr(args, "input", None) or getattr(args, "scores", None)
        return windows_truth(windows_path or labels_path, key, times, n, default_key=named_like)
    if labels_path:
        return table_truth(labels_path, getattr(args, "label_column", None), time_column, times, n)
    return None


def add_truth_options(parser: argparse.ArgumentParser, *, title: str = "known anomalies (optional)") -> None:
    grp = parser.add_argument_group(title)
    grp.add_argument("--labels", metavar="FILE",
                     help="a CSV/Parquet file with a 0/1 column, aligned on the time column when both files "
                          "have it, else row by row; or a .json file of anomaly windows")
    grp.add_argument("--windows", metavar="FILE.json",
                     help="anomaly windows as JSON, NAB style: [[start, end], ...] (timestamps or row numbers, "
                          "inclusive) or {\"file.csv\": [[start, end], ...], ...}")
    grp.add_argument("--windows-key", metavar="NAME",
                     help="which entry of a windows dict to use (a key, or its file name without folder and "
                          ".csv; default: the entry named like the input file)")
    grp.add_argument("--label-column", metavar="C",
                     help="column of the labels file holding the 0/1 labels (default: 'label', or the only "
                          "column besides the time column)")


# ======================================================================================== evaluation
METRIC_NAMES = {
    "roc_auc": "ROC-AUC", "pr_auc": "PR-AUC", "vus_roc": "VUS-ROC", "vus_pr": "VUS-PR",
    "precision": "precision", "recall": "recall", "f1": "F1", "range_precision": "range precision",
    "range_recall": "range recall", "range_f1": "range F1", "point_adjusted_f1": "point-adjusted F1 (inflated)",
    "nab_standard": "NAB score (standard profile)",
}


def evaluate_scores(truth: Truth, scores: np.ndarray, predictions: np.ndarray | None,
                    times: pd.Index | None, sliding_window: int = 100) -> dict[str, float]:
    """``seqae.metrics.evaluate`` plus, with windows (or labels) and predictions, the normalised NAB score."""
    from seqae.metrics import evaluate, nab_normalize, nab_score

    result = dict(evaluate(truth.labels, scores, predictions, sliding_window=sliding_window))
    if predictions is not None and truth.windows is not None:
        if truth.windows_are_times:
            r = nab_score(predictions, truth.windows, timestamps=np.asarray(times))
        else:
            r = nab_score(predictions, np.asarray(truth.windows, dtype=np.int64).reshape(-1, 2))
        try:
            result["nab_standard"] = nab_normalize([r])
        except InputError:
            result["nab_standard"] = math.nan  # no scored window (all inside the probationary period)
    return result


def format_metrics(metrics: dict[str, float], extra: dict[str, Any] | None = None) -> str:
    rows = [(METRIC_NAMES.get(k, k), "n/a" if (isinstance(v, float) and math.isnan(v)) else
             (f"{v:.1f}" if k == "nab_standard" else f"{v:.3f}")) for k, v in metrics.items()]
    if extra:
        rows = [(k, str(v)) for k, v in extra.items()] + rows
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"  {name:<{width}}  {value:>7}" for name, value in rows)
