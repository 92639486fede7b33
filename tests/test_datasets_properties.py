"""Property tests of the file readers: whatever the file holds, a reader returns a valid result or raises
seqae's InputError (DataFileError is one) -- never another exception type."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqae.datasets import SequenceCollection, read_long_table, read_npz, read_table, read_ts
from seqae.exceptions import InputError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    # Module-scoped: hypothesis runs many examples per test call, and rewrites the one file each time.
    return tmp_path_factory.mktemp("properties")


def check_collection(result, *, allow_nan: bool = False) -> None:
    assert isinstance(result, SequenceCollection)
    X, y, ids = result
    assert isinstance(X, list) and len(X) >= 1
    n_features = X[0].shape[1]
    for x in X:
        assert isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == 2
        assert x.shape[0] >= 1 and x.shape[1] == n_features >= 1
        assert allow_nan or np.isfinite(x).all()
        assert not np.isinf(x).any()
    assert y is None or (isinstance(y, np.ndarray) and y.shape == (len(X),))
    assert isinstance(ids, np.ndarray) and ids.shape == (len(X),)


def check_table(result, n_columns: int | None = None) -> None:
    assert isinstance(result, pd.DataFrame)
    assert len(result) >= 1 and result.shape[1] >= 1
    assert all(dtype == np.float64 for dtype in result.dtypes)
    assert not np.isinf(result.to_numpy()).any()
    assert np.nanmax(np.abs(result.to_numpy()), initial=0.0) <= np.finfo(np.float32).max
    if isinstance(result.index, pd.DatetimeIndex):
        assert result.index.is_monotonic_increasing and result.index.is_unique
    else:
        assert isinstance(result.index, pd.RangeIndex)


def read_or_input_error(func, *args, **kwargs):
    """Call the reader; an InputError is an accepted outcome (returned as None), anything else propagates."""
    try:
        return func(*args, **kwargs)
    except InputError as err:
        assert str(err)  # every error says something
        return None


# ================================================================================================= read_table
CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(["", "NaN", "nan", "NA", "inf", "-inf", "1e39", "True", "x", " ", '"', "a,b", "\u00e9", "null"]),
    st.datetimes(min_value=pd.Timestamp("1900-01-01").to_pydatetime(),
                 max_value=pd.Timestamp("2200-01-01").to_pydatetime()).map(str),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
)


@st.composite
def csv_texts(draw):
    n_cols = draw(st.integers(1, 4))
    header = ["t"] + [f"v{i}" for i in range(1, n_cols)]
    rows = draw(st.lists(st.lists(CELLS, min_size=n_cols, max_size=n_cols), max_size=6))
    return "\n".join([",".join(header)] + [",".join(r) for r in rows]) + draw(st.sampled_from(["", "\n", "\r\n"]))


@FAST
@given(text=csv_texts(), use_time=st.booleans())
def test_read_table_structured_csv(workdir, text, use_time):
    path = workdir / "structured.csv"
    path.write_text(text, encoding="utf-8", newline="")
    result = read_or_input_error(read_table, path, time_column="t" if use_time else None)
    if result is not None:
        check_table(result)


@FAST
@given(data=st.binary(max_size=200), use_time=st.booleans())
def test_read_table_arbitrary_bytes(workdir, data, use_time):
    path = workdir / "bytes.csv"
    path.write_bytes(b"t,v\n" + data if use_time else data)
    result = read_or_input_error(read_table, path, time_column="t" if use_time else None)
    if result is not None:
        check_table(result)


@FAST
@given(text=st.text(max_size=200))
def test_read_table_arbitrary_text(workdir, text):
    path = workdir / "text.csv"
    path.write_text(text, encoding="utf-8", newline="")
    result = read_or_input_error(read_table, path)
    if result is not None:
        check_table(result)


# ==================================================================================================== read_ts
VALID_TS = (
    "# A synthetic file in the UEA layout\n"
    "@problemName Synthetic\n@timeStamps false\n@missing false\n@univariate false\n@dimensions 2\n"
    "@equalLength false\n@classLabel true a b c\n@data\n"
    "0.5,1.25,-3e-2:1,2,3:a\n"
    "4,5:6.5,7:b\n"
    "8,9,10,11:12,13,14,15:c\n"
)
TS_ALPHABET = st.sampled_from(list(":,?@#.-+eE \n\t0123456789abctruefalsdxTNaNinf") + ["\r", "\u00e9", "\x00"])


@st.composite
def mutated_ts(draw):
    text = VALID_TS
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "drop_line", "dup_line", "swap_lines"]))
        lines = text.split("\n")
        if kind in ("drop_line", "dup_line", "swap_lines") and len(lines) > 1:
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if kind == "drop_line":
                del lines[i]
            elif kind == "dup_line":
                lines.insert(i, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
        elif text:
            i = draw(st.integers(0, len(text) - 1))
            char = draw(TS_ALPHABET)
            if kind == "insert":
                text = text[:i] + char + text[i:]
            elif kind == "delete":
                text = text[:i] + text[i + 1:]
            else:
                text = text[:i] + char + text[i + 1:]
    return text


def test_valid_ts_base_file_reads(workdir):
    path = workdir / "valid.ts"
    path.write_text(VALID_TS)
    X, y, _ = read_ts(path)
    assert [x.shape for x in X] == [(3, 2), (2, 2), (4, 2)] and y.tolist() == ["a", "b", "c"]


@FAST
@given(text=mutated_ts(), missing=st.sampled_from(["raise", "nan"]))
def test_read_ts_mutated_valid_file(workdir, text, missing):
    path = workdir / "mutated.ts"
    path.write_text(text, encoding="utf-8", newline="")
    result = read_or_input_error(read_ts, path, missing=missing)
    if result is not None:
        check_collection(result, allow_nan=missing == "nan")


@FAST
@given(text=st.text(alphabet=TS_ALPHABET, max_size=120) | st.text(max_size=120))
def test_read_ts_arbitrary_text(workdir, text):
    path = workdir / "arbitrary.ts"
    path.write_text(text, encoding="utf-8", newline="")
    result = read_or_input_error(read_ts, path)
    if result is not None:
        check_collection(result)


@FAST
@given(header=st.sampled_from(["", "@data\n", "@classLabel true a b\n@data\n", "@univariate true\n@data\n"]),
       data=st.binary(max_size=120))
def test_read_ts_arbitrary_bytes(workdir, header, data):
    path = workdir / "bytes.ts"
    path.write_bytes(header.encode() + data)
    result = read_or_input_error(read_ts, path)
    if result is not None:
        check_collection(result)


# ============================================================================================ other readers
@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=200))
def test_read_npz_arbitrary_bytes(workdir, data):
    path = workdir / "bytes.npz"
    path.write_bytes(data)
    result = read_or_input_error(read_npz, path)
    if result is not None:  # only if the bytes happen to form a valid archive
        check_collection(result)


@FAST
@given(ids=st.lists(st.sampled_from(["a", "b", "c"]), min_size=0, max_size=8),
       data=st.data())
def test_read_long_table_arbitrary_frames(ids, data):
    n = len(ids)
    values = data.draw(st.lists(st.one_of(st.floats(), st.sampled_from(["1", "x", None])), min_size=n, max_size=n))
    times = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    labels = data.draw(st.lists(st.sampled_from([0, 1, None]), min_size=n, max_size=n))
    df = pd.DataFrame({"id": ids, "t": times, "v": pd.Series(values, dtype=object), "label": labels})
    result = read_or_input_error(read_long_table, df, "id", time_column="t", label_column="label")
    if result is not None:
        check_collection(result)
        assert list(result.ids) == list(dict.fromkeys(ids))


# ================================================================================================= Parquet
# Cells of any type a user's Parquet file may hold: numbers, huge and non-finite floats, strings, None, dates.
_cells = st.one_of(st.none(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([1e39, -1e39, 3.4e38]), st.text(max_size=6),
                   st.datetimes(min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                                max_value=pd.Timestamp("2030-01-01").to_pydatetime()))


@FAST
@given(columns=st.lists(st.lists(_cells, min_size=0, max_size=8), min_size=1, max_size=3),
       use_time=st.booleans(), same_type=st.booleans())
def test_read_table_arbitrary_parquet(workdir, columns, use_time, same_type):
    n = min(len(c) for c in columns)
    data = {}
    for j, col in enumerate(columns):
        values = col[:n]
        if same_type:  # one type per column, as Parquet writers usually produce
            values = [v if isinstance(v, type(values[0])) else None for v in values] if values else values
        data["time" if (use_time and j == 0) else f"c{j}"] = pd.Series(values, dtype=object)
    frame = pd.DataFrame(data)
    path = workdir / "arbitrary.parquet"
    try:
        frame.to_parquet(path)
    except Exception:  # pyarrow cannot store this mix at all: no file for seqae to read
        return
    result = read_or_input_error(read_table, path, time_column="time" if use_time and "time" in frame else None)
    if result is not None:
        check_table(result)


@FAST
@given(data=st.binary(max_size=400))
def test_read_table_arbitrary_parquet_bytes(workdir, data):
    path = workdir / "bytes.parquet"
    path.write_bytes(b"PAR1" + data + b"PAR1")
    result = read_or_input_error(read_table, path)
    if result is not None:
        check_table(result)
