"""FlatParameters: one buffer of all weights for the optimiser, the same training as separate tensors."""
import copy

import numpy as np
import pytest
import torch

from seqae import LSTMAutoencoder, load
from seqae.nn.autoencoder import AutoencoderConfig, SequenceAutoencoder
from seqae.nn.losses import autoencoder_loss
from seqae.training.adam import FlatAdam
from seqae.training.flat import FlatParameters
from conftest import BEFORE_16  # the training and read-out of before issue #16


def _module(variational=False):
    torch.manual_seed(0)
    return SequenceAutoencoder(AutoencoderConfig(n_features=2, hidden_size=8, latent_dim=3,
                                                 variational=variational)).train()


def _storages(module):
    return {p.untyped_storage().data_ptr() for p in module.parameters()}


def test_flattening_keeps_values_and_binds_views_of_one_buffer():
    m = _module()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    flat = FlatParameters(m.parameters())
    assert flat.param.numel() == sum(p.numel() for p in m.parameters())
    assert _storages(m) == {flat.param.untyped_storage().data_ptr()}
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k]), k
    # Writing the flat buffer writes the module's weights.
    with torch.no_grad():
        flat.param.zero_()
    assert all(float(p.detach().abs().sum()) == 0.0 for p in m.parameters())


def test_backward_adds_into_the_flat_gradient_and_zero_grad_keeps_the_views():
    m = _module()
    flat = FlatParameters(m.parameters())
    x, lengths = torch.randn(4, 6, 2), torch.tensor([6, 5, 3, 6])
    out = m(x, lengths)
    autoencoder_loss(out.reconstruction, x, lengths, out.embedding, out.logvar)[0].backward()
    grads = torch.cat([p.grad.reshape(-1) for p in m.parameters()])
    assert torch.equal(grads, flat.param.grad) and float(grads.abs().sum()) > 0
    FlatAdam(flat.param, lr=1e-3).zero_grad()                  # as the training loop zeroes it
    assert float(flat.param.grad.abs().sum()) == 0.0
    assert all(p.grad.untyped_storage().data_ptr() == flat.param.grad.untyped_storage().data_ptr()
               for p in m.parameters())


@pytest.mark.parametrize("variational", [False, True])
def test_adam_and_clipping_over_the_flat_buffer_follow_the_separate_tensors(variational):
    separate, flat_module = _module(variational), _module(variational)
    flat = FlatParameters(flat_module.parameters())
    opts = (torch.optim.Adam(separate.parameters(), lr=1e-2, fused=True),
            torch.optim.Adam([flat.param], lr=1e-2, fused=True))
    gen = torch.Generator().manual_seed(1)
    for _ in range(5):
        x, lengths = torch.randn(4, 6, 2, generator=gen), torch.tensor([6, 5, 3, 6])
        seed = int(torch.randint(0, 2**31, (1,), generator=gen))
        for m, opt, flat_grads in ((separate, opts[0], False), (flat_module, opts[1], True)):
            torch.manual_seed(seed)                             # the VAE's sample
            out = m(x, lengths)
            loss = autoencoder_loss(out.reconstruction, x, lengths, out.embedding, out.logvar)[0]
            opt.zero_grad(set_to_none=not flat_grads)
            loss.backward()
            params = [flat.param] if flat_grads else list(m.parameters())
            torch.nn.utils.clip_grad_norm_(params, 0.5, foreach=True)   # small enough to clip
            opt.step()
    for (k, a), b in zip(separate.state_dict().items(), flat_module.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=k)


def test_release_gives_each_parameter_its_own_storage_and_no_gradient():
    m = _module()
    flat = FlatParameters(m.parameters())
    with torch.no_grad():
        flat.param.add_(1.0)
    values = {k: v.clone() for k, v in m.state_dict().items()}
    flat.release()
    assert len(_storages(m)) == len(list(m.parameters()))
    assert all(p.grad is None for p in m.parameters())
    for k, v in m.state_dict().items():
        assert torch.equal(v, values[k]), k
    with torch.no_grad():
        flat.param.zero_()                                       # the old buffer no longer backs the module
    assert torch.equal(m.state_dict()["decoder.head.bias"], values["decoder.head.bias"])


def test_mixed_dtypes_and_no_parameters_are_refused():
    with pytest.raises(ValueError, match="one dtype and device"):
        FlatParameters([torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))])
    with pytest.raises(ValueError, match="no parameters"):
        FlatParameters([])


def test_a_fitted_estimator_has_independent_weights_and_no_gradients(tmp_path):
    X = np.random.default_rng(0).normal(size=(24, 10, 2)).astype(np.float32)
    ae = LSTMAutoencoder(**BEFORE_16, hidden_size=8, latent_dim=3, epochs=2, batch_size=8, random_state=0).fit(X)
    assert len(_storages(ae.module_)) == len(list(ae.module_.parameters()))
    assert all(p.grad is None for p in ae.module_.parameters())
    # Saved and loaded (safetensors refuses tensors that share memory), and a clone refits to the same model.
    ae.save(tmp_path / "m.seqae")
    again = load(tmp_path / "m.seqae")
    np.testing.assert_array_equal(again.transform(X), ae.transform(X))
    np.testing.assert_array_equal(copy.deepcopy(ae).transform(X), ae.transform(X))
