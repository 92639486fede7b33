"""FlatAdam: torch's Adam and clip_grad_norm_ over one flat tensor; its state in torch.optim.Adam's layout."""
import subprocess
import sys

import pytest
import torch

from seqae.nn.autoencoder import AutoencoderConfig, SequenceAutoencoder
from seqae.nn.losses import autoencoder_loss
from seqae.training.adam import FlatAdam, TorchAdam
from seqae.training.flat import FlatParameters


def _module(variational=False):
    torch.manual_seed(0)
    return SequenceAutoencoder(AutoencoderConfig(n_features=2, hidden_size=8, latent_dim=3,
                                                 variational=variational)).train()


def _train(module, optimizer, steps, seed=1):
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        x, lengths = torch.randn(4, 6, 2, generator=gen) * 3, torch.tensor([6, 5, 3, 6])
        torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=gen)))      # the VAE's sample
        out = module(x, lengths)
        loss = autoencoder_loss(out.reconstruction, x, lengths, out.embedding, out.logvar)[0]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses


@pytest.mark.parametrize("variational", [False, True])
@pytest.mark.parametrize("clip_norm", [None, 0.05, 100.0])     # never, always, and rarely clipped
def test_flat_adam_follows_torchs_adam_and_clipping(variational, clip_norm):
    reference, flat_module = _module(variational), _module(variational)
    flat = FlatParameters(flat_module.parameters())
    want = _train(reference, TorchAdam(list(reference.parameters()), lr=1e-2, clip_norm=clip_norm, fused=False), 8)
    got = _train(flat_module, FlatAdam(flat.param, lr=1e-2, clip_norm=clip_norm), 8)
    assert got == pytest.approx(want, rel=1e-5)
    for (k, a), b in zip(reference.state_dict().items(), flat_module.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=k)


def test_clipping_scales_the_gradient_to_the_norm_in_place():
    p = torch.nn.Parameter(torch.zeros(4))
    p.grad = torch.tensor([3.0, 4.0, 0.0, 0.0])
    FlatAdam(p, lr=1e-3, clip_norm=1.0).step()
    assert float(torch.linalg.vector_norm(p.grad)) == pytest.approx(1.0, rel=1e-5)
    p.grad = torch.tensor([0.3, 0.4, 0.0, 0.0])                       # under the norm: untouched
    FlatAdam(p, lr=1e-3, clip_norm=1.0).step()
    assert p.grad.tolist() == pytest.approx([0.3, 0.4, 0.0, 0.0])


def test_state_dict_resumes_to_the_same_weights_as_an_uninterrupted_run():
    straight, resumed = _module(), _module()
    flat_a, flat_b = FlatParameters(straight.parameters()), FlatParameters(resumed.parameters())
    _train(straight, FlatAdam(flat_a.param, lr=1e-2, clip_norm=1.0), 6)
    first = FlatAdam(flat_b.param, lr=1e-2, clip_norm=1.0)
    _train(resumed, first, 3)
    state = first.state_dict()
    assert state["state"][0]["step"].item() == 3.0 and state["param_groups"][0]["params"] == [0]
    second = FlatAdam(flat_b.param, lr=1e-2, clip_norm=1.0)
    second.load_state_dict(state)
    # The same batches as the straight run's last three: continue its generator from step 3.
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):
        torch.randn(4, 6, 2, generator=gen), torch.randint(0, 2**31, (1,), generator=gen)
    for _ in range(3):
        x, lengths = torch.randn(4, 6, 2, generator=gen) * 3, torch.tensor([6, 5, 3, 6])
        torch.randint(0, 2**31, (1,), generator=gen)
        out = resumed(x, lengths)
        second.zero_grad()
        autoencoder_loss(out.reconstruction, x, lengths, out.embedding, out.logvar)[0].backward()
        second.step()
    assert torch.equal(flat_a.param, flat_b.param)


def test_load_state_dict_refuses_another_models_state():
    flat = FlatParameters(_module().parameters())
    opt = FlatAdam(flat.param, lr=1e-2)
    other = FlatAdam(torch.nn.Parameter(torch.zeros(5)), lr=1e-2)
    other.param.grad = torch.ones(5)
    other.step()
    with pytest.raises(ValueError, match="does not match"):
        opt.load_state_dict(other.state_dict())
    # torch.optim.Adam's state over the separate tensors (an older checkpoint): not one flat tensor.
    m = _module()
    torch_state = torch.optim.Adam(m.parameters()).state_dict()
    with pytest.raises(ValueError, match="one flat tensor"):
        opt.load_state_dict(torch_state)
    with pytest.raises(ValueError, match=r"expected one flat \(P,\) tensor"):
        FlatAdam(torch.nn.Parameter(torch.zeros(2, 2)), lr=1e-2)


def test_a_cpu_fit_does_not_import_torch_dynamo():
    # torch.optim's first optimiser imports torch._dynamo (about a second); CPU training does not build one.
    code = ("import sys, numpy as np\n"
            "from seqae import LSTMAutoencoder\n"
            "X = np.random.default_rng(0).normal(size=(16, 8, 1)).astype(np.float32)\n"
            "LSTMAutoencoder(hidden_size=4, latent_dim=2, epochs=2, device='cpu', random_state=0).fit(X)\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
