"""seqae._runtime: thread count, garbage collector and inference batch sizes around fit and scoring."""
from __future__ import annotations

import gc
import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqae import LSTMAutoencoder
from seqae._runtime import (FIT_THREADS_MIN_STEP_WORK, INFERENCE_ROWS, INFERENCE_STEPS, MIN_PARALLEL_ROWS,
                            MIN_PARALLEL_STEPS, check_num_threads, cyclic_gc_paused, inference_batches,
                            recurrent_step_work, scoring_pass, scoring_workers, torch_threads)
from seqae.data.batching import length_grouped_batches
from conftest import BEFORE_16  # the training and read-out of before issue #16

CPU = torch.device("cpu")


def test_inference_batches_cover_every_sequence_once_in_batches_of_at_most_the_row_cap():
    lengths = np.full(3000, 30)
    batches = inference_batches(lengths)
    assert max(len(b) for b in batches) == INFERENCE_ROWS
    assert sorted(np.concatenate(batches)) == list(range(3000))


def test_long_sequences_are_capped_in_rows_times_steps():
    lengths = np.concatenate([np.full(50, 1000), np.full(50, 20)])
    batches = inference_batches(lengths)
    assert all(len(b) * lengths[b].max() <= INFERENCE_STEPS for b in batches)
    assert sorted(np.concatenate(batches)) == list(range(100))


def test_torch_threads_restores_the_callers_setting_even_on_error():
    torch.set_num_threads(1)
    with pytest.raises(RuntimeError, match="inside"):
        with torch_threads(2, CPU):
            assert torch.get_num_threads() == 2
            raise RuntimeError("inside")
    assert torch.get_num_threads() == 1
    with torch_threads(None, CPU):                                     # None: the caller's setting stays
        assert torch.get_num_threads() == 1


@pytest.mark.parametrize("enabled", [True, False])
def test_cyclic_gc_paused_restores_the_collector_state(enabled):
    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(ValueError):
            with cyclic_gc_paused():
                assert not gc.isenabled()
                raise ValueError
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_scoring_pauses_the_collector_and_restores_it():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 12, 2)).astype(np.float32)
    ae = LSTMAutoencoder(**BEFORE_16, hidden_size=8, latent_dim=4, epochs=1, random_state=0, device="cpu").fit(X)
    seen = []
    handle = ae.module_.register_forward_hook(lambda *_: seen.append(gc.isenabled()))
    try:
        ae.reconstruction_error(X)
        ae.transform(X)
    finally:
        handle.remove()
    assert seen and not any(seen)            # off during every batch
    assert gc.isenabled()                    # and back on afterwards


def _greedy_reference(lengths, batch_size, max_steps):
    """The cap's definition, one sequence at a time: grow a batch while rows x its longest fits."""
    order = np.argsort(lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        stop = start + 1
        while (stop < len(order) and stop - start < batch_size
               and (stop + 1 - start) * lengths[order[stop]] <= max_steps):
            stop += 1
        batches.append(order[start:stop])
        start = stop
    return batches


@given(lengths=st.lists(st.integers(1, 400), min_size=1, max_size=300), batch_size=st.integers(1, 64),
       max_steps=st.integers(1, 5000))
@settings(max_examples=200, deadline=None)
def test_the_steps_cap_splits_as_the_greedy_definition(lengths, batch_size, max_steps):
    lengths = np.asarray(lengths)
    got = length_grouped_batches(lengths, batch_size, max_steps=max_steps)
    want = _greedy_reference(lengths, batch_size, max_steps)
    assert [b.tolist() for b in got] == [b.tolist() for b in want]


def test_auto_threads_mean_one_for_training_small_models_and_torchs_setting_otherwise():
    torch.set_num_threads(2)
    try:
        with torch_threads("auto", CPU):
            assert torch.get_num_threads() == 1
        with torch_threads("auto", CPU, step_work=FIT_THREADS_MIN_STEP_WORK - 1):
            assert torch.get_num_threads() == 1
        with torch_threads("auto", CPU, step_work=FIT_THREADS_MIN_STEP_WORK):
            assert torch.get_num_threads() == 2
        with torch_threads(1, CPU, step_work=FIT_THREADS_MIN_STEP_WORK):   # an int wins
            assert torch.get_num_threads() == 1
        with torch_threads("auto", CPU, scoring=True):
            assert torch.get_num_threads() == 2
        with torch_threads(3, CPU, scoring=True):
            assert torch.get_num_threads() == 3
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


@pytest.mark.parametrize("value", ["auto", None, 1, 4])
def test_num_threads_accepts(value):
    check_num_threads(value)


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "two", "AUTO"])
def test_num_threads_rejects_with_a_message(value):
    with pytest.raises(ValueError, match="num_threads must be 'auto', an integer >= 1 or None"):
        check_num_threads(value)


def test_recurrent_step_work_counts_the_widest_layer():
    assert recurrent_step_work(32, (32,)) == 32 * 4 * 32 * 32
    assert recurrent_step_work(32, (100, 8)) == 32 * 4 * 100 * 100
    # The threshold's own example: 32 rows of 96 units train on all cores, 32 rows of 64 on one.
    assert recurrent_step_work(32, (96, 8)) >= FIT_THREADS_MIN_STEP_WORK > recurrent_step_work(32, (64, 64))


@pytest.fixture
def two_threads():
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(1)


@pytest.fixture
def fit_threads(monkeypatch, two_threads):
    """The torch thread count train_autoencoder runs under, recorded per fit; torch set to 2 threads around."""
    import seqae.autoencoder as sa
    seen = []
    real_train = sa.train_autoencoder

    def train(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real_train(*args, **kwargs)

    monkeypatch.setattr(sa, "train_autoencoder", train)
    return seen


@pytest.mark.parametrize("hidden, decoder, want", [(8, None, 1), (64, None, 1), (100, None, 2), (8, 100, 2)])
def test_the_estimators_default_trains_wide_models_on_torchs_threads(fit_threads, hidden, decoder, want):
    X = np.random.default_rng(0).standard_normal((8, 5, 1)).astype(np.float32)
    LSTMAutoencoder(**BEFORE_16, hidden_size=hidden, decoder_hidden_size=decoder, latent_dim=2, epochs=1, batch_size=32,
                    random_state=0, device="cpu", max_batches_per_epoch=1).fit(X)
    assert fit_threads == [want]
    assert torch.get_num_threads() == 2


def test_the_estimators_default_trains_on_one_thread_and_scores_on_torchs(fit_threads):
    X = np.random.default_rng(0).standard_normal((40, 12, 2)).astype(np.float32)
    ae = LSTMAutoencoder(**BEFORE_16, hidden_size=8, latent_dim=4, epochs=1, random_state=0, device="cpu").fit(X)
    assert ae.num_threads == "auto" and fit_threads == [1]
    seen = []
    handle = ae.module_.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))  # output unchanged
    ae.reconstruction_error(X)
    handle.remove()
    assert seen and set(seen) == {2}
    assert torch.get_num_threads() == 2                      # the caller's setting, untouched


@pytest.mark.parametrize("n, workers, want", [(300, 1, [300]), (300, 2, [150, 150]), (2500, 1, [1024, 1024, 452]),
                                              (100, 4, [MIN_PARALLEL_ROWS, 100 - MIN_PARALLEL_ROWS]), (40, 2, [40])])
def test_inference_batches_give_every_worker_a_batch_down_to_the_row_floor(n, workers, want):
    batches = inference_batches(np.full(n, 30), workers)
    assert [len(b) for b in batches] == want
    assert sorted(np.concatenate(batches)) == list(range(n))


@pytest.mark.parametrize("workers", [2, 4, 64])
def test_workers_share_the_steps_cap_down_to_its_floor(workers):
    lengths = np.full(20_000, 30)
    cap = max(MIN_PARALLEL_STEPS, INFERENCE_STEPS // workers)
    batches = inference_batches(lengths, workers)
    assert all(len(b) * 30 <= cap for b in batches)
    assert max(len(b) for b in batches) == cap // 30            # as large as the shared cap allows
    assert sorted(np.concatenate(batches)) == list(range(20_000))


def test_scoring_workers_follow_num_threads_on_the_cpu_and_are_one_on_a_gpu():
    torch.set_num_threads(2)
    try:
        assert scoring_workers("auto", CPU) == scoring_workers(None, CPU) == 2
        assert scoring_workers(3, CPU) == 3 and scoring_workers(1, CPU) == 1
        assert scoring_workers("auto", torch.device("cuda")) == 1       # a device object needs no GPU
    finally:
        torch.set_num_threads(1)


def _record(index):
    """A scoring pass's work: where and how it ran, and a value that names the batch."""
    return (threading.current_thread().name, torch.get_num_threads(), torch.is_inference_mode_enabled(),
            int(index.sum()))


def test_scoring_pass_scores_whole_batches_on_worker_threads_of_one_intra_op_thread_each_in_order(two_threads):
    lengths = np.full(3000, 5)
    got = list(scoring_pass(lengths, "auto", CPU, _record))
    batches = inference_batches(lengths, 2)
    assert len(batches) > 2
    assert [index.tolist() for index, _ in got] == [b.tolist() for b in batches]      # batch order
    assert [r[3] for _, r in got] == [int(b.sum()) for b in batches]                  # each its own work
    assert all(name.startswith("seqae-score") for name, *_ in (r for _, r in got))
    assert {r[1] for _, r in got} == {1} and all(r[2] for _, r in got)
    assert torch.get_num_threads() == 2 and not torch.is_inference_mode_enabled()


@pytest.mark.parametrize("num_threads, n", [(1, 3000), ("auto", 40)])
def test_scoring_pass_runs_in_the_callers_thread_for_one_worker_or_one_batch(two_threads, num_threads, n):
    got = list(scoring_pass(np.full(n, 5), num_threads, CPU, _record))
    main = threading.current_thread().name
    assert {r[0] for _, r in got} == {main}
    assert {r[1] for _, r in got} == {1 if num_threads == 1 else 2}
    assert torch.get_num_threads() == 2


def test_scoring_pass_raises_a_batchs_error_and_restores_the_threads(two_threads):
    def work(index):
        if 0 in index:
            raise ValueError("bad batch")
        return len(index)

    with pytest.raises(ValueError, match="bad batch"):
        list(scoring_pass(np.full(3000, 5), "auto", CPU, work))
    assert torch.get_num_threads() == 2 and gc.isenabled()


def test_scoring_pass_stopped_early_leaves_the_rest_unscored(two_threads):
    calls = []
    lock = threading.Lock()

    def work(index):
        with lock:
            calls.append(len(index))
        return len(index)

    lengths = np.full(INFERENCE_ROWS * 10, 5)
    batches = inference_batches(lengths, 2)
    passes = scoring_pass(lengths, "auto", CPU, work)
    next(passes)
    passes.close()
    assert len(calls) <= 2 * 2 + 1 < len(batches)       # at most two batches per worker were in flight
    assert torch.get_num_threads() == 2 and gc.isenabled()


def test_the_estimators_score_alike_on_worker_threads_and_on_one_thread(two_threads):
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((int(t), 3)).astype(np.float32) for t in rng.integers(3, 40, size=300)]
    ae = LSTMAutoencoder(**BEFORE_16, hidden_size=8, latent_dim=4, epochs=1, random_state=0, device="cpu").fit(X)
    names = []
    handle = ae.module_.register_forward_hook(lambda *_: names.append(threading.current_thread().name))
    try:
        parallel = (ae.reconstruction_error(X), ae.reconstruction_error(X, per_step=True), ae.transform(X),
                    ae.pooled_features(X))
    finally:
        handle.remove()
    assert names and all(n.startswith("seqae-score") for n in names)
    ae.set_params(num_threads=1)
    serial = (ae.reconstruction_error(X), ae.reconstruction_error(X, per_step=True), ae.transform(X),
              ae.pooled_features(X))
    np.testing.assert_allclose(parallel[0], serial[0], rtol=1e-5)
    for a, b in zip(parallel[1], serial[1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(parallel[2], serial[2], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(parallel[3], serial[3], rtol=1e-5, atol=1e-7)
