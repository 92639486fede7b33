"""seqae._runtime: thread count, garbage collector and inference batch sizes around fit and scoring."""
from __future__ import annotations

import gc

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqae import LSTMAutoencoder
from seqae._runtime import (FIT_THREADS_MIN_STEP_WORK, INFERENCE_ROWS, INFERENCE_STEPS, check_num_threads,
                            cyclic_gc_paused, inference_batches, recurrent_step_work, torch_threads)
from seqae.data.batching import length_grouped_batches

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
    ae = LSTMAutoencoder(hidden_size=8, latent_dim=4, epochs=1, random_state=0, device="cpu").fit(X)
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
def fit_threads(monkeypatch):
    """The torch thread count train_autoencoder runs under, recorded per fit; torch set to 2 threads around."""
    import seqae.autoencoder as sa
    seen = []
    real_train = sa.train_autoencoder

    def train(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real_train(*args, **kwargs)

    monkeypatch.setattr(sa, "train_autoencoder", train)
    torch.set_num_threads(2)
    yield seen
    torch.set_num_threads(1)


@pytest.mark.parametrize("hidden, decoder, want", [(8, None, 1), (64, None, 1), (100, None, 2), (8, 100, 2)])
def test_the_estimators_default_trains_wide_models_on_torchs_threads(fit_threads, hidden, decoder, want):
    X = np.random.default_rng(0).standard_normal((8, 5, 1)).astype(np.float32)
    LSTMAutoencoder(hidden_size=hidden, decoder_hidden_size=decoder, latent_dim=2, epochs=1, batch_size=32,
                    random_state=0, device="cpu", max_batches_per_epoch=1).fit(X)
    assert fit_threads == [want]
    assert torch.get_num_threads() == 2


def test_the_estimators_default_trains_on_one_thread_and_scores_on_torchs(fit_threads):
    X = np.random.default_rng(0).standard_normal((40, 12, 2)).astype(np.float32)
    ae = LSTMAutoencoder(hidden_size=8, latent_dim=4, epochs=1, random_state=0, device="cpu").fit(X)
    assert ae.num_threads == "auto" and fit_threads == [1]
    seen = []
    handle = ae.module_.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))  # output unchanged
    ae.reconstruction_error(X)
    handle.remove()
    assert seen and set(seen) == {2}
    assert torch.get_num_threads() == 2                      # the caller's setting, untouched
