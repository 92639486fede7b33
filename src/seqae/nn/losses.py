"""Losses as free functions over padded tensors.

Padded steps contribute exactly nothing: they are removed with ``torch.where`` (not multiplied by 0), so
neither their value nor their gradient reaches the loss, even if the model output there is inf or NaN.

Shapes: reconstruction, target (N, T, F); lengths (N,); mean, logvar (N, Z).
"""
from __future__ import annotations

import torch

from seqae.nn.masking import step_mask, unpadded


def per_step_squared_error(reconstruction: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor,
                           reduce_features: bool = True) -> torch.Tensor:
    """Squared error per real step, 0 at padded steps.

    Returns (N, T) averaged over features, or (N, T, F) with ``reduce_features=False``.
    """
    if reconstruction.shape != target.shape:
        raise ValueError(f"reconstruction and target must have the same shape, got {tuple(reconstruction.shape)} "
                         f"and {tuple(target.shape)}")
    sq = (reconstruction - target) ** 2                                         # (N, T, F)
    if not unpadded(lengths, target.shape[1]):
        mask = step_mask(lengths, target.shape[1], target.device)[:, :, None]   # (N, T, 1)
        sq = torch.where(mask, sq, 0.0)
    return sq.mean(dim=-1) if reduce_features else sq


def masked_mse(reconstruction: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean squared error over real steps and all features (a scalar)."""
    sq = per_step_squared_error(reconstruction, target, lengths, reduce_features=False)
    n_real = lengths.to(sq.device).sum() * target.shape[-1]
    return sq.sum() / n_real


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) per sequence, analytic: (N, Z) -> (N,)."""
    return -0.5 * torch.sum(1.0 + logvar - mean.pow(2) - logvar.exp(), dim=-1)


def autoencoder_loss(reconstruction: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor,
                     mean: torch.Tensor | None = None, logvar: torch.Tensor | None = None,
                     beta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reconstruction MSE plus, for a Gaussian latent, ``beta`` times the KL per real element.

    The KL is summed over the batch and divided by the number of real elements (steps x features), the same
    normalisation as the MSE: the sum is then the negative ELBO per element (unit-variance Gaussian
    likelihood, up to constants), so ``beta = 1`` means a proper VAE whatever the sequence lengths.

    Returns
    -------
    total, reconstruction, kl : scalar tensors (kl is 0 without a Gaussian latent)
    """
    recon = masked_mse(reconstruction, target, lengths)
    if logvar is None:
        return recon, recon, torch.zeros((), device=recon.device)
    n_real = lengths.to(mean.device).sum() * target.shape[-1]
    kl = gaussian_kl(mean, logvar).sum() / n_real
    return recon + beta * kl, recon, kl


def forecast_squared_error(forecast: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor,
                           reduce_features: bool = True) -> torch.Tensor:
    """Squared error of next-step predictions, aligned with the step predicted: (N, T) or (N, T, F).

    Step t's error compares ``forecast[:, t - 1]`` with ``target[:, t]``; step 0, which nothing predicts, and
    padded steps are 0.
    """
    sq = per_step_squared_error(forecast[:, :-1], target[:, 1:], (lengths - 1).clamp(min=0),
                                reduce_features=reduce_features)                      # (N, T - 1[, F])
    return torch.cat([torch.zeros_like(sq[:, :1]), sq], dim=1)                        # (N, T[, F])


def forecast_loss(forecast: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean squared next-step error over the real steps that have a predecessor (a scalar; 0 if none)."""
    predicted = (lengths - 1).clamp(min=0)
    n_real = predicted.to(target.device).sum() * target.shape[-1]
    if int(n_real) == 0:
        return torch.zeros((), device=target.device)
    sq = per_step_squared_error(forecast[:, :-1], target[:, 1:], predicted, reduce_features=False)
    return sq.sum() / n_real


__all__ = ["autoencoder_loss", "forecast_loss", "forecast_squared_error", "gaussian_kl", "masked_mse", "per_step_squared_error", "step_mask"]
