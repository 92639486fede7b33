"""Issue #16: the training budget in optimiser steps, the learning-rate schedule, the training objectives
(crops, masked steps, contrastive term) and the multi-scale read-out. Fast: tiny models, CPU only."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seqae import LSTMAutoencoder, SequenceAnomalyDetector, load
from seqae.autoencoder import PARAMS_BEFORE_ISSUE_16
from seqae.detection import AnomalyDetector
from seqae.nn import AutoencoderConfig, SequenceAutoencoder
from seqae.nn.contrastive import hierarchical_contrastive_loss
from seqae.nn.masking import step_mask
from seqae.nn.readout import multiscale_pool, segment_means
from seqae.training.budget import MIN_VALIDATION_SEQUENCES, plan_budget
from seqae.training.objectives import ObjectiveConfig, objective_loss, random_crops

TINY = dict(hidden_size=8, latent_dim=3, device="cpu", num_threads=1)
# Crops of any length (min_crop_steps=1): the batches below are shorter than the library's floor of 32 steps.
OBJECTIVES = {
    "crop": ObjectiveConfig(min_crop=0.5, min_crop_steps=1),
    "mask": ObjectiveConfig(mask_fraction=0.3),
    "contrastive": ObjectiveConfig(contrastive_weight=1.0),
    "all": ObjectiveConfig(min_crop=0.5, min_crop_steps=1, mask_fraction=0.3, contrastive_weight=1.0),
}


def collection(n: int, seed: int = 0, lo: int = 6, hi: int = 20) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.sin(np.arange(k)[:, None] / 3.0 + rng.uniform(0, 6, size=2)).astype(np.float32)
            + 0.1 * rng.standard_normal((k, 2)).astype(np.float32) for k in rng.integers(lo, hi + 1, n)]


# ------------------------------------------------------------------------------------------------ budget
def test_tiny_collection_gets_its_minimum_number_of_steps():
    X = collection(10)                          # one batch of 32 per epoch: one optimiser step per epoch
    ae = LSTMAutoencoder(**TINY, epochs=5, patience=1, min_steps=60, random_state=0).fit(X)
    assert ae.n_epochs_ == 60, "the floor must hold even with patience=1"
    old = LSTMAutoencoder(**TINY, epochs=5, patience=1, min_steps=None, random_state=0).fit(X)
    assert old.n_epochs_ <= 5, "min_steps=None keeps the epoch rule"


def test_large_collection_keeps_the_epoch_rule():
    budget = plan_budget(epochs=100, batches_per_epoch=50, min_steps=1000, schedule="cosine")
    assert budget.epochs == 100 and budget.total_steps == 5000
    small = plan_budget(epochs=100, batches_per_epoch=2, min_steps=1000, schedule="cosine")
    assert small.epochs == 500
    assert not small.may_stop(999) and small.may_stop(1000)


def test_small_validation_split_is_not_made_with_a_step_budget():
    X = collection(10 * (MIN_VALIDATION_SEQUENCES - 1))   # 10% is one sequence short of the minimum
    ae = LSTMAutoencoder(**TINY, epochs=1, min_steps=1, random_state=0).fit(X)
    assert ae.history_["val_loss"] == [None]
    old = LSTMAutoencoder(**TINY, epochs=1, min_steps=None, random_state=0).fit(X)
    assert old.history_["val_loss"][0] is not None


def test_checkpoint_of_a_budgeted_run_resumes_to_the_same_model(tmp_path):
    X = collection(10)                          # 1 step per epoch: the floor plans 15 epochs for epochs=2
    path = tmp_path / "run.ckpt"
    a = LSTMAutoencoder(**TINY, epochs=2, min_steps=15, random_state=0).fit(X, checkpoint=path)
    b = LSTMAutoencoder(**TINY, epochs=2, min_steps=15, random_state=0).fit(X, checkpoint=path)
    assert a.n_epochs_ == b.n_epochs_ == 15
    np.testing.assert_array_equal(a.transform(X), b.transform(X))


def test_cosine_schedule_decays_to_five_percent_and_changes_training():
    budget = plan_budget(epochs=10, batches_per_epoch=10, min_steps=None, schedule="cosine")
    assert budget.learning_rate(1e-3, 0) == pytest.approx(1e-3)
    assert budget.learning_rate(1e-3, 50) == pytest.approx(1e-3 * (0.05 + 0.95 * 0.5))
    assert budget.learning_rate(1e-3, 100) == pytest.approx(5e-5)
    X = collection(20)
    a = LSTMAutoencoder(**TINY, epochs=3, min_steps=30, lr_schedule="cosine", random_state=0).fit(X)
    b = LSTMAutoencoder(**TINY, epochs=3, min_steps=30, lr_schedule="constant", random_state=0).fit(X)
    assert not np.allclose(a.transform(X), b.transform(X))


# ------------------------------------------------------------------------------------------ objectives
def _module(**kw) -> SequenceAutoencoder:
    torch.manual_seed(0)
    return SequenceAutoencoder(AutoencoderConfig(n_features=2, hidden_size=8, latent_dim=3, **kw)).train()


@pytest.mark.parametrize("name", list(OBJECTIVES))
@pytest.mark.parametrize("arch", [dict(), dict(bidirectional=True, num_layers=2, pooling="mean")],
                         ids=["default", "bi2-mean"])
def test_each_objective_gives_padded_steps_zero_gradient(name, arch):
    module = _module(**arch)
    lengths = torch.tensor([12, 5, 9, 7])
    x = torch.randn(4, 12, 2)
    x = torch.where(step_mask(lengths, 12)[:, :, None], x, 1e3 * torch.randn(4, 12, 2))  # garbage padding
    x.requires_grad_(True)
    loss, n = objective_loss(module, x, lengths, 1.0, OBJECTIVES[name], np.random.default_rng(0))
    assert math.isfinite(float(loss.detach())) and n > 0
    loss.backward()
    mask = step_mask(lengths, 12)
    assert (x.grad[~mask] == 0).all(), "padding received gradient"
    assert x.grad[mask].abs().sum() > 0, "real steps received no gradient"


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_objective_loss_does_not_see_padding_values(name):
    module = _module()
    lengths = torch.tensor([10, 4, 7])
    x = torch.randn(3, 10, 2)
    x = torch.where(step_mask(lengths, 10)[:, :, None], x, 0.0)
    garbage = torch.where(step_mask(lengths, 10)[:, :, None], x, 1e3)
    torch.manual_seed(1)
    a, _ = objective_loss(module, x, lengths, 1.0, OBJECTIVES[name], np.random.default_rng(3))
    torch.manual_seed(1)
    b, _ = objective_loss(module, garbage, lengths, 1.0, OBJECTIVES[name], np.random.default_rng(3))
    assert float(a.detach()) == pytest.approx(float(b.detach()), rel=1e-6, abs=1e-7)


def test_crops_keep_at_least_their_floor_of_steps():
    lengths = torch.tensor([10, 32, 40, 100])
    x = torch.arange(100, dtype=torch.float32)[None, :, None].repeat(4, 1, 1)       # step t holds the value t
    for seed in range(20):
        crops, crop_lengths = random_crops(x, lengths, 0.5, np.random.default_rng(seed), min_steps=32)
        assert crop_lengths[:2].tolist() == [10, 32]              # short sequences stay whole
        assert 32 <= int(crop_lengths[2]) <= 40 and 50 <= int(crop_lengths[3]) <= 100
        for i, n in enumerate(crop_lengths.tolist()):             # contiguous real steps, then zeros
            start = float(crops[i, 0, 0])
            torch.testing.assert_close(crops[i, :n, 0], start + torch.arange(n, dtype=torch.float32))
            assert start + n <= int(lengths[i]) and (crops[i, n:] == 0).all()
    assert ObjectiveConfig().min_crop_steps == 32


def test_contrastive_loss_prefers_matching_views():
    z = torch.randn(6, 8, 4)
    matched = hierarchical_contrastive_loss(z, z + 0.01 * torch.randn_like(z))
    shuffled = hierarchical_contrastive_loss(z, z[torch.randperm(6)].flip(1))
    assert float(matched) < float(shuffled)


@pytest.mark.parametrize("kw", [dict(), dict(min_crop=0.5, mask_fraction=0.25, contrastive_weight=1.0)],
                         ids=["default", "all-objectives"])
def test_fit_is_deterministic_with_a_fixed_seed(kw):
    X = collection(30, lo=20, hi=70)            # some longer than the crops' floor of 32 steps
    a = LSTMAutoencoder(**TINY, epochs=2, min_steps=20, random_state=4, **kw).fit(X)
    b = LSTMAutoencoder(**TINY, epochs=2, min_steps=20, random_state=4, **kw).fit(X)
    c = LSTMAutoencoder(**TINY, epochs=2, min_steps=20, random_state=5, **kw).fit(X)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert a.history_ == b.history_
    assert not np.array_equal(a.transform(X), c.transform(X))


@pytest.mark.parametrize("kw", [dict(min_crop=0.5), dict(mask_fraction=0.25), dict(contrastive_weight=1.0)])
def test_every_objective_keeps_reconstruct_and_reconstruction_error(kw):
    X = collection(20, lo=20, hi=70)
    ae = LSTMAutoencoder(**TINY, epochs=1, min_steps=5, random_state=0, **kw).fit(X)
    R = ae.reconstruct(X)
    assert [r.shape for r in R] == [x.shape for x in X]
    e = ae.reconstruction_error(X)
    assert e.shape == (20,) and np.isfinite(e).all()


# ---------------------------------------------------------------------------------------------- read-out
def test_segment_means_match_numpy_and_ignore_padding():
    lengths = torch.tensor([8, 3, 1])
    h = torch.randn(3, 8, 5)
    h_garbage = torch.where(step_mask(lengths, 8)[:, :, None], h, torch.full_like(h, float("nan")))
    got = segment_means(h_garbage, lengths, 4).reshape(3, 4, 5)
    for i, L in enumerate(lengths.tolist()):
        for k in range(4):
            s = (k * L) // 4
            e = max(s + 1, ((k + 1) * L) // 4)
            s = min(s, e - 1)
            torch.testing.assert_close(got[i, k], h[i, s:e].mean(dim=0))
    assert torch.isfinite(multiscale_pool(h_garbage, lengths)).all()


def test_multiscale_embedding_width_and_batch_invariance():
    X = collection(25)
    ae = LSTMAutoencoder(**TINY, num_layers=2, bidirectional=True, epochs=1, min_steps=2, random_state=0).fit(X)
    Z = ae.transform(X)
    assert Z.shape == (25, 3 + 2 * 16 * 10) == (25, ae._n_features_out)
    np.testing.assert_allclose(ae.transform(X[3:4]), Z[3:4], atol=1e-5)
    np.testing.assert_array_equal(Z[:, :3], ae.latent_code(X))
    assert LSTMAutoencoder(**TINY, embedding="latent", epochs=1, min_steps=2, random_state=0).fit(X) \
        .transform(X).shape == (25, 3)


def test_readout_std_is_the_spread_over_real_steps_and_old_files_embed_without_it(tmp_path):
    import json

    from seqae.tensorfile import load_tensor_file, save_tensor_file
    lengths = torch.tensor([8, 3, 1])
    h = torch.randn(3, 8, 5)
    garbage = torch.where(step_mask(lengths, 8)[:, :, None], h, torch.full_like(h, 1e3))
    pooled = multiscale_pool(garbage, lengths).reshape(3, -1, 5)                      # (N, 10, P)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(pooled[i, 2], h[i, :n].std(dim=0, unbiased=False), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(multiscale_pool(garbage, lengths, std=False),
                               torch.cat([pooled[:, :2], pooled[:, 3:]], dim=1).reshape(3, -1))
    X = collection(20)
    ae = LSTMAutoencoder(**TINY, epochs=1, min_steps=2, random_state=0).fit(X)
    ae.save(tmp_path / "m.seqae")
    tensors, doc = load_tensor_file(tmp_path / "m.seqae", what="test")
    del doc["state"]["readout_std_"]                                                  # as a file saved before it
    save_tensor_file(tmp_path / "old.seqae", tensors, json.loads(json.dumps(doc)))
    new, old = load(tmp_path / "m.seqae"), load(tmp_path / "old.seqae")
    assert new.readout_std_ and not old.readout_std_
    Z, Z_old = new.transform(X), old.transform(X)
    assert Z.shape == (20, 3 + 8 * 10) and Z_old.shape == (20, 3 + 8 * 9) == (20, old._n_features_out)
    np.testing.assert_array_equal(np.delete(Z, np.s_[3 + 16:3 + 24], axis=1), Z_old)   # all but the std block


# -------------------------------------------------------------------------------- persistence, detectors
def test_new_parameters_save_and_load(tmp_path):
    X = collection(20)
    ae = LSTMAutoencoder(**TINY, epochs=1, min_steps=3, min_crop=0.6, mask_fraction=0.2, contrastive_weight=0.5,
                         embedding="pooled", lr_schedule="constant", random_state=0).fit(X)
    ae.save(tmp_path / "m.seqae")
    back = load(tmp_path / "m.seqae")
    assert back.get_params() == ae.get_params()
    np.testing.assert_array_equal(back.transform(X), ae.transform(X))


def test_file_without_the_new_parameters_loads_as_it_was_fitted(tmp_path):
    import json

    from seqae.tensorfile import load_tensor_file, save_tensor_file
    X = collection(20)
    ae = LSTMAutoencoder(**{**TINY, **PARAMS_BEFORE_ISSUE_16, "latent_dim": 3}, epochs=1, random_state=0).fit(X)
    ae.save(tmp_path / "m.seqae")
    tensors, doc = load_tensor_file(tmp_path / "m.seqae", what="test")
    for name in PARAMS_BEFORE_ISSUE_16:
        if name != "latent_dim":                # every file records latent_dim
            del doc["params"][name]             # as a file written before issue #16
    save_tensor_file(tmp_path / "old.seqae", tensors, json.loads(json.dumps(doc)))
    back = load(tmp_path / "old.seqae")
    assert {k: back.get_params()[k] for k in PARAMS_BEFORE_ISSUE_16 if k != "latent_dim"} == \
        {k: v for k, v in PARAMS_BEFORE_ISSUE_16.items() if k != "latent_dim"}
    assert back.transform(X).shape == (20, 3)


def test_series_detector_trains_as_before_by_default():
    params = AnomalyDetector()._make_autoencoder().get_params()
    assert {k: params[k] for k in PARAMS_BEFORE_ISSUE_16} == PARAMS_BEFORE_ISSUE_16
    assert AnomalyDetector(min_steps=50)._make_autoencoder().min_steps == 50


def test_sequence_detector_trains_the_embedding_default():
    # score="neighbors" measures LSTMAutoencoder's embedding, so the detector trains it as LSTMAutoencoder does
    # (chosen in benchmarks/results/uea_anomaly.md)
    params = SequenceAnomalyDetector()._make_autoencoder().get_params()
    default = LSTMAutoencoder().get_params()
    assert {k: params[k] for k in PARAMS_BEFORE_ISSUE_16} == {k: default[k] for k in PARAMS_BEFORE_ISSUE_16}
    assert SequenceAnomalyDetector(min_steps=50)._make_autoencoder().min_steps == 50
