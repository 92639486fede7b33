"""Finding the time column of a table by itself (``find_time_columns``, ``read_table(time_column="auto")``),
and reading CSV files whose fields are separated by something other than commas (SKAB's ';')."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqae.datasets import data_root, find_time_columns, read_table
from seqae.exceptions import DataFileError, MissingColumnError


def write(tmp_path: Path, text: str, name: str = "s.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ========================================================================================= find_time_columns
def test_iso_strings_are_a_time_column():
    df = pd.DataFrame({"value": [1.0, 2.0, 3.0],
                       "when": ["2024-01-01T00:00:00", "2024-01-01T00:05:00", "2024-01-01T00:10:00"]})
    assert find_time_columns(df) == ["when"]


def test_datetime_dtype_and_other_layouts_are_time_columns():
    df = pd.DataFrame({"t": pd.date_range("2024-01-01", periods=2, freq="h"),
                       "us": ["01/31/2024 10:00", "02/01/2024 10:00"], "v": [1, 2]})
    assert find_time_columns(df) == ["t", "us"]


def test_numeric_only_table_has_no_time_column():
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4], "c": [1_600_000_000, 1_600_000_060]})  # 'c': not a time name
    assert find_time_columns(df) == []


@pytest.mark.parametrize("values", [
    ["ok", "late", "ok"],              # plain text
    ["May", "June", "July"],           # month names alone parse with dateutil: categories, not times
    ["2024-01-01", "soon", "2024-01-03"],  # one value does not parse
    ["12,5", "13,1", "9,0"],           # numbers with decimal commas
])
def test_text_that_does_not_parse_is_not_taken(values):
    df = pd.DataFrame({"note": values, "v": [1.0, 2.0, 3.0]})
    assert find_time_columns(df) == []


@pytest.mark.parametrize("name", ["timestamp", "time", "Date", "date_time", "DateTime"])
def test_epoch_seconds_under_a_time_name_are_a_time_column(name):
    df = pd.DataFrame({name: [1_600_000_000, 1_600_000_060], "v": [1.0, 2.0]})
    assert find_time_columns(df) == [name]


@pytest.mark.parametrize("column", [
    [0, 1],                            # step numbers
    [1_600_000_000_000, 1_600_000_060_000],  # milliseconds
    [1.6e9, 1.6e9 + 60],               # floats: not whole seconds as written
])
def test_other_numbers_under_a_time_name_are_not(column):
    assert find_time_columns(pd.DataFrame({"time": column, "v": [1.0, 2.0]})) == []


# ================================================================================ read_table(time_column="auto")
def test_auto_takes_the_iso_column_and_says_which(tmp_path):
    path = write(tmp_path, "a,timestamp,b\n1,2024-01-01 00:00,2\n3,2024-01-01 00:05,4\n")
    df = read_table(path, time_column="auto")
    assert df.index.name == "timestamp" and df.index[1] == pd.Timestamp("2024-01-01 00:05")
    assert list(df.columns) == ["a", "b"]
    assert df.attrs["time_columns"] == ["timestamp"]


def test_auto_on_numbers_only_indexes_by_position(tmp_path):
    df = read_table(write(tmp_path, "a,b\n1,2\n3,4\n"), time_column="auto")
    assert isinstance(df.index, pd.RangeIndex) and list(df.columns) == ["a", "b"]
    assert df.attrs["time_columns"] == []


def test_auto_with_two_candidates_takes_the_first_and_lists_both(tmp_path):
    path = write(tmp_path, "start,end,v\n2024-01-01,2024-01-02,1\n2024-01-02,2024-01-03,2\n")
    df = read_table(path, time_column="auto")
    assert df.index.name == "start" and df.attrs["time_columns"] == ["start", "end"]
    assert list(df.columns) == ["v"]  # the other column of times is no value column
    # Named as one, it is read as numbers, and is not.
    with pytest.raises(DataFileError, match=r"column 'end', row 1 \(line 2\): '2024-01-02' is not a number"):
        read_table(path, time_column="start", columns=["end", "v"])


def test_auto_skips_a_time_like_column_picked_as_a_value(tmp_path):
    path = write(tmp_path, "time,v\n1600000000,1\n1600000060,2\n")
    df = read_table(path, time_column="auto", columns=["time", "v"])
    assert isinstance(df.index, pd.RangeIndex) and df["time"].tolist() == [1.6e9, 1600000060.0]


def test_epoch_seconds_are_read_as_times(tmp_path):
    path = write(tmp_path, "timestamp,v\n1600000000,1\n1600000060,2\n")
    for how in ("auto", "timestamp"):  # found, or named: the same reading
        df = read_table(path, time_column=how)
        assert df.index.name == "timestamp"
        assert df.index[1] == pd.Timestamp("2020-09-13 12:27:40")
    # Small numbers stay an error when named as the time column: they are not seconds since 1970.
    with pytest.raises(DataFileError, match="holds numbers, not dates/times"):
        read_table(write(tmp_path, "time,v\n1,1\n2,2\n", "steps.csv"), time_column="time")


def test_a_later_row_that_does_not_parse_is_named(tmp_path):
    # Detection looks at the first rows; the full parse names the row that fails.
    times = pd.date_range("2024-01-01", periods=1200, freq="min").strftime("%Y-%m-%d %H:%M").tolist()
    times[1100] = "later"  # past the 1000 rows detection looks at
    text = "t,v\n" + "\n".join(f"{t},{i}" for i, t in enumerate(times)) + "\n"
    with pytest.raises(DataFileError, match=r"time column 't', row 1101 \(line 1102\): cannot parse 'later' as a "
                                            r"date/time \(found by time_column='auto'; pass another time_column, "
                                            r"or time_column=None for none\)$"):
        read_table(write(tmp_path, text), time_column="auto")
    with pytest.raises(DataFileError, match=r"cannot parse 'later' as a date/time$"):  # named: no hint
        read_table(tmp_path / "s.csv", time_column="t")


# =============================================================================================== separators
def test_semicolon_separated_csv_with_a_datetime_column(tmp_path):
    # SKAB's layout: ';' between fields, '.' for decimals, a 'datetime' column first.
    path = write(tmp_path, "datetime;Accelerometer1RMS;Volume Flow RateRMS\n"
                           "2020-03-01 15:44:06;0.0820647;76.0197\n2020-03-01 15:44:07;0.0827238;76.9806\n")
    df = read_table(path, time_column="auto")
    assert df.index.name == "datetime" and df.index[1] == pd.Timestamp("2020-03-01 15:44:07")
    assert list(df.columns) == ["Accelerometer1RMS", "Volume Flow RateRMS"]
    np.testing.assert_allclose(df["Accelerometer1RMS"], [0.0820647, 0.0827238])


def test_tab_separated_and_compressed_semicolon_csv(tmp_path):
    assert read_table(write(tmp_path, "a\tb\n1\t2\n")).columns.tolist() == ["a", "b"]
    path = tmp_path / "s.csv.gz"
    path.write_bytes(gzip.compress(b"t;v\n2024-01-01;1.5\n2024-01-02;2.5\n"))
    df = read_table(path, time_column="auto")
    assert df.index.name == "t" and df["v"].tolist() == [1.5, 2.5]


def test_commas_win_over_semicolons_inside_names(tmp_path):
    df = read_table(write(tmp_path, "a;x,b\n1,2\n"))
    assert list(df.columns) == ["a;x", "b"]


# ============================================================================================ missing columns
def test_missing_value_columns_are_named_together_and_alone(tmp_path):
    path = write(tmp_path, "t,a,b\n2024-01-01,1,2\n")
    with pytest.raises(MissingColumnError, match=r"no columns 'zz', 'yy' \(value columns\); available columns: 't', "
                                            r"'a', 'b'") as info:
        read_table(path, time_column="t", columns=["a", "zz", "yy"])
    assert "'a'" not in str(info.value).split(";")[0]
    assert info.value.missing == ["zz", "yy"] and info.value.others == ["b"]  # neither asked for nor the time


SKAB = data_root() / "SKAB" / "other" / "1.csv" if data_root() is not None else None


@pytest.mark.data
@pytest.mark.skipif(SKAB is None or not SKAB.exists(), reason="the shared SKAB data is not on this machine")
def test_skab_file_reads_with_its_datetime_column():
    df = read_table(SKAB, time_column="auto")
    assert df.index.name == "datetime" and isinstance(df.index, pd.DatetimeIndex)
    assert df.shape == (745, 10) and "Accelerometer1RMS" in df.columns


def test_a_csv_without_header_is_read_as_data_and_the_cli_says_so(tmp_path, capsys):
    from seqae.cli import main
    from seqae.datasets import read_table

    rng = np.random.default_rng(0)
    values = rng.normal(size=(300, 2))
    path = tmp_path / "nohead.csv"
    pd.DataFrame(values).to_csv(path, index=False, header=False)
    df = read_table(path)
    assert list(df.columns) == ["0", "1"] and len(df) == 300 and df.attrs["headerless"]
    np.testing.assert_allclose(df.to_numpy(), values)
    out = tmp_path / "scores.csv"
    assert main(["detect", str(path), "-o", str(out), "--epochs", "1", "--window", "16", "--columns", "1"]) == 0
    assert "has no header row" in capsys.readouterr().err
    assert list(pd.read_csv(out).columns[:1]) == ["1"]


def test_epoch_seconds_and_milliseconds_are_times(tmp_path):
    from seqae.datasets import read_table

    seconds = 1_700_000_000 + 60 * np.arange(5)
    path = tmp_path / "epoch.csv"
    pd.DataFrame({"epoch": seconds, "v": np.arange(5.0)}).to_csv(path, index=False)
    auto = read_table(path, time_column="auto")                       # found by its name
    assert auto.index.name == "epoch" and auto.index[0] == pd.Timestamp("2023-11-14 22:13:20")
    ms = tmp_path / "ms.csv"
    pd.DataFrame({"t_ms": seconds * 1000, "v": np.arange(5.0)}).to_csv(ms, index=False)
    named = read_table(ms, time_column="t_ms")                        # named by the caller: any name
    assert (named.index == auto.index).all()
    steps = tmp_path / "steps.csv"
    pd.DataFrame({"t": np.arange(5), "v": np.arange(5.0)}).to_csv(steps, index=False)
    with pytest.raises(Exception, match="holds numbers, not dates/times.*milliseconds since 1970"):
        read_table(steps, time_column="t")                            # step numbers are not times
