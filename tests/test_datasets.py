"""Tests of seqae.datasets: the readers on real and synthetic files, their error messages, and the built-in data."""
from __future__ import annotations

import json
import math
import os
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqae.datasets import (
    SequenceCollection,
    data_root,
    list_demo_series,
    load_demo_series,
    load_uea,
    make_sine_collection,
    read_long_table,
    read_npz,
    read_table,
    read_ts,
    save_npz,
)
from seqae.exceptions import DataFileError, InputError

SHARED = data_root()
needs_shared = pytest.mark.skipif(
    SHARED is None or not (SHARED / "UEA").is_dir(),
    reason="the shared benchmark data (../shared/data/UEA, or $SEQAE_DATA) is not present on this machine",
)


def write(tmp_path: Path, text: str | bytes, name: str = "data.ts") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


# ============================================================================================ read_ts: real
# name: (n_train, n_test, channels, (min_len, max_len) train, (min_len, max_len) test, classes)
UEA_SHAPES = {
    "JapaneseVowels": (270, 370, 12, (7, 26), (7, 29), 9),
    "BasicMotions": (40, 40, 6, (100, 100), (100, 100), 4),
    "GunPoint": (50, 150, 1, (150, 150), (150, 150), 2),
    "ArrowHead": (36, 175, 1, (251, 251), (251, 251), 3),
    "ItalyPowerDemand": (67, 1029, 1, (24, 24), (24, 24), 2),
}


@pytest.mark.data
@needs_shared
@pytest.mark.parametrize("name", sorted(UEA_SHAPES))
@pytest.mark.parametrize("split", ["train", "test"])
def test_read_real_uea_sets(name, split):
    n_train, n_test, channels, len_train, len_test, n_classes = UEA_SHAPES[name]
    X, y, ids = load_uea(name, split)
    n, (lo, hi) = (n_train, len_train) if split == "train" else (n_test, len_test)
    assert len(X) == len(y) == len(ids) == n
    assert all(x.dtype == np.float32 and x.ndim == 2 and x.shape[1] == channels for x in X)
    lengths = [x.shape[0] for x in X]
    assert (min(lengths), max(lengths)) == (lo, hi)
    assert y.dtype == object and all(isinstance(v, str) for v in y)
    assert len(set(y)) == n_classes
    np.testing.assert_array_equal(ids, np.arange(n))
    assert all(np.isfinite(x).all() for x in X)


@pytest.mark.data
@needs_shared
def test_read_real_values_and_labels():
    X, y, _ = read_ts(SHARED / "UEA" / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts")
    # The first case starts "1.860936,..." in channel 1 and "-0.207383,..." in channel 2.
    assert X[0][0, 0] == pytest.approx(1.860936)
    assert X[0][0, 1] == pytest.approx(-0.207383)
    assert sorted(set(y)) == [str(i) for i in range(1, 10)]
    _, y_bm, _ = load_uea("BasicMotions", "TEST")
    assert set(y_bm) == {"Standing", "Running", "Walking", "Badminton"}


# ======================================================================================= read_ts: synthetic
def test_read_ts_equal_length_univariate(tmp_path):
    path = write(tmp_path, "# a comment\n@problemName toy\n@timeStamps false\n@missing false\n@univariate true\n"
                           "@equalLength true\n@seriesLength 3\n@classLabel true yes no\n@data\n"
                           "1,2,3:yes\n\n# comment inside data\n4.5,-5e-1,6E2:no\n")
    X, y, ids = read_ts(path)
    assert isinstance(read_ts(path), SequenceCollection)
    assert [x.shape for x in X] == [(3, 1), (3, 1)]
    np.testing.assert_array_equal(X[1][:, 0], np.array([4.5, -0.5, 600.0], dtype=np.float32))
    assert list(y) == ["yes", "no"] and y.dtype == object
    assert ids.tolist() == [0, 1]


def test_read_ts_multivariate_unequal_length_no_labels(tmp_path):
    path = write(tmp_path, "@problemName toy\n@univariate false\n@dimensions 2\n@equalLength false\n"
                           "@classLabel false\n@data\n1,2,3:4,5,6\n7:8\n")
    X, y, ids = read_ts(path)
    assert y is None
    assert [x.shape for x in X] == [(3, 2), (1, 2)]
    np.testing.assert_array_equal(X[0], [[1, 4], [2, 5], [3, 6]])


def test_read_ts_without_optional_tags_and_crlf_bom(tmp_path):
    path = write(tmp_path, "\ufeff@problemName t\r\n@classLabel true 1 2\r\n@data\r\n1,2:1\r\n3,4:2\r\n")
    X, y, _ = read_ts(path)
    assert list(y) == ["1", "2"] and X[1][:, 0].tolist() == [3.0, 4.0]


def test_read_ts_tags_are_case_insensitive_and_unknown_tags_ignored(tmp_path):
    path = write(tmp_path, "@PROBLEMNAME t\n@ClassLabel TRUE a\n@someFutureTag 42\n@DATA\n1:a\n")
    assert read_ts(path).y.tolist() == ["a"]


def test_read_ts_regression_target(tmp_path):
    path = write(tmp_path, "@problemName r\n@targetLabel true\n@data\n1,2:0.5\n3,4:-1.25\n")
    _, y, _ = read_ts(path)
    assert y.dtype == np.float64 and y.tolist() == [0.5, -1.25]


def test_read_ts_missing_values(tmp_path):
    path = write(tmp_path, "@problemName t\n@missing true\n@classLabel true a\n@data\n1,2:a\n1,?,3:a\n")
    with pytest.raises(DataFileError, match=r"data\.ts, line 6, channel 1, value 2: missing value '\?'"):
        read_ts(path)
    X, _, _ = read_ts(path, missing="nan")
    assert np.isnan(X[1][1, 0]) and X[1][2, 0] == 3.0
    with pytest.raises(InputError, match="missing must be one of"):
        read_ts(path, missing="drop")


def test_read_ts_does_not_need_a_ts_extension(tmp_path):
    path = write(tmp_path, "@data\n1,2,3\n", name="plain.txt")
    assert read_ts(path).X[0].shape == (3, 1)


def test_read_ts_accepts_str_path(tmp_path):
    path = write(tmp_path, "@data\n1,2,3\n")
    assert read_ts(str(path)).X[0].shape == (3, 1)


@pytest.mark.parametrize("text, match", [
    ("", r"the file is empty"),
    ("  \n\n\t\n", r"the file is empty"),
    ("# only a comment\n", r"no @data line"),
    ("@problemName t\n@classLabel true a\n", r"no @data line"),
    ("@problemName t\n1,2,3:a\n", r"line 2: data before the @data line"),
    ("@problemName t\n@data\n", r"line 2: no cases after @data"),
    ("@problemName t\n@data\n1,2:3,4\n1,2\n", r"line 4: 1 channel\(s\), expected 2 as set by the first case"),
    ("@dimensions 3\n@data\n1,2:3,4\n", r"line 3: 2 channel\(s\), expected 3 as set by @dimensions 3 \(line 1\)"),
    ("@univariate true\n@data\n1,2:3,4\n", r"line 3: 2 channel\(s\), expected 1"),
    ("@univariate true\n@dimensions 2\n@data\n1\n", r"@univariate true but @dimensions 2"),
    ("@data\n1,2,x3\n", r"line 2, channel 1, value 3: 'x3' is not a number"),
    ("@data\n1,,3\n", r"line 2, channel 1, value 2: '' is not a number"),
    ("@data\n1,2:\n", r"line 2, channel 2: no values"),
    ("@data\n1,inf\n", r"line 2, channel 1, value 2: 'inf' is infinite or too large"),
    ("@data\n1,1e39\n", r"line 2, channel 1, value 2: '1e39' is infinite or too large for float32"),
    ("@data\n1,nan\n", r"line 2, channel 1, value 2: missing value 'nan'"),
    ("@classLabel true a b\n@data\n1,2:a\n3,4:c\n", r"line 4: class label 'c' is not one of the declared labels \(a b"),
    ("@classLabel true a b\n@data\n1,2\n", r"line 3: expected the channels followed by ':<label>'"),
    ("@classLabel true\n@data\n1:a\n", r"line 1: @classLabel true lists no labels"),
    ("@classLabel maybe a\n@data\n1:a\n", r"line 1: @classLabel must be"),
    ("@classLabel false a\n@data\n1\n", r"line 1: @classLabel false cannot list labels"),
    ("@missing perhaps\n@data\n1\n", r"line 1: @missing must be true or false"),
    ("@seriesLength -3\n@data\n1\n", r"line 1: @seriesLength must be a positive integer"),
    ("@dimensions two\n@data\n1\n", r"line 1: @dimensions must be a positive integer"),
    ("@problemName a\n@problemName b\n@data\n1\n", r"line 2: @problemName given twice \(first on line 1\)"),
    ("@data\n1,2\n@classLabel true a\n", r"line 3: header tag '@classLabel' after @data \(line 1\)"),
    ("@timeStamps true\n@data\n(1,2),(3,4)\n", r"line 1: timestamped .ts files .* are not supported"),
    ("@classLabel true a\n@targetLabel true\n@data\n1:a\n", r"line 3: .*both @classLabel true and @targetLabel"),
    ("@targetLabel true\n@data\n1,2:high\n", r"line 3: target 'high' is not a number"),
    ("@equalLength true\n@data\n1,2,3\n1,2\n", r"line 4: length 2 differs from 3 on line 3 although @equalLength"),
    ("@equalLength true\n@seriesLength 3\n@data\n1,2\n", r"line 4: length 2, but @seriesLength is 3 \(line 2\)"),
    ("@data\n1,2,3:4,5\n", r"line 2: the channels have different lengths \(3, 2\)"),
])
def test_read_ts_bad_files(tmp_path, text, match):
    path = write(tmp_path, text)
    with pytest.raises(DataFileError, match=match) as info:
        read_ts(path)
    assert str(path) in str(info.value)


def test_read_ts_unequal_lengths_are_fine_without_equal_length_tag(tmp_path):
    assert [x.shape[0] for x in read_ts(write(tmp_path, "@data\n1,2,3\n1,2\n")).X] == [3, 2]


def test_read_ts_not_utf8(tmp_path):
    path = write(tmp_path, b"@problemName t\n@data\n1,2\xff\n")
    with pytest.raises(DataFileError, match=r"line 3: not UTF-8 text"):
        read_ts(path)


def test_read_ts_missing_file_and_directory(tmp_path):
    with pytest.raises(DataFileError, match=r"nope\.ts: file not found"):
        read_ts(tmp_path / "nope.ts")
    with pytest.raises(DataFileError, match="is a directory"):
        read_ts(tmp_path)
    with pytest.raises(InputError, match="path must be a str or os.PathLike"):
        read_ts(42)


# ================================================================================================ read_table
NAB_LIKE = "timestamp,value\n2014-07-01 00:00:00,10844\n2014-07-01 00:30:00,8127\n2014-07-01 01:00:00,6210\n"


def test_read_table_with_time_column(tmp_path):
    df = read_table(write(tmp_path, NAB_LIKE, "s.csv"), time_column="timestamp")
    assert isinstance(df.index, pd.DatetimeIndex) and df.index.name == "timestamp"
    assert df.index[1] == pd.Timestamp("2014-07-01 00:30")
    assert list(df.columns) == ["value"] and df["value"].dtype == np.float64
    assert df["value"].tolist() == [10844.0, 8127.0, 6210.0]


def test_read_table_without_time_column(tmp_path):
    df = read_table(write(tmp_path, "a,b\n1,2.5\n3,4\n", "s.csv"))
    assert isinstance(df.index, pd.RangeIndex) and list(df.columns) == ["a", "b"]
    assert df.dtypes.tolist() == [np.float64, np.float64]


def test_read_table_selects_and_orders_columns(tmp_path):
    path = write(tmp_path, "t,a,b,c\n2024-01-01,1,2,x\n2024-01-02,3,4,y\n", "s.csv")
    df = read_table(path, time_column="t", columns=["b", "a"])
    assert list(df.columns) == ["b", "a"] and df["b"].tolist() == [2.0, 4.0]
    assert list(read_table(path, time_column="t", columns="a").columns) == ["a"]


def test_read_table_keeps_nan(tmp_path):
    df = read_table(write(tmp_path, "a,b\n1,\nNaN,2\nnan,NA\n", "s.csv"))
    assert np.isnan(df["a"].iloc[1]) and np.isnan(df["b"].iloc[0]) and np.isnan(df["b"].iloc[2])
    assert df["a"].iloc[0] == 1.0


def test_read_table_time_zones_and_iso_formats(tmp_path):
    path = write(tmp_path, "t,v\n2024-01-01T00:00:00+01:00,1\n2024-01-01T01:00:00+01:00,2\n", "s.csv")
    df = read_table(path, time_column="t")
    assert df.index.tz is not None and df.index[0] == pd.Timestamp("2023-12-31 23:00", tz="UTC")
    other = write(tmp_path, "t,v\n01/31/2024 10:00,1\n02/01/2024 10:00,2\n", "m.csv")
    assert read_table(other, time_column="t").index[1] == pd.Timestamp("2024-02-01 10:00")


def test_read_table_parquet(tmp_path):
    frame = pd.DataFrame({"time": pd.date_range("2024-01-01", periods=4, freq="h"),
                          "x": np.arange(4, dtype=np.int32), "y": [0.5, np.nan, 1.0, 2.0]})
    path = tmp_path / "s.parquet"
    frame.to_parquet(path)
    df = read_table(path, time_column="time")
    assert isinstance(df.index, pd.DatetimeIndex) and df.index[3] == pd.Timestamp("2024-01-01 03:00")
    assert df.dtypes.tolist() == [np.float64, np.float64] and np.isnan(df["y"].iloc[1])
    np.testing.assert_array_equal(df["x"].to_numpy(), [0.0, 1.0, 2.0, 3.0])


def test_read_table_compressed_csv(tmp_path):
    path = tmp_path / "s.csv.gz"
    pd.DataFrame({"v": [1.0, 2.0]}).to_csv(path, index=False)
    assert read_table(path)["v"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("text, kwargs, match", [
    ("", {}, r"s\.csv: the file is empty"),
    ("\n\n", {}, r"s\.csv: the file is empty"),
    ("timestamp,value\n", {"time_column": "timestamp"}, r"s\.csv: no data rows \(only a header\)"),
    (NAB_LIKE, {"time_column": "time"},
     r"no column 'time' \(time_column\); available columns: 'timestamp', 'value'"),
    (NAB_LIKE, {"time_column": "timestamp", "columns": ["val"]},
     r"no column 'val' \(value column\); available columns: 'timestamp', 'value'"),
    ("t,v\n2024-01-01,1\n2024-01-02,abc\n2024-01-03,x\n", {"time_column": "t"},
     r"column 'v', row 2 \(line 3\): 'abc' is not a number"),
    ("t,v\n2024-01-01,1\nyesterday,2\n", {"time_column": "t"},
     r"time column 't', row 2 \(line 3\): cannot parse 'yesterday' as a date/time"),
    ("t,v\n2024-01-01,1\n,2\n", {"time_column": "t"}, r"time column 't', row 2 \(line 3\): missing time"),
    ("t,v\n2024-01-02,1\n2024-01-03,2\n2024-01-01,3\n", {"time_column": "t"},
     r"time column 't', row 3 \(line 4\): time goes backwards"),
    ("t,v\n2024-01-02,1\n2024-01-02,2\n", {"time_column": "t"},
     r"time column 't', row 2 \(line 3\): duplicate time 2024-01-02"),
    ("t,v\n1,1\n2,2\n", {"time_column": "t"}, r"time column 't' holds numbers, not dates/times"),
    ("v\n1\n1e39\n", {}, r"column 'v', row 2 \(line 3\): 1e\+39 is infinite or too large for float32"),
    ("v\n1\n-inf\n", {}, r"column 'v', row 2 \(line 3\): -inf is infinite or too large"),
    ("v,w\nTrue,1\nFalse,2\n", {}, r"column 'v' holds true/false values, not numbers"),
    ("t,v\n2024-01-01,1\n", {"time_column": "t", "columns": ["t"]}, None),
    ("timestamp,value\n2024-01-01,1\n", {}, r"column 'timestamp', row 1 \(line 2\): '2024-01-01' is not a number "
                                            r"\(is it the time column\? pass time_column='timestamp'\)"),
    ("t\n2024-01-01\n", {"time_column": "t"}, r"no value columns besides the time column 't'"),
    ("t,v,site\n2024-01-01,1,north\n2024-01-02,2,south\n", {"time_column": "t"},
     r"column 'site', row 1 \(line 2\): 'north' is not a number \(a column of text, not values\? choose the value "
     r"columns: columns=\['v'\]\)$"),
    ("t,site\n2024-01-01,north\n", {"time_column": "t"}, r"'north' is not a number \(a column of text, not values\?\)$"),
    # named by the caller, or mostly numbers: no hint
    ("t,v,site\n2024-01-01,1,north\n", {"time_column": "t", "columns": ["site"]}, r"'north' is not a number$"),
    ("t,v,w\n2024-01-01,1,2\n2024-01-02,1,x\n2024-01-03,1,3\n", {"time_column": "t"}, r"'x' is not a number$"),
    ('v\n1\n"2\n', {}, r"s\.csv: cannot parse as CSV"),
])
def test_read_table_errors(tmp_path, text, kwargs, match):
    path = write(tmp_path, text, "s.csv")
    if match is None:  # an argument error, not a file error
        with pytest.raises(InputError, match="cannot also be a value column"):
            read_table(path, **kwargs)
        return
    with pytest.raises(DataFileError, match=match):
        read_table(path, **kwargs)


def test_read_table_row_without_line_when_lines_are_uncertain(tmp_path):
    # A blank line shifts file lines against rows: only the row is named then.
    path = write(tmp_path, "v\n1\n\nx\n", "s.csv")
    with pytest.raises(DataFileError, match=r"column 'v', row 2: 'x' is not a number$"):
        read_table(path)


def test_read_table_file_problems(tmp_path):
    with pytest.raises(DataFileError, match=r"missing\.csv: file not found"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(DataFileError, match=r"missing\.parquet: file not found"):
        read_table(tmp_path / "missing.parquet")
    with pytest.raises(DataFileError, match=r"unknown file type"):
        read_table(write(tmp_path, "a\n1\n", "s.xlsx"))
    with pytest.raises(DataFileError, match=r"bad\.parquet: cannot read as Parquet"):
        read_table(write(tmp_path, "a,b\n1,2\n", "bad.parquet"))
    with pytest.raises(DataFileError, match=r"line 2: not UTF-8 text"):
        read_table(write(tmp_path, b"a\n\xff\n", "s.csv"))
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataFileError, match=r"dir\.csv: is a directory"):
        read_table(tmp_path / "dir.csv")


def test_read_table_argument_errors(tmp_path):
    path = write(tmp_path, NAB_LIKE, "s.csv")
    with pytest.raises(InputError, match="columns is empty"):
        read_table(path, columns=[])
    with pytest.raises(InputError, match="names a column twice"):
        read_table(path, columns=["value", "value"])


def test_read_table_value_column_of_dates_in_parquet(tmp_path):
    path = tmp_path / "s.parquet"
    pd.DataFrame({"when": pd.date_range("2024-01-01", periods=2), "v": [1.0, 2.0]}).to_parquet(path)
    with pytest.raises(DataFileError, match=r"column 'when' has type datetime64"):
        read_table(path)


# =========================================================================================== read_long_table
def long_frame():
    return pd.DataFrame({
        "id": ["b", "a", "b", "a", "b"],
        "t": [2, 5, 1, 4, 3],
        "x": [2.0, 50.0, 1.0, 40.0, 3.0],
        "z": [20, 500, 10, 400, 30],
        "label": ["cat", "dog", "cat", "dog", "cat"],
    })


def test_read_long_table_sorts_and_groups():
    df = long_frame()
    before = df.copy()
    X, y, ids = read_long_table(df, "id", time_column="t", label_column="label")
    pd.testing.assert_frame_equal(df, before)  # the input is untouched
    assert ids.tolist() == ["b", "a"]  # order of first appearance
    assert y.tolist() == ["cat", "dog"] and y.dtype == object
    np.testing.assert_array_equal(X[0], np.array([[1, 10], [2, 20], [3, 30]], dtype=np.float32))
    np.testing.assert_array_equal(X[1], np.array([[40, 400], [50, 500]], dtype=np.float32))
    assert all(x.dtype == np.float32 for x in X)


def test_read_long_table_without_time_keeps_row_order_and_selects_features():
    X, y, ids = read_long_table(long_frame(), "id", feature_columns=["z"])
    assert y is None
    assert X[0][:, 0].tolist() == [20.0, 10.0, 30.0] and X[0].shape == (3, 1)


def test_read_long_table_default_features_exclude_id_time_label():
    X, _, _ = read_long_table(long_frame(), "id", time_column="t", label_column="label")
    assert X[0].shape[1] == 2


def test_read_long_table_numeric_ids_and_labels_keep_their_type():
    df = pd.DataFrame({"id": [7, 7, 3], "v": [1.0, 2.0, 3.0], "label": [1, 1, 0]})
    X, y, ids = read_long_table(df, "id", label_column="label")
    assert ids.tolist() == [7, 3] and ids.dtype.kind == "i"
    assert y.tolist() == [1, 0] and y.dtype.kind == "i"


def test_read_long_table_datetime_time_column_from_csv(tmp_path):
    path = write(tmp_path, "id,time,v\ns1,2024-01-02,2\ns1,2024-01-01,1\ns2,2024-01-05,9\n", "long.csv")
    X, _, ids = read_long_table(path, "id", time_column="time")
    assert ids.tolist() == ["s1", "s2"] and X[0][:, 0].tolist() == [1.0, 2.0]


def test_read_long_table_parquet(tmp_path):
    path = tmp_path / "long.parquet"
    long_frame().to_parquet(path)
    X, y, ids = read_long_table(path, "id", time_column="t", label_column="label")
    assert ids.tolist() == ["b", "a"] and y.tolist() == ["cat", "dog"] and X[1].shape == (2, 2)


def test_read_long_table_missing_values():
    df = pd.DataFrame({"id": [1, 1, 2], "v": [1.0, np.nan, 3.0]})
    with pytest.raises(InputError, match=r"DataFrame: column 'v', row 2: missing value"):
        read_long_table(df, "id")
    X, _, _ = read_long_table(df, "id", missing="nan")
    assert np.isnan(X[0][1, 0])


def test_read_long_table_errors_on_dataframe_are_input_errors():
    df = long_frame()
    df.loc[4, "label"] = "dog"
    with pytest.raises(InputError, match=r"label column 'label': id 'b' has more than one label \('cat', 'dog'\)") \
            as info:
        read_long_table(df, "id", label_column="label")
    assert not isinstance(info.value, DataFileError)


@pytest.mark.parametrize("change, kwargs, match", [
    (None, {"id_column": "ID"}, r"no column 'ID' \(id_column\); available columns: 'id', 't', 'x', 'z', 'label'"),
    (None, {"id_column": "id", "feature_columns": ["x", "w"]}, r"no column 'w' \(feature column\)"),
    (("x", 2, "oops"), {"id_column": "id"}, r"column 'x', row 3: 'oops' is not a number"),
    (("id", 1, None), {"id_column": "id"}, r"id column 'id', row 2: missing id"),
    (("label", 0, None), {"id_column": "id", "label_column": "label"}, r"label column 'label', row 1: missing label"),
    (("t", 2, 2), {"id_column": "id", "time_column": "t"},
     r"time column 't', row 3: the time of row 1 again, for id 'b'"),
])
def test_read_long_table_bad_tables(change, kwargs, match):
    df = long_frame().astype({"x": object, "id": object, "label": object})
    if change is not None:
        col, row, value = change
        df.loc[row, col] = value
    kwargs.setdefault("label_column", "label")
    with pytest.raises(InputError, match=match):
        read_long_table(df, **kwargs)


def test_read_long_table_file_errors_are_data_file_errors(tmp_path):
    path = write(tmp_path, "id,v,label\na,1,x\na,2,y\n", "long.csv")
    with pytest.raises(DataFileError, match=r"long\.csv: label column 'label': id 'a' has more than one label"):
        read_long_table(path, "id", label_column="label")
    bad = write(tmp_path, "id,v\na,1\na,zz\n", "bad.csv")
    with pytest.raises(DataFileError, match=r"bad\.csv: column 'v', row 2 \(line 3\): 'zz' is not a number"):
        read_long_table(bad, "id")
    with pytest.raises(DataFileError, match=r"empty\.csv: no data rows"):
        read_long_table(write(tmp_path, "id,v\n", "empty.csv"), "id")


def test_read_long_table_argument_errors():
    df = long_frame()
    with pytest.raises(InputError, match="must be different columns"):
        read_long_table(df, "id", time_column="id")
    with pytest.raises(InputError, match="cannot be both a feature and"):
        read_long_table(df, "id", feature_columns=["x", "id"])
    with pytest.raises(InputError, match="feature_columns is empty"):
        read_long_table(df, "id", feature_columns=[])
    with pytest.raises(InputError, match="no feature columns besides"):
        read_long_table(df[["id", "t"]], "id", time_column="t")


# ====================================================================================================== npz
def test_npz_round_trip_equal_length(tmp_path):
    X = np.random.default_rng(0).normal(size=(4, 6, 3))
    path = save_npz(tmp_path / "eq.npz", X, y=[0, 1, 0, 1], ids=["a", "b", "c", "d"])
    with np.load(path) as archive:
        assert sorted(archive.files) == ["X", "ids", "y"] and archive["X"].shape == (4, 6, 3)
    back = read_npz(path)
    assert len(back.X) == 4 and all(x.dtype == np.float32 for x in back.X)
    np.testing.assert_allclose(np.stack(back.X), X.astype(np.float32))
    assert back.y.tolist() == [0, 1, 0, 1]
    assert back.ids.tolist() == ["a", "b", "c", "d"] and back.ids.dtype == object


def test_npz_round_trip_variable_length(tmp_path):
    X = make_sine_collection(n=5, min_length=3, max_length=12, n_features=2, random_state=1)
    path = save_npz(tmp_path / "var.npz", X, y=np.array(["u", "v", "u", "v", "w"], dtype=object))
    with np.load(path) as archive:
        assert sorted(archive.files) == sorted([f"X_{i}" for i in range(5)] + ["y"])
    back = read_npz(path)
    for a, b in zip(back.X, X, strict=True):
        np.testing.assert_array_equal(a, b)
    assert back.y.tolist() == ["u", "v", "u", "v", "w"] and back.ids.tolist() == [0, 1, 2, 3, 4]


def test_save_npz_writes_exactly_the_given_path(tmp_path):
    path = save_npz(tmp_path / "seqs.data", [np.ones((2, 1))])
    assert path == tmp_path / "seqs.data" and path.exists() and not (tmp_path / "seqs.data.npz").exists()
    assert read_npz(path).X[0].shape == (2, 1)


def test_npz_with_nan(tmp_path):
    path = save_npz(tmp_path / "n.npz", [np.array([[1.0], [np.nan]])])
    with pytest.raises(DataFileError, match=r"X\[0\] holds NaN; pass missing='nan'"):
        read_npz(path)
    assert np.isnan(read_npz(path, missing="nan").X[0][1, 0])


def test_read_npz_refuses_object_arrays(tmp_path):
    path = tmp_path / "obj.npz"
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros((2, 1)), np.zeros((3, 1))
    np.savez(path, X=ragged)
    with pytest.raises(DataFileError, match=r"entry 'X' is an object array.*never unpickles"):
        read_npz(path)


@pytest.mark.parametrize("arrays, match", [
    ({"Y": np.zeros((2, 3, 1))}, r"no 'X' \(n, T, F\) or 'X_0', 'X_1', \.\.\. entries"),
    ({"X": np.zeros((2, 3))}, r"'X' must be 3-D \(n, T, F\), got shape \(2, 3\)"),
    ({"X": np.zeros((0, 3, 1))}, r"'X' holds no sequences"),
    ({"X": np.zeros((2, 0, 1))}, r"X\[0\] must have shape \(T, F\) with T, F >= 1"),
    ({"X": np.array([[["a"]]])}, r"X\[0\] must hold real numbers"),
    ({"X": np.zeros((1, 2, 1)), "X_0": np.zeros((2, 1))}, r"holds both 'X' and 'X_0'"),
    ({"X_0": np.zeros((2, 1)), "X_2": np.zeros((2, 1))}, r"'X_1' is missing"),
    ({"X_0": np.zeros((2, 1)), "X_1": np.zeros((2, 2))}, r"X_1 has 2 features, the first sequence 1"),
    ({"X_0": np.zeros(3)}, r"X_0 must have shape \(T, F\)"),
    ({"X": np.zeros((2, 3, 1)), "y": np.zeros(3)}, r"'y' must have shape \(2,\), got \(3,\)"),
    ({"X": np.zeros((2, 3, 1)), "ids": np.array([1, 1])}, r"'ids' holds duplicates"),
    ({"X": np.full((1, 3, 1), 1e300)}, r"X\[0\] holds values that are infinite or too large for float32"),
])
def test_read_npz_bad_layouts(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataFileError, match=match):
        read_npz(path)


def test_read_npz_bad_files(tmp_path):
    with pytest.raises(DataFileError, match="file not found"):
        read_npz(tmp_path / "none.npz")
    with pytest.raises(DataFileError, match=r"not a readable \.npz archive"):
        read_npz(write(tmp_path, b"this is not a zip", "junk.npz"))
    np.save(tmp_path / "single.npy", np.zeros((1, 2, 3)))
    with pytest.raises(DataFileError, match=r"a single \.npy array, not an \.npz archive"):
        read_npz(tmp_path / "single.npy")


@pytest.mark.parametrize("X, kwargs, match", [
    ([], {}, "X is empty"),
    (np.zeros((2, 3)), {}, r"got shape \(2, 3\)"),
    ([np.zeros((2, 1)), np.zeros((2, 2))], {}, "X\\[1\\] has 2 features"),
    ([np.zeros(3)], {}, r"X\[0\] must have shape \(T, F\)"),
    ([np.array([["a"]])], {}, "must hold real numbers"),
    ([np.full((1, 1), 1e300)], {}, "too large for float32"),
    ([np.zeros((2, 1))], {"y": [1, 2]}, r"y must have shape \(1,\)"),
    ([np.zeros((2, 1))] * 2, {"ids": [1, 1]}, "ids must be unique"),
    ([np.zeros((2, 1))], {"y": np.array([{"a": 1}], dtype=object)}, "numbers or strings only"),
    (5, {}, "X must be a list"),
])
def test_save_npz_validates(tmp_path, X, kwargs, match):
    with pytest.raises(InputError, match=match):
        save_npz(tmp_path / "x.npz", X, **kwargs)


# ==================================================================================== data_root / load_uea
def test_data_root_env_var_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQAE_DATA", str(tmp_path))
    assert data_root() == tmp_path


def test_data_root_found_by_walking_up(monkeypatch):
    monkeypatch.delenv("SEQAE_DATA", raising=False)
    root = data_root()
    assert root is None or (root.is_dir() and root.parts[-2:] == ("shared", "data"))


def test_load_uea_from_a_given_root(tmp_path):
    folder = tmp_path / "UEA" / "Toy"
    folder.mkdir(parents=True)
    (folder / "Toy_TRAIN.ts").write_text("@classLabel true a b\n@data\n1,2:a\n3,4:b\n")
    (folder / "Toy_TEST.ts").write_text("@classLabel true a b\n@data\n5,6:b\n")
    assert len(load_uea("Toy", root=tmp_path).X) == 2
    assert load_uea("Toy", "test", root=tmp_path).y.tolist() == ["b"]


def test_load_uea_through_env_var(monkeypatch, tmp_path):
    folder = tmp_path / "UEA" / "Toy"
    folder.mkdir(parents=True)
    (folder / "Toy_TRAIN.ts").write_text("@data\n1,2\n")
    monkeypatch.setenv("SEQAE_DATA", str(tmp_path))
    assert load_uea("Toy").X[0].shape == (2, 1)


def test_load_uea_errors(monkeypatch, tmp_path):
    (tmp_path / "UEA" / "Toy").mkdir(parents=True)
    with pytest.raises(DataFileError, match=r"Nope_TRAIN\.ts: not found; data sets under .*UEA: Toy"):
        load_uea("Nope", root=tmp_path)
    with pytest.raises(DataFileError, match=r"does not exist; set SEQAE_DATA"):
        load_uea("Toy", root=tmp_path / "elsewhere")
    monkeypatch.setenv("SEQAE_DATA", str(tmp_path / "missing"))
    with pytest.raises(DataFileError, match=r"missing.UEA.* does not exist"):
        load_uea("Toy")
    with pytest.raises(InputError, match="split must be 'train' or 'test'"):
        load_uea("Toy", "valid", root=tmp_path)
    for bad in ("../etc", "", "a/b", None):
        with pytest.raises(InputError, match="name must be a data set name"):
            load_uea(bad, root=tmp_path)


# =========================================================================================== built-in data
def test_list_demo_series():
    assert list_demo_series() == ["art_daily_jumpsup", "nyc_taxi"]


@pytest.mark.parametrize("name, n_points, n_windows", [("nyc_taxi", 10_320, 5), ("art_daily_jumpsup", 4_032, 1)])
def test_load_demo_series(name, n_points, n_windows):
    series, windows = load_demo_series(name)
    assert series.shape == (n_points, 1) and list(series.columns) == ["value"]
    assert series["value"].dtype == np.float64 and series["value"].notna().all()
    assert isinstance(series.index, pd.DatetimeIndex) and series.index.is_monotonic_increasing
    assert len(windows) == n_windows
    for start, end in windows:
        assert isinstance(start, pd.Timestamp) and start < end
        assert series.index[0] <= start and end <= series.index[-1]
    assert windows == sorted(windows)


def test_load_demo_series_default_and_unknown():
    series, windows = load_demo_series()
    assert len(series) == 10_320
    assert windows[0] == (pd.Timestamp("2014-10-30 15:30"), pd.Timestamp("2014-11-03 22:30"))
    with pytest.raises(InputError, match="unknown demo series 'nope'; choose one of art_daily_jumpsup, nyc_taxi"):
        load_demo_series("nope")


def test_shipped_files_are_small_and_licensed():
    data = resources.files("seqae.io") / "shipped"
    for name in ("nyc_taxi.csv", "art_daily_jumpsup.csv"):
        assert len((data / name).read_bytes()) < 500_000
    licence = (data / "NAB_LICENSE.txt").read_text(encoding="utf-8")
    assert "Numenta Anomaly Benchmark" in licence.splitlines()[0] and "Permission is hereby granted" in licence
    windows = json.loads((data / "nab_windows.json").read_text(encoding="utf-8"))
    assert set(windows) == {"realKnownCause/nyc_taxi.csv", "artificialWithAnomaly/art_daily_jumpsup.csv"}


@pytest.mark.data
@pytest.mark.skipif(SHARED is None or not (SHARED / "NAB").is_dir(), reason="the shared NAB data is not present")
def test_shipped_series_match_nab():
    nab = SHARED / "NAB"
    labels = json.loads((nab / "labels" / "combined_windows.json").read_text())
    for name, key in (("nyc_taxi", "realKnownCause/nyc_taxi.csv"),
                      ("art_daily_jumpsup", "artificialWithAnomaly/art_daily_jumpsup.csv")):
        series, windows = load_demo_series(name)
        original = read_table(nab / "data" / key, time_column="timestamp")
        pd.testing.assert_frame_equal(series, original)
        assert windows == [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in labels[key]]


# ==================================================================================== make_sine_collection
def test_make_sine_collection_shapes():
    X = make_sine_collection(n=50, min_length=10, max_length=15, n_features=3, random_state=0)
    assert len(X) == 50
    assert all(x.dtype == np.float32 and x.shape[1] == 3 and 10 <= x.shape[0] <= 15 for x in X)
    assert len({x.shape[0] for x in X}) > 1  # lengths really vary


def test_make_sine_collection_defaults_and_determinism():
    a = make_sine_collection(random_state=123)
    b = make_sine_collection(random_state=123)
    c = make_sine_collection(random_state=124)
    assert len(a) == 200 and all(20 <= len(x) <= 80 and x.shape[1] == 1 for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_make_sine_collection_is_a_sine_without_noise():
    X = make_sine_collection(n=20, noise=0.0, random_state=np.random.default_rng(5))
    for x in X:
        assert np.abs(x).max() <= 1.0 + 1e-6
        assert np.abs(x).max() > 0.5  # at least a few steps of a period of at most 30


def test_make_sine_collection_equal_lengths():
    X = make_sine_collection(n=4, min_length=7, max_length=7, random_state=0)
    assert {x.shape for x in X} == {(7, 1)}


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0}, "n must be"), ({"n": 2.5}, "n must be"), ({"min_length": 0}, "min_length"),
    ({"min_length": 10, "max_length": 5}, "must not exceed"), ({"n_features": 0}, "n_features"),
    ({"noise": -1.0}, "noise"), ({"noise": math.nan}, "noise"), ({"n": True}, "n must be"),
])
def test_make_sine_collection_validates(kwargs, match):
    with pytest.raises(InputError, match=match):
        make_sine_collection(**kwargs)


def test_readers_accept_pathlike(tmp_path):
    path = write(tmp_path, "a\n1\n", "s.csv")
    assert read_table(os.fspath(path)).shape == (1, 1)
