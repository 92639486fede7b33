"""The NAB series that ship with seqae (in ``shipped/``, MIT licence), with their labelled anomaly windows."""
from __future__ import annotations

from importlib import resources

import pandas as pd

from seqae.exceptions import InputError
from seqae.io.nab import read_windows_by_series
from seqae.io.table import read_table

_WINDOWS_FILE = "nab_windows.json"


def _data_dir():
    return resources.files("seqae.io") / "shipped"


def _demo_windows() -> dict[str, list[list[str]]]:
    """The NAB label windows of the shipped series, keyed by series name (file name without ``.csv``)."""
    with resources.as_file(_data_dir() / _WINDOWS_FILE) as path:
        return read_windows_by_series(path)


def list_demo_series() -> list[str]:
    """Names of the NAB series that ship with seqae, for :func:`load_demo_series`.

    Examples
    --------
    >>> list_demo_series()
    ['art_daily_jumpsup', 'nyc_taxi']
    """
    return sorted(name for name in _demo_windows() if (_data_dir() / f"{name}.csv").is_file())


def load_demo_series(name: str = "nyc_taxi") -> tuple[pd.DataFrame, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """Load a built-in series from the Numenta Anomaly Benchmark, with its labelled anomaly windows.

    Shipped (MIT licence, see ``seqae/io/shipped/NAB_LICENSE.txt``):

    - ``"nyc_taxi"``: NYC taxi passengers every 30 minutes, Jul 2014 - Jan 2015 (10,320 points, 5 windows
      around the NYC marathon, Thanksgiving, Christmas, New Year and a blizzard);
    - ``"art_daily_jumpsup"``: an artificial daily pattern, every 5 minutes (4,032 points, 1 window).

    Parameters
    ----------
    name : str, default "nyc_taxi"
        One of :func:`list_demo_series`.

    Returns
    -------
    series : pandas.DataFrame
        Indexed by ``timestamp`` (a DatetimeIndex), one float64 column ``value``.
    windows : list of (pandas.Timestamp, pandas.Timestamp)
        NAB's anomaly windows (start, end), inclusive, in time order.

    Raises
    ------
    InputError
        For an unknown name.

    Examples
    --------
    >>> series, windows = load_demo_series("nyc_taxi")
    >>> len(series), len(windows)
    (10320, 5)
    """
    available = list_demo_series()
    if name not in available:
        raise InputError(f"unknown demo series {name!r}; choose one of {', '.join(available)}")
    with resources.as_file(_data_dir() / f"{name}.csv") as csv_path:
        series = read_table(csv_path, time_column="timestamp", columns=["value"])
    windows = [(pd.Timestamp(start), pd.Timestamp(end)) for start, end in _demo_windows()[name]]
    return series, sorted(windows)
