"""benchmarks/detection.py: the events protocol's bookkeeping on hand-made cases, Orion's reference figures, and
a run of the suite's cheapest method on UCR and SKAB in a subprocess (skipped without the data)."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import detection  # noqa: E402

DATA = Path(os.environ.get("SEQAE_DATA") or ROOT.parent / "shared" / "data")
ORION = ROOT.parent / "shared" / "reference" / "Orion" / "0.7.1.csv"


def _case(protocols=("scores", "events"), eval_from=10):
    labels = np.zeros(40, np.int64)
    labels[20:25] = 1
    labels[32:34] = 1
    return detection.Case("G", "s", protocols, np.zeros((40, 1)), 10, eval_from, labels,
                           np.array([[20, 24], [32, 33]]))


def test_events_protocol_counts_and_flagged_share():
    case = _case()
    scores = np.zeros(40)
    scores[21] = 1.0
    # one detection inside the first event, one false alarm, one before eval_from (ignored), none on the second
    detected = np.array([[2, 4], [21, 22], [28, 29]])
    rows = {r["protocol"]: r for r in detection.evaluate_case(case, scores, detected, 1.0, 0.5, "k")}
    e = rows["events"]
    assert (e["tp"], e["fp"], e["fn"]) == (1, 1, 1)
    assert e["flagged"] == pytest.approx(4 / 30) and e["labelled"] == pytest.approx(7 / 30)
    s = rows["scores"]
    assert s["n_eval"] == 30 and 0 < s["auc_pr"] <= 1 and 0 < s["vus_pr"] <= 1


def test_a_detection_reaching_back_before_the_evaluated_part_is_cut_at_its_start():
    case = _case(protocols=("events",), eval_from=22)
    rows = detection.evaluate_case(case, np.zeros(40), np.array([[15, 23]]), 0.0, 0.0, "k")
    assert (rows[0]["tp"], rows[0]["fp"], rows[0]["fn"]) == (1, 0, 1)
    assert rows[0]["flagged"] == pytest.approx(2 / 18)


@pytest.mark.skipif(not ORION.is_file(), reason="shared/reference/Orion/0.7.1.csv not found")
def test_orion_reference_figures_are_the_published_ones():
    ref = detection.orion_f1()
    # AER's figures as quoted in issue #15, from the per-signal table summed per group
    assert ref["artificialWithAnomaly"]["aer"] == pytest.approx(0.750, abs=5e-4)
    assert ref["realAWSCloudwatch"]["aer"] == pytest.approx(0.702, abs=5e-4)
    assert ref["SMAP"]["aer"] == pytest.approx(0.764, abs=5e-4)


@pytest.mark.skipif(not (DATA / "UCR_Anomaly").is_dir() or not (DATA / "SKAB").is_dir(),
                    reason="UCR_Anomaly and SKAB not found under ../shared/data or $SEQAE_DATA")
def test_suite_runs_a_peer_on_ucr_and_skab(tmp_path):
    out = tmp_path / "detection.md"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "detection.py"), "--methods", "zscore", "--groups",
           "UCR,SKAB", "--limit", "2", "--jobs", "1", "--data", str(DATA), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    with (tmp_path / "detection.csv").open() as f:   # the long table beside the report
        rows = [r for r in csv.DictReader(f) if r["method"] == "zscore"]
    assert {(r["group"], r["protocol"]) for r in rows} == {("UCR", "scores"), ("UCR", "events"),
                                                          ("SKAB", "scores"), ("SKAB", "events")}
    assert not any(r["error"] for r in rows)
    text = out.read_text()
    assert "| zscore |" in text and "## Events" in text


@pytest.mark.parametrize("repair", [False, True])
def test_the_suites_rescoring_gives_what_the_public_api_gives(repair):
    """_seqae_case scores once and applies each rule to the same fit through the detector's private steps; its
    scores and events must be those of decision_function and detect_events of a detector fitted with the rule's
    parameters (the benchmark would otherwise measure something the library does not do)."""
    from seqae import AnomalyDetector

    rng = np.random.default_rng(0)
    values = (np.sin(np.arange(600) / 7) + 0.1 * rng.standard_normal(600))[:, None]
    values[450:460] += 2.0
    if repair:
        values[150:158] += 2.0                         # something in the training part to repair
    labels = np.zeros(600, np.int64)
    labels[450:460] = 1
    case = detection.Case("G", "s", ("scores", "events"), values, 300, 0, labels, np.array([[450, 459]]))
    params = dict(window=16, hidden_size=8, latent_dim=4, epochs=2, random_state=0, repair_training=repair)
    # with repair_training a rule would change the first fit's events, hence the second fit: no rules then
    rules = {} if repair else {"q": {"threshold": "quantile", "contamination": 0.02},
                               "mean": {"score_aggregation": "window_mean"}}
    out = detection._seqae_case(case, params, 1, rules)
    for rule, overrides in {"": {}, **rules}.items():
        det = AnomalyDetector(**params, **overrides, num_threads=1).fit(values[:300])
        scores, detected = out[rule][:2]
        np.testing.assert_allclose(scores, det.decision_function(values), rtol=1e-6, atol=1e-9)
        events = det.detect_events(values)
        np.testing.assert_array_equal(detected, events[["start_pos", "end_pos"]].to_numpy().reshape(-1, 2))
    assert len(out[""][1]) > 0                         # the comparison is not between empty tables
    assert len(det.repaired_events_) > 0 if repair else len(det.repaired_events_) == 0
    if repair:
        with pytest.raises(ValueError, match="repair_training"):
            detection._seqae_case(case, params, 1, {"q": {"threshold": "quantile"}})


_POOL_SCRIPT = """
import concurrent.futures as cf, multiprocessing, os, sys, time
sys.path.insert(0, {bench!r})
import detection
if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")
    kwargs = dict(initializer=detection.exit_with_parent, initargs=(os.getpid(),)) if {watch} else {{}}
    pool = cf.ProcessPoolExecutor(1, mp_context=ctx, **kwargs)
    worker = pool.submit(os.getpid).result()
    pool.submit(time.sleep, 60)
    print(worker, flush=True)
    time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("watch", [True, False])
def test_pool_workers_exit_when_the_run_is_killed(tmp_path, watch):
    """A run killed from outside leaves no worker computing on (without the initializer one does: the control)."""
    import signal
    import time
    script = tmp_path / "pool.py"
    script.write_text(_POOL_SCRIPT.format(bench=str(ROOT / "benchmarks"), watch=watch))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        assert _alive(worker) is (not watch)
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)
