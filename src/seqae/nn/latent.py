"""Latent bottlenecks: deterministic, or Gaussian with the reparameterisation trick.

Shapes: pooled (N, P) -> z, mean (N, Z); logvar (N, Z) or None.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqae.nn.linear import Linear

# Bounds on the log-variance head: exp(+-10) spans 4.5e-5..2.2e4, enough for any standardised data, and it
# keeps exp() from overflowing to inf early in training, the usual way an LSTM-VAE drifts to NaN.
_LOGVAR_MIN, _LOGVAR_MAX = -10.0, 10.0


@dataclass
class LatentSample:
    z: torch.Tensor             # (N, Z) what the decoder gets
    mean: torch.Tensor          # (N, Z) the deterministic code / posterior mean (the embedding)
    logvar: torch.Tensor | None  # (N, Z) log sigma^2 for the Gaussian latent, else None


class DeterministicLatent(nn.Module):
    """A linear bottleneck: ``z = W h + b``."""

    def __init__(self, in_size: int, latent_dim: int):
        super().__init__()
        self.linear = Linear(in_size, latent_dim)

    def forward(self, h: torch.Tensor, sample: bool = False) -> LatentSample:
        z = self.linear(h)
        return LatentSample(z=z, mean=z, logvar=None)


class GaussianLatent(nn.Module):
    """``q(z|x) = N(mean, diag(exp(logvar)))``; samples ``z = mean + exp(logvar / 2) * eps``.

    The head predicts the log-variance, so sigma is ``exp(logvar / 2)`` — not the log itself (a common Keras bug).
    ``eps`` takes its shape from the batch at hand, so any batch size works, the last smaller batch included.
    """

    def __init__(self, in_size: int, latent_dim: int):
        super().__init__()
        self.mean = Linear(in_size, latent_dim)
        self.logvar = Linear(in_size, latent_dim)

    def forward(self, h: torch.Tensor, sample: bool = True) -> LatentSample:
        mean = self.mean(h)
        logvar = self.logvar(h).clamp(_LOGVAR_MIN, _LOGVAR_MAX)
        if not sample:
            return LatentSample(z=mean, mean=mean, logvar=logvar)
        eps = torch.randn_like(mean)                      # (N, Z): shape of this batch, whatever N is
        return LatentSample(z=mean + torch.exp(0.5 * logvar) * eps, mean=mean, logvar=logvar)
