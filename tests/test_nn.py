"""The torch modules and losses: masking invariance, zero gradient and zero attention on padding, shapes."""
import pytest
import torch

from conftest import VARIANTS, variant_id
from seqae.nn import (AttentionPooling, AutoencoderConfig, SequenceAutoencoder, autoencoder_loss, gaussian_kl,
                      masked_mse, per_step_squared_error)
from seqae.nn.masking import reverse_padded, step_mask


def _model(v, n_features=3, seed=0):
    torch.manual_seed(seed)
    return SequenceAutoencoder(AutoencoderConfig(n_features=n_features, hidden_size=8, latent_dim=4, **v))


@pytest.mark.parametrize("v", VARIANTS, ids=variant_id)
def test_masking_invariance_alone_padded_batched(v):
    model = _model(v).eval()
    g = torch.Generator().manual_seed(1)
    seq = torch.randn(1, 7, 3, generator=g)
    alone = model(seq, torch.tensor([7]))
    # Padded with large garbage to length 40, and batched with much longer sequences.
    padded = torch.cat([seq, 1e3 * torch.randn(1, 33, 3, generator=g)], dim=1)
    others = torch.randn(2, 40, 3, generator=g)
    batch = torch.cat([others[:1], padded, others[1:]], dim=0)
    out = model(batch, torch.tensor([40, 7, 35]))
    torch.testing.assert_close(out.embedding[1], alone.embedding[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(out.reconstruction[1, :7], alone.reconstruction[0], atol=1e-5, rtol=0)
    err_alone = per_step_squared_error(alone.reconstruction, seq, torch.tensor([7]))
    err_batch = per_step_squared_error(out.reconstruction, batch, torch.tensor([40, 7, 35]))
    torch.testing.assert_close(err_batch[1, :7], err_alone[0], atol=1e-5, rtol=0)
    assert (err_batch[1, 7:] == 0).all()


@pytest.mark.parametrize("v", VARIANTS, ids=variant_id)
def test_padded_steps_get_zero_gradient(v):
    model = _model(v).train()
    x = torch.randn(3, 12, 3, requires_grad=True)
    lengths = torch.tensor([12, 5, 9])
    torch.manual_seed(0)
    out = model(x, lengths)
    loss, _, _ = autoencoder_loss(out.reconstruction, x, lengths, out.embedding, out.logvar)
    loss.backward()
    mask = step_mask(lengths, 12)
    assert (x.grad[~mask] == 0).all(), "padding received gradient"
    assert x.grad[mask].abs().sum() > 0, "real steps received no gradient"


def test_attention_weights_zero_on_padding_and_sum_to_one():
    model = _model(dict(pooling="attention")).eval()
    x = torch.randn(3, 10, 3)
    lengths = torch.tensor([10, 4, 1])
    out = model(x, lengths)
    w = out.attention
    assert w.shape == (3, 10)
    mask = step_mask(lengths, 10)
    assert (w[~mask] == 0).all()
    torch.testing.assert_close(w.sum(dim=1), torch.ones(3))


def test_attention_is_over_time_not_batch():
    pool = AttentionPooling(4, 8)
    h = torch.randn(5, 6, 4)
    mask = torch.ones(5, 6, dtype=torch.bool)
    pooled, w = pool(h, mask)
    # Each sequence's pooled vector depends on its own steps only: changing another row changes nothing.
    h2 = h.clone()
    h2[0] += 10
    pooled2, _ = pool(h2, mask)
    torch.testing.assert_close(pooled[1:], pooled2[1:])
    torch.testing.assert_close(w.sum(dim=1), torch.ones(5))


def test_reverse_padded_is_an_involution_and_keeps_padding():
    x = torch.arange(12.0).view(2, 6, 1)
    lengths = torch.tensor([6, 3])
    r = reverse_padded(x, lengths)
    assert r[1, :, 0].tolist() == [8.0, 7.0, 6.0, 9.0, 10.0, 11.0]
    torch.testing.assert_close(reverse_padded(r, lengths), x)


def test_vae_noise_follows_batch_size():
    model = _model(dict(variational=True)).train()
    for n in (1, 7, 33):
        out = model(torch.randn(n, 5, 3), torch.full((n,), 5))
        assert out.z.shape == (n, 4) and not torch.equal(out.z, out.embedding)


def test_vae_eval_is_deterministic_posterior_mean():
    model = _model(dict(variational=True)).eval()
    x = torch.randn(4, 6, 3)
    a, b = model(x, torch.full((4,), 6)), model(x, torch.full((4,), 6))
    torch.testing.assert_close(a.reconstruction, b.reconstruction)
    torch.testing.assert_close(a.z, a.embedding)


def test_masked_mse_ignores_padding_even_nan():
    target = torch.zeros(2, 4, 2)
    recon = torch.ones(2, 4, 2)
    recon[1, 2:] = float("nan")  # padded steps of sequence 1
    lengths = torch.tensor([4, 2])
    assert masked_mse(recon, target, lengths).item() == pytest.approx(1.0)


def test_masked_mse_weights_real_elements_equally():
    target = torch.zeros(2, 3, 1)
    recon = torch.tensor([[[1.0], [1.0], [1.0]], [[4.0], [0.0], [0.0]]])
    # Real elements: 3 ones (seq 0) and one 16 (seq 1): mean 19 / 4.
    assert masked_mse(recon, target, torch.tensor([3, 1])).item() == pytest.approx(19 / 4)


def test_gaussian_kl_analytic():
    mean = torch.tensor([[0.0, 1.0]])
    logvar = torch.tensor([[0.0, torch.log(torch.tensor(4.0))]])
    # KL(N(0,1)||N(0,1)) = 0; KL(N(1,4)||N(0,1)) = 0.5 * (4 + 1 - 1 - ln 4)
    expected = 0.5 * (4 + 1 - 1 - torch.log(torch.tensor(4.0)))
    torch.testing.assert_close(gaussian_kl(mean, logvar), expected.view(1))
    assert gaussian_kl(torch.zeros(3, 5), torch.zeros(3, 5)).abs().max() == 0


def test_loss_kl_term_scaled_by_beta():
    recon, target = torch.zeros(2, 3, 1), torch.ones(2, 3, 1)
    lengths = torch.tensor([3, 3])
    mean, logvar = torch.ones(2, 4), torch.zeros(2, 4)
    total0, r0, kl0 = autoencoder_loss(recon, target, lengths, mean, logvar, beta=0.0)
    total2, r2, kl2 = autoencoder_loss(recon, target, lengths, mean, logvar, beta=2.0)
    assert total0.item() == pytest.approx(1.0)
    assert kl0.item() == pytest.approx(2 * 2.0 / 6)  # per sequence 0.5*4 = 2, summed / 6 real elements
    assert total2.item() == pytest.approx(1.0 + 2 * kl2.item())


def test_forward_rejects_wrong_feature_count():
    model = _model({})
    with pytest.raises(ValueError, match=r"expected input \(N, T, 3\), got \(2, 5, 4\)"):
        model(torch.randn(2, 5, 4), torch.tensor([5, 5]))
