"""Many series in one call (seqae.many, ``seqae detect-many``): per-series results, failures, reruns, engines."""
from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from seqae import AnomalyDetector, LSTMAutoencoder
from seqae.cli import main
from seqae.many import ManyOutput, detect_many, embed_many, read_output, score_many
from seqae.many._engine import series_seed

TINY = dict(window=16, hidden_size=8, latent_dim=4, epochs=2, max_train_windows=200, patience=None)


def fleet(n_series: int = 4, n: int = 240, seed: int = 0) -> pd.DataFrame:
    """A long table of sine series with a spike in the second one, rows shuffled."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_series):
        v = np.sin(np.arange(n) / 6 + i) + 0.05 * rng.standard_normal(n)
        if i == 1:
            v[180:185] += 4
        parts.append(pd.DataFrame({"sid": f"m{i}", "ts": pd.date_range("2024-01-01", periods=n, freq="min"),
                                   "value": v}))
    return pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=1).reset_index(drop=True)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    bad = pd.DataFrame({"sid": "short", "ts": pd.date_range("2024-01-01", periods=10, freq="min"), "value": 1.0})
    nan = pd.DataFrame({"sid": "nan", "ts": pd.date_range("2024-01-01", periods=200, freq="min"), "value": np.nan})
    return pd.concat([fleet(), bad, nan], ignore_index=True)


def assert_same_result(remote, local) -> None:
    """An engine's result equals the pandas loop's: scores, events and failures, values and types."""
    pd.testing.assert_frame_equal(remote.scores, local.scores)
    pd.testing.assert_frame_equal(remote.events, local.events)
    pd.testing.assert_frame_equal(remote.failures, local.failures)


@pytest.fixture(scope="module")
def local(table):
    return detect_many(table, by="sid", time="ts", **TINY)


def test_each_series_is_its_own_detector_fit_on_its_first_part(table, local):
    assert sorted(local.scores["sid"].unique()) == ["m0", "m1", "m2", "m3"]
    one = table[table["sid"] == "m1"].sort_values("ts").reset_index(drop=True)
    det = AnomalyDetector(**TINY, num_threads=1, random_state=series_seed("m1", 0)).fit(one[["value"]].iloc[:72])
    expected = det.detect(one[["value"]])
    got = local.scores[local.scores["sid"] == "m1"]
    assert (got["ts"].to_numpy() == one["ts"].to_numpy()).all()            # in time order, not input order
    np.testing.assert_array_equal(got["score"].to_numpy(), expected["score"].to_numpy())
    np.testing.assert_array_equal(got["label"].to_numpy(), expected["label"].to_numpy())
    events = det.detect_events(one.set_index("ts")[["value"]])
    mine = local.events[local.events["sid"] == "m1"].drop(columns="sid").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, events.reset_index(drop=True), check_dtype=False)
    assert len(mine) >= 1 and (got["event"] > 0).sum() == mine["length"].sum()


def test_a_failing_series_gives_its_error_row_and_the_others_finish(local):
    assert local.n_failed == 2
    errors = dict(zip(local.failures["sid"], local.failures["error"]))
    assert "fewer than the window" in errors["short"] and "train_fraction" in errors["short"]
    assert "missing" in errors["nan"].lower()
    assert not local.scores["sid"].isin(["short", "nan"]).any()
    assert len(local.scores) == 4 * 240 and np.isfinite(local.scores["score"]).all()


def test_rerun_and_row_order_give_the_same_output(table, local):
    again = detect_many(table.sample(frac=1.0, random_state=7), by="sid", time="ts", **TINY)
    pd.testing.assert_frame_equal(again.scores, local.scores)
    pd.testing.assert_frame_equal(again.events, local.events)
    pd.testing.assert_frame_equal(again.failures, local.failures)


def test_seeds_come_from_the_id_not_pythons_hash():
    # Python salts hash() of text per process: a seed from it would differ between workers and runs.
    code = "from seqae.many._engine import series_seed; print(series_seed('m1', 0), series_seed(7, 3))"
    out = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
           for _ in range(2)]
    assert out[0] == out[1] == f"{series_seed('m1', 0)} {series_seed(7, 3)}\n"
    assert series_seed(np.int64(7), 3) == series_seed(7, 3) != series_seed(7, 4)


def test_bad_arguments_are_one_error_before_any_series():
    with pytest.raises(ValueError, match="window"):
        detect_many(fleet(2), by="sid", time="ts", window=1)
    with pytest.raises(Exception, match="by='machine' is not a column"):
        detect_many(fleet(2), by="machine", time="ts", **TINY)


def test_score_many_and_embed_many_apply_one_saved_model(tmp_path, table):
    one = table[table["sid"] == "m0"].sort_values("ts")
    det = AnomalyDetector(**TINY, random_state=0).fit(one[["value"]])
    det.save(tmp_path / "det.seqae")
    result = score_many(table, tmp_path / "det.seqae", by="sid", time="ts")
    m2 = table[table["sid"] == "m2"].sort_values("ts")[["value"]].reset_index(drop=True)
    np.testing.assert_allclose(result.scores.loc[result.scores["sid"] == "m2", "score"].to_numpy(),
                               det.detect(m2)["score"].to_numpy(), rtol=1e-6)
    assert sorted(result.failures["sid"]) == ["nan", "short"]

    ae = LSTMAutoencoder(hidden_size=8, latent_dim=4, epochs=2, min_steps=None, embedding="latent",
                         random_state=0).fit([g[["value"]].to_numpy() for _, g in fleet().groupby("sid")])
    ae.save(tmp_path / "ae.seqae")
    emb = embed_many(table, tmp_path / "ae.seqae", by="sid", time="ts")
    assert list(emb.scores.columns) == ["sid", "z0", "z1", "z2", "z3", "reconstruction_error"]
    seq = table[table["sid"] == "m3"].sort_values("ts")[["value"]].to_numpy()
    np.testing.assert_allclose(emb.scores.loc[emb.scores["sid"] == "m3", ["z0", "z1", "z2", "z3"]].to_numpy()[0],
                               ae.transform([seq])[0], rtol=1e-5, atol=1e-6)
    assert list(emb.failures["sid"]) == ["nan"]           # a sequence of 10 steps embeds; all-NaN does not


def test_cli_detect_many_end_to_end(tmp_path, table, local, capsys):
    src = tmp_path / "fleet.parquet"
    table.to_parquet(src)
    out, events = tmp_path / "scores.parquet", tmp_path / "events.csv"
    args = ["detect-many", src, "--by", "sid", "--time-column", "ts", "-o", out, "--events", events,
            "--window", "16", "--hidden-size", "8", "--latent-dim", "4", "--epochs", "2",
            "--max-train-windows", "200", "--patience", "none"]
    assert main([str(a) for a in args]) == 0
    printed = capsys.readouterr().out
    assert "2 of 6 series failed" in printed and "--window" in printed
    frame = pd.read_parquet(out)
    ok = frame[frame["error"].isna()].reset_index(drop=True)
    np.testing.assert_array_equal(ok["score"].to_numpy(), local.scores["score"].to_numpy())
    failed = frame[frame["error"].notna()]
    assert sorted(failed["sid"]) == ["nan", "short"] and failed["score"].isna().all()
    assert "--train-fraction" in failed.loc[failed["sid"] == "short", "error"].iloc[0]
    assert len(pd.read_csv(events)) == len(local.events)
    assert not list(tmp_path.glob("*.tmp*"))                                   # written atomically

    assert main([str(a) for a in args[:4] + ["--by", "machine", "-o", out]]) == 2
    assert "--by 'machine': no such column" in capsys.readouterr().err
    assert main([str(a) for a in args + ["--workers", "2"]]) == 2
    assert "--workers is for --engine dask" in capsys.readouterr().err


@contextlib.contextmanager
def dask_client():
    """A Client of a LocalCluster of 2 worker processes, one thread each (skips without the Dask extra)."""
    pytest.importorskip("fugue", reason='the Dask engine needs the extra: pip install "seqae[dask]"')
    distributed = pytest.importorskip("distributed", reason='pip install "seqae[dask]"')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)   # Dask's own deprecations inside fugue_dask
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            yield client


def test_dask_local_cluster_gives_identical_results(table, local):
    with dask_client() as client:
        remote = detect_many(table, by="sid", time="ts", engine=client, **TINY)
    assert_same_result(remote, local)


def test_partitions_hold_several_series_but_keep_every_worker_busy():
    fa = pytest.importorskip("fugue.api", reason='pip install "seqae[dask]"')
    from seqae.many._engine import SERIES_PER_PARTITION, partition_spec
    ids = lambda n: pd.DataFrame({"sid": np.repeat(np.arange(n), 3)})           # noqa: E731
    # Fugue's local engine has one slot: at least 4 partitions while there are series for them.
    assert partition_spec(ids(300), "sid", fa, None)["num"] == 300 // SERIES_PER_PARTITION
    assert partition_spec(ids(20), "sid", fa, None)["num"] == 4
    assert partition_spec(ids(3), "sid", fa, None)["num"] == 3
    assert partition_spec(ids(300), "sid", fa, None)["by"] == ["sid"]


def test_dask_partitions_of_several_series_give_identical_results():
    # 12 series on 2 worker slots: 8 partitions, so some hold two series each.
    many = fleet(n_series=12)
    local = detect_many(many, by="sid", time="ts", **TINY)
    with dask_client() as client:
        remote = detect_many(many, by="sid", time="ts", engine=client, **TINY)
    assert_same_result(remote, local)
    assert remote.scores["sid"].nunique() == 12


def test_a_dask_frame_runs_without_fugues_merge_warning(tmp_path, table, local):
    # Ids read as objects meet Fugue's own table of ids (strings, as Dask makes them) in a merge whose dtype
    # warning is Fugue's internals, not the user's to act on.
    dask = pytest.importorskip("dask")
    import dask.dataframe as dd

    table.to_parquet(tmp_path / "fleet.parquet")
    with dask.config.set({"dataframe.convert-string": False}):
        frame = dd.read_parquet(tmp_path / "fleet.parquet")
    with dask_client() as client, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        remote = detect_many(frame, by="sid", time="ts", engine=client, **TINY)
    assert not [w for w in caught if "merge column data type" in str(w.message)]
    assert sorted(remote.scores["sid"].unique()) == sorted(local.scores["sid"].unique())


def test_spark_session_gives_identical_results(table, local):
    # Not in CI's extras (pyspark is large and needs Java): runs where the user has Spark, skipped elsewhere.
    pytest.importorskip("fugue", reason='Spark runs through Fugue: pip install "seqae[dask]" for Fugue')
    pyspark = pytest.importorskip("pyspark", reason="Spark is the user's install: pip install pyspark (needs Java)")
    import shutil
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java on the PATH")
    spark = (pyspark.sql.SparkSession.builder.master("local[2]").appName("seqae-test")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate())
    try:
        remote = detect_many(table, by="sid", time="ts", engine=spark, **TINY)
    finally:
        spark.stop()
    assert_same_result(remote, local)


def test_ray_gives_identical_results(table, local):
    # Not in CI's extras (Ray is a large install of its own): runs where the user has it, skipped elsewhere.
    pytest.importorskip("fugue", reason='Ray runs through Fugue: pip install "seqae[dask]" for Fugue')
    ray = pytest.importorskip("ray", reason='Ray is the user\'s install: pip install "fugue[ray]"')
    pytest.importorskip("fugue_ray", reason='pip install "fugue[ray]"')
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = detect_many(table, by="sid", time="ts", engine="ray", **TINY)
    finally:
        ray.shutdown()
    assert_same_result(remote, local)


def test_cli_engine_dask_writes_what_the_local_engine_writes(tmp_path, table):
    pytest.importorskip("fugue", reason='the Dask engine needs the extra: pip install "seqae[dask]"')
    pytest.importorskip("distributed", reason='pip install "seqae[dask]"')
    src = tmp_path / "fleet.parquet"
    table.to_parquet(src)
    args = ["detect-many", src, "--by", "sid", "--time-column", "ts", "--window", "16", "--hidden-size", "8",
            "--latent-dim", "4", "--epochs", "2", "--max-train-windows", "200", "--patience", "none", "-q"]
    assert main([str(a) for a in args + ["-o", tmp_path / "local.csv"]]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert main([str(a) for a in args + ["-o", tmp_path / "dask.csv", "--engine", "dask", "--workers", "2"]]) == 0
    assert (tmp_path / "local.csv").read_bytes() == (tmp_path / "dask.csv").read_bytes()


# output=: the results written from where they are made, nothing per row gathered in the caller.

def leftovers(folder) -> list:
    """Temporary or set-aside directories of an output= run left beside its target."""
    return [p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name]


@pytest.fixture(scope="module")
def loop_output(table, tmp_path_factory):
    return detect_many(table, by="sid", time="ts", output=tmp_path_factory.mktemp("loop") / "out", **TINY)


def test_output_from_the_loop_reads_back_as_the_in_memory_result(loop_output, local):
    assert isinstance(loop_output, ManyOutput)
    assert (loop_output.n_series, loop_output.n_rows, loop_output.n_events) == (6, 4 * 240, len(local.events))
    assert sorted(p.name for p in loop_output.path.iterdir()) == ["events", "failures.parquet", "manifest.json",
                                                                   "scores"]
    assert_same_result(read_output(loop_output.path), local)
    pd.testing.assert_frame_equal(loop_output.failures, local.failures)
    assert loop_output.n_failed == 2 and not leftovers(loop_output.path.parent)
    on_disk = pd.read_parquet(loop_output.path / "failures.parquet")       # failed series carry their error
    assert "fewer than the window" in on_disk.set_index("sid").loc["short", "error"]


def test_dask_workers_write_what_the_loop_writes(table, local, loop_output, tmp_path):
    with dask_client() as client:
        remote = detect_many(table, by="sid", time="ts", engine=client, output=tmp_path / "out", **TINY)
    assert (remote.n_series, remote.n_rows, remote.n_events) == (6, 4 * 240, len(local.events))
    pd.testing.assert_frame_equal(remote.failures, loop_output.failures)
    for name, keys in (("scores", ["sid", "ts"]), ("events", ["sid", "start"])):
        # Read with plain pandas, as a user would: the same rows and values series by series (the engines
        # record different pandas dtypes, Arrow-backed or not, so values are compared, not dtypes).
        mine, theirs = (pd.read_parquet(p / name).sort_values(keys).reset_index(drop=True)
                        for p in (remote.path, loop_output.path))
        pd.testing.assert_frame_equal(mine, theirs, check_dtype=False)
    assert_same_result(read_output(remote.path), local)
    assert not leftovers(tmp_path)


def test_an_output_is_replaced_only_by_a_run_that_succeeds(monkeypatch, tmp_path):
    from seqae.many import _output

    table, target = fleet(2), tmp_path / "out"
    detect_many(table, by="sid", time="ts", output=target, **TINY)
    (target / "marker").write_text("the previous output")
    with pytest.raises(ValueError, match="window"):                      # bad parameters: before any series
        detect_many(table, by="sid", time="ts", output=target, **{**TINY, "window": 1})
    # A run killed after its first series was written (in the loop: the second series' scores part).
    monkeypatch.setattr(_output, "scores_part", _fails_after_one(_output.scores_part))
    with pytest.raises(KeyboardInterrupt):
        detect_many(table, by="sid", time="ts", output=target, **TINY)
    monkeypatch.undo()
    assert (target / "marker").read_text() == "the previous output" and not leftovers(tmp_path)
    done = detect_many(table, by="sid", time="ts", output=target, **TINY)
    assert not (target / "marker").exists() and done.n_rows == 2 * 240 and not leftovers(tmp_path)


def _fails_after_one(fn):
    calls = []

    def wrapped(frame, spec):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt("killed")
        return fn(frame, spec)
    return wrapped


def test_output_refuses_what_it_should_not_replace(tmp_path):
    (tmp_path / "mine.txt").write_text("not seqae's")
    for target, message in ((tmp_path, "not a seqae output"), (tmp_path / "mine.txt", "is a file"),
                            (tmp_path / "no" / "out", "does not exist"), ("s3://bucket/out", "a URL")):
        with pytest.raises(Exception, match=message):
            detect_many(fleet(2), by="sid", time="ts", output=target, **TINY)
    assert (tmp_path / "mine.txt").read_text() == "not seqae's"


def test_score_many_writes_its_output_too(tmp_path, table):
    det = AnomalyDetector(**TINY, random_state=0).fit(table[table["sid"] == "m0"].sort_values("ts")[["value"]])
    det.save(tmp_path / "det.seqae")
    written = score_many(table, tmp_path / "det.seqae", by="sid", time="ts", output=tmp_path / "out")
    assert_same_result(read_output(written.path), score_many(table, tmp_path / "det.seqae", by="sid", time="ts"))


def test_cli_dask_workers_read_a_parquet_input_themselves(tmp_path, table, loop_output, capsys, monkeypatch):
    pytest.importorskip("fugue", reason='the Dask engine needs the extra: pip install "seqae[dask]"')
    pytest.importorskip("distributed", reason='pip install "seqae[dask]"')
    import seqae.io

    src = tmp_path / "fleet.parquet"
    table.to_parquet(src)

    def not_here(path):
        raise AssertionError("the table was read in the driver")
    monkeypatch.setattr(seqae.io, "read_frame", not_here)
    args = ["detect-many", src, "--by", "sid", "--time-column", "ts", "--window", "16", "--hidden-size", "8",
            "--latent-dim", "4", "--epochs", "2", "--max-train-windows", "200", "--patience", "none",
            "--engine", "dask", "--workers", "2", "--output-dir", tmp_path / "out"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert main([str(a) for a in args]) == 0
    printed = capsys.readouterr()
    assert "the workers read" in printed.err and "2 of 6 series failed" in printed.out
    assert_same_result(read_output(tmp_path / "out"), read_output(loop_output.path))
    table.astype({"value": str}).to_parquet(src)                 # checked from the file's schema alone
    assert main([str(a) for a in args]) == 2
    assert "column(s) ['value'] of" in capsys.readouterr().err


def test_embed_many_writes_its_output_on_the_loop_and_on_dask(tmp_path, table):
    ae = LSTMAutoencoder(hidden_size=8, latent_dim=4, epochs=2, min_steps=None, embedding="latent",
                         random_state=0).fit([g[["value"]].to_numpy() for _, g in fleet().groupby("sid")])
    ae.save(tmp_path / "ae.seqae")
    in_memory = embed_many(table, tmp_path / "ae.seqae", by="sid", time="ts")
    written = embed_many(table, tmp_path / "ae.seqae", by="sid", time="ts", output=tmp_path / "loop")
    assert (written.n_series, written.n_rows, written.n_events, written.n_failed) == (6, 5, 0, 1)
    assert written.events is None and sorted(p.name for p in written.path.iterdir()) == [
        "failures.parquet", "manifest.json", "scores"]               # one row per sequence, no events
    assert_same_result(read_output(written.path), in_memory)
    with dask_client() as client:
        remote = embed_many(table, tmp_path / "ae.seqae", by="sid", time="ts", engine=client,
                            output=tmp_path / "dask")
    assert_same_result(read_output(remote.path), in_memory)
    assert not leftovers(tmp_path)


def test_cli_detect_many_output_dir(tmp_path, table, loop_output, capsys):
    src = tmp_path / "fleet.parquet"
    table.to_parquet(src)
    args = ["detect-many", src, "--by", "sid", "--time-column", "ts", "--window", "16", "--hidden-size", "8",
            "--latent-dim", "4", "--epochs", "2", "--max-train-windows", "200", "--patience", "none"]
    assert main([str(a) for a in args + ["--output-dir", tmp_path / "out"]]) == 0
    printed = capsys.readouterr().out
    assert "2 of 6 series failed" in printed and "--window" in printed and "failures.parquet" in printed
    assert_same_result(read_output(tmp_path / "out"), read_output(loop_output.path))
    for extra, message in ((["--output-dir", tmp_path / "out", "--events", tmp_path / "e.csv"], "--events is for -o"),
                           (["--output-dir", src], "--output-dir .* is a file"),
                           (["--output-dir", tmp_path], "--output-dir .* not a seqae output"),
                           (["--output-dir", tmp_path / "out", "-o", tmp_path / "s.csv"], "not allowed with")):
        assert main([str(a) for a in args + extra]) == 2
        assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize("name", ["native", "pandas"])
def test_fugues_local_engine_runs_as_the_loop(table, local, loop_output, tmp_path, name):
    # Fugue's local engine saved single files where the output has folders: the run failed after fitting every
    # series (and read_output would have read its events as none).
    assert_same_result(detect_many(table, by="sid", time="ts", engine=name, **TINY), local)
    written = detect_many(table, by="sid", time="ts", engine=name, output=tmp_path / "out", **TINY)
    assert_same_result(read_output(written.path), read_output(loop_output.path))
