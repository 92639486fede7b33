"""benchmarks/results_store.py: one long table per benchmark, a run replacing only its own method's rows."""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_store import ResultsStore  # noqa: E402


def test_a_write_replaces_only_its_method_and_keeps_the_others_metadata(tmp_path):
    store = ResultsStore(tmp_path / "bench.csv", ["series", "score"])
    store.write("a", [{"series": "s2", "score": 0.25}, {"series": "s1", "score": 0.5}], {"command": "run a"})
    store.write("b", [{"series": "s1", "score": 1.0, "ignored": "x"}], {"command": "run b"})
    store.write("a", [{"series": "s3", "score": 0.125}])          # no metadata given: a's is kept
    assert store.methods() == ["b", "a"]
    assert store.rows("a") == [{"method": "a", "series": "s3", "score": "0.125"}]
    assert store.rows("b") == [{"method": "b", "series": "s1", "score": "1"}]
    assert store.meta("a") == {"command": "run a"} and store.meta("missing") == {}
    assert json.loads((tmp_path / "bench.json").read_text()) == {"a": {"command": "run a"},
                                                                 "b": {"command": "run b"}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.csv", "bench.json"]   # no temp or lock file left


def test_rows_are_ordered_by_the_key_columns(tmp_path):
    store = ResultsStore(tmp_path / "t.csv", ["group", "series"], key=("group", "series"))
    store.write("m", [{"group": "B", "series": "a"}, {"group": "A", "series": "z"}, {"group": "A", "series": "b"}])
    assert [(r["group"], r["series"]) for r in store.rows("m")] == [("A", "b"), ("A", "z"), ("B", "a")]
    assert ResultsStore(tmp_path / "none.csv", ["series"]).rows("m") == []


def test_uea_per_seed_table_keeps_the_rows_a_run_did_not_measure(tmp_path):
    import uea

    path = tmp_path / "uea.csv"
    uea.write_csv([uea.Result("GunPoint", "default", 0, linear=0.5), uea.Result("GunPoint", "pooled", 0, linear=0.6)],
                  path)
    uea.write_csv([uea.Result("GunPoint", "default", 0, linear=0.9), uea.Result("ArrowHead", "default", 1)], path)
    rows = {(r.set, r.method, r.seed): r.linear for r in uea.read_csv(path)}
    assert rows.keys() == {("GunPoint", "default", 0), ("GunPoint", "pooled", 0), ("ArrowHead", "default", 1)}
    assert rows[("GunPoint", "default", 0)] == 0.9 and rows[("GunPoint", "pooled", 0)] == 0.6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uea.csv"]
