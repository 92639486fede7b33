"""The fused loss gives the module's loss and gradients, and the training loop uses it only where it applies."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import seqae.training.objectives as loop  # where the training loop's batch loss picks the fused path
from seqae import LSTMAutoencoder
from seqae.nn.autoencoder import AutoencoderConfig, SequenceAutoencoder
from seqae.nn.fused_lstm import fused_lstm_available
from seqae.nn.losses import autoencoder_loss, forecast_loss
from seqae.nn.fused_loss import fused_autoencoder_loss, fused_loss_applies
from conftest import BEFORE_16  # the training and read-out of before issue #16

pytestmark = pytest.mark.skipif(not fused_lstm_available(), reason="the fused CPU LSTM kernel is not built here")


def _module(dtype=torch.float64, **config) -> SequenceAutoencoder:
    torch.manual_seed(0)
    cfg = dict(n_features=3, hidden_size=13, latent_dim=5)
    cfg.update(config)
    module = SequenceAutoencoder(AutoencoderConfig(**cfg)).to(dtype).train()
    with torch.no_grad():          # biases away from zero, so that a mixed-up bias gradient would show
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return module


def _loss_and_grads(module, loss_fn):
    torch.manual_seed(1)           # the same VAE noise on both paths
    loss = loss_fn()
    params = list(module.parameters())
    # allow_unused: the module's loss leaves out the next-step head where no step has a successor (its gradient 0)
    grads = torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True)
    return loss.detach(), grads


CASES = [
    dict(),                                                   # F = 3, projected inside the kernel
    dict(n_features=1, hidden_size=8, latent_dim=8),
    dict(n_features=20),                                      # F > 16: projected before the kernel
    dict(decoder_hidden_size=6),                              # a narrower decoder
    dict(reverse_decoding=False),
    dict(variational=True),
    dict(variational=True, n_features=1, reverse_decoding=False, decoder_hidden_size=9),
    dict(forecast=True),                                      # the detector's default: a next-step head
    dict(forecast=True, n_features=1, hidden_size=8, latent_dim=8),
    dict(forecast=True, n_features=20, variational=True),
]


def _module_loss(module, x_in, target, lengths, beta=1.0):
    """The loss the training loop computes through the module (training/objectives.py, _reconstruction)."""
    out = module(x_in, lengths)
    total = autoencoder_loss(out.reconstruction, target, lengths, out.embedding, out.logvar, beta)[0]
    return total if out.forecast is None else total + forecast_loss(out.forecast, target, lengths)


PADDED = [4, 11, 1, 7, 11, 2, 9]   # lengths of a padded batch of 7 (longest 11), the 1-step edge included


@pytest.mark.parametrize("config", CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
@pytest.mark.parametrize("beta", [1.0, 0.3])
@pytest.mark.parametrize("padded", [False, True], ids=["windows", "padded"])
def test_loss_and_every_gradient_match_the_module(config, beta, padded):
    module = _module(**config)
    n_features = module.config.n_features
    lengths = torch.tensor(PADDED) if padded else torch.full((7,), 11)
    x = torch.randn(7, 11, n_features, dtype=torch.float64)
    x = torch.where(torch.arange(11)[None, :, None] < lengths[:, None, None], x, 0.0)   # zero padding
    assert fused_loss_applies(module, x, lengths)

    ref_loss, ref_grads = _loss_and_grads(module, lambda: _module_loss(module, x, x, lengths, beta))
    loss, grads = _loss_and_grads(module, lambda: fused_autoencoder_loss(module, x, lengths, beta))
    torch.testing.assert_close(loss, ref_loss, rtol=1e-10, atol=0)
    names = [name for name, _ in module.named_parameters()]
    for name, got, want in zip(names, grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-12, msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("config", CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
@pytest.mark.parametrize("padded", [False, True], ids=["windows", "padded"])
def test_a_masked_input_with_a_clean_target_matches_the_module(config, padded):
    # Masked-step training (training/objectives.py): the encoder reads x_in, the decoder must give back x.
    module = _module(**config)
    lengths = torch.tensor(PADDED) if padded else torch.full((7,), 11)
    x = torch.randn(7, 11, module.config.n_features, dtype=torch.float64)
    x = torch.where(torch.arange(11)[None, :, None] < lengths[:, None, None], x, 0.0)
    x_in = torch.where(torch.rand(7, 11, 1) < 0.3, 0.0, x)

    ref_loss, ref_grads = _loss_and_grads(module, lambda: _module_loss(module, x_in, x, lengths))
    loss, grads = _loss_and_grads(module, lambda: fused_autoencoder_loss(module, x_in, lengths, target=x))
    torch.testing.assert_close(loss, ref_loss, rtol=1e-10, atol=0)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-12)
    plain, _ = _loss_and_grads(module, lambda: fused_autoencoder_loss(module, x_in, lengths))
    assert not torch.allclose(plain, loss), "the target must matter"


def test_padding_values_change_nothing():
    module = _module()
    lengths = torch.tensor(PADDED)
    x = torch.randn(7, 11, 3, dtype=torch.float64)
    pad = torch.arange(11)[None, :, None] >= lengths[:, None, None]
    loss, grads = _loss_and_grads(module, lambda: fused_autoencoder_loss(module, torch.where(pad, 0.0, x), lengths))
    x_big = torch.where(pad, 1e3 * torch.randn_like(x), x)     # padding is zeros in seqae's batches, but if not:
    loss_big, grads_big = _loss_and_grads(module, lambda: fused_autoencoder_loss(module, x_big, lengths))
    torch.testing.assert_close(loss_big, loss, rtol=0, atol=0)
    for got, want in zip(grads_big, grads):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_float32_matches_the_module_too():
    module = _module(dtype=torch.float32, n_features=1, hidden_size=32, latent_dim=32)
    x, lengths = torch.randn(32, 30, 1), torch.full((32,), 30)
    ref = autoencoder_loss(module(x, lengths).reconstruction, x, lengths)[0]
    ref_grads = torch.autograd.grad(ref, list(module.parameters()))
    loss = fused_autoencoder_loss(module, x, lengths)
    grads = torch.autograd.grad(loss, list(module.parameters()))
    torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-7)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_the_logvar_clamp_stops_the_gradient_as_in_the_module():
    module = _module(variational=True)
    with torch.no_grad():
        module.latent.logvar.bias.fill_(30.0)          # every log-variance beyond the clamp at +10
    x, lengths = torch.randn(4, 6, 3, dtype=torch.float64), torch.full((4,), 6)
    _, grads = _loss_and_grads(module, lambda: fused_autoencoder_loss(module, x, lengths))
    named = dict(zip([name for name, _ in module.named_parameters()], grads))
    assert torch.count_nonzero(named["latent.logvar.weight"]) == 0
    assert torch.count_nonzero(named["latent.mean.weight"]) > 0


@pytest.mark.parametrize("change", [
    dict(config=dict(num_layers=2)), dict(config=dict(bidirectional=True)), dict(config=dict(pooling="mean")),
    dict(config=dict(pooling="attention")), dict(config=dict(decoder="autoregressive")), dict(eval=True),
    dict(on_meta=True),
], ids=lambda c: next(iter(c.values())) if "config" in c else next(iter(c)))
def test_it_applies_only_to_the_default_architecture_in_training(change):
    module = _module(**change.get("config", {}))
    x, lengths = torch.randn(5, 9, 3, dtype=torch.float64), torch.full((5,), 9)
    if change.get("eval"):
        module.eval()
    if change.get("on_meta"):
        x = x.to("meta")
    assert not fused_loss_applies(module, x, lengths)


def test_one_step_sequences_give_the_next_step_head_no_loss_and_no_gradient():
    # Nothing has a successor: the module's forecast_loss is 0, and so is every gradient of the head.
    module = _module(forecast=True)
    x, lengths = torch.randn(4, 1, 3, dtype=torch.float64), torch.ones(4, dtype=torch.int64)
    ref_loss, ref_grads = _loss_and_grads(module, lambda: _module_loss(module, x, x, lengths))
    loss, grads = _loss_and_grads(module, lambda: fused_autoencoder_loss(module, x, lengths))
    torch.testing.assert_close(loss, ref_loss, rtol=1e-10, atol=0)
    named = dict(zip([name for name, _ in module.named_parameters()], grads))
    assert torch.count_nonzero(named["forecast_head.weight"]) == 0
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("forecast", [False, True], ids=["", "forecast"])
@pytest.mark.parametrize("variable_length", [False, True], ids=["windows", "variable-length"])
def test_training_with_the_fused_loss_follows_the_module_path(monkeypatch, variable_length, forecast):
    rng = np.random.default_rng(0)
    series = np.sin(np.arange(60 * 20) / 5.0) + 0.1 * rng.standard_normal(60 * 20)
    X = series.reshape(60, 20, 1)
    if variable_length:
        X = [x[: rng.integers(5, 21)] for x in X]
    params = dict(**BEFORE_16, hidden_size=12, latent_dim=6, epochs=3, batch_size=16, validation_fraction=0.0, patience=None,
                  forecast=forecast, random_state=0, device="cpu")
    calls = []
    fused = loop.fused_autoencoder_loss
    monkeypatch.setattr(loop, "fused_autoencoder_loss", lambda *a, **k: calls.append(1) or fused(*a, **k))
    with_fused = LSTMAutoencoder(**params).fit(X)
    assert len(calls) == 3 * 4                                  # every training batch of every epoch
    monkeypatch.setattr(loop, "fused_loss_applies", lambda *a: False)
    module_path = LSTMAutoencoder(**params).fit(X)
    np.testing.assert_allclose(with_fused.history_["train_loss"], module_path.history_["train_loss"], rtol=1e-4)
    np.testing.assert_allclose(with_fused.reconstruction_error(X), module_path.reconstruction_error(X), rtol=1e-3)


@pytest.mark.parametrize("estimator", ["AnomalyDetector", "LSTMAutoencoder"])
def test_the_defaults_train_on_the_fused_loss(monkeypatch, estimator):
    # A default that leaves the fused path silently costs every user its speed (the detector's next-step head
    # did, 2026-12-04 to 12-07): every training batch of a default fit must go through the fused loss.
    from seqae import AnomalyDetector
    rng = np.random.default_rng(0)
    series = np.sin(np.arange(400) / 5.0) + 0.1 * rng.standard_normal(400)
    asked = []                                   # (training mode?, fused?) of every batch loss
    applies = loop.fused_loss_applies
    monkeypatch.setattr(loop, "fused_loss_applies",
                        lambda module, *a: asked.append((module.training, applies(module, *a))) or asked[-1][1])
    if estimator == "AnomalyDetector":
        AnomalyDetector(epochs=2, patience=None, random_state=0, device="cpu").fit(series)
    else:
        LSTMAutoencoder(epochs=2, min_steps=None, patience=None, random_state=0, device="cpu").fit(
            series.reshape(20, 20, 1))
    training = [fused for mode, fused in asked if mode]
    assert training and all(training), f"{training.count(False)} of {len(training)} batches off the fused loss"
