"""What one training batch optimises: reconstruction, optionally of randomly cropped and partly masked input,
plus an optional contrastive term between two views.

Why: plain reconstruction of the whole sequence from its last LSTM state teaches the encoder little that a
random LSTM does not already give (issue #16). Each term here is off by default at this level (0 or 1.0), so
a configuration that asks for none of them trains exactly as before (``LSTMAutoencoder``'s defaults turn crops
and masked steps on):

- random crops (``min_crop`` < 1): each sequence of the batch is replaced by a random contiguous piece of at
  least that share of its length, and of at least ``min_crop_steps`` steps (a shorter sequence is kept whole);
  the model must encode whatever piece it is given, not one fixed outline;
- masked steps (``mask_fraction`` > 0): that share of each sequence's real steps is set to 0 (the feature mean
  after standardisation) in the encoder's input, and the clean sequence is the target (denoising);
- contrastive (``contrastive_weight`` > 0): :func:`seqae.nn.contrastive.hierarchical_contrastive_loss` between
  the encoder's per-step outputs on two overlapping crops, both inside the batch's shortest sequence.

Padding stays out of every term: crops gather real steps only, a mask that falls on padding sets a 0 to 0, the
reconstruction loss sees real steps only, and the contrastive views hold real steps only. Crops and masked steps
keep the fused loss (the C++ loss takes the clean target beside the masked input); the contrastive term runs
the encoder again on its two views through the module.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seqae.preprocessing.batching import pad_sequences
from seqae.nn.autoencoder import SequenceAutoencoder
from seqae.nn.contrastive import hierarchical_contrastive_loss
from seqae.nn.fused_loss import fused_autoencoder_loss, fused_loss_applies
from seqae.nn.losses import autoencoder_loss, forecast_loss


@dataclass(frozen=True)
class ObjectiveConfig:
    min_crop: float = 1.0            # random crops keep at least this share of each sequence (1.0: no crops)
    # ... and at least this many steps: half of a 24-step sequence is too little of it to stand for the whole.
    # Over seeds 0-2 of benchmarks/uea.py, 32 raised ItalyPowerDemand (24 steps) from 0.927 to 0.953 and
    # JapaneseVowels (7-29) from 0.975 to 0.980, at every seed; longer sets crop as before; sequence-level
    # detection on ItalyPowerDemand fell from 0.845 to 0.822 (benchmarks/results/uea.md, uea_anomaly.md).
    min_crop_steps: int = 32
    mask_fraction: float = 0.0       # share of real input steps zeroed for the encoder (0: no masking)
    contrastive_weight: float = 0.0  # weight of the hierarchical contrastive term (0: none)

    @property
    def plain(self) -> bool:
        """Reconstruction of the whole, clean sequence: the loss the fused kernel computes."""
        return self.min_crop >= 1.0 and self.mask_fraction <= 0.0 and self.contrastive_weight <= 0.0


def random_crops(x: torch.Tensor, lengths: torch.Tensor, min_crop: float, rng: np.random.Generator,
                 min_steps: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A random contiguous piece of each sequence, of at least ``ceil(min_crop * T_i)`` steps and at least
    ``min(min_steps, T_i)`` (and 1), as a new zero-padded batch. Shapes: x (N, T, F), lengths (N,) -> (N, T', F),
    (N,).

    Only real steps are gathered (start + t < start + crop length <= T_i), so padding cannot reach the crops.
    """
    lens = lengths.cpu().numpy()
    floor = np.maximum(np.ceil(min_crop * lens), np.minimum(lens, min_steps))
    crop = rng.integers(np.maximum(1, floor).astype(np.int64), lens + 1)                      # (N,)
    start = rng.integers(0, lens - crop + 1)                                                    # (N,)
    t = torch.arange(int(crop.max()))
    index = (torch.from_numpy(start)[:, None] + t[None, :]).clamp(max=x.shape[1] - 1).to(x.device)   # (N, T')
    gathered = x.gather(1, index[:, :, None].expand(-1, -1, x.shape[2]))                       # (N, T', F)
    keep = (t[None, :] < torch.from_numpy(crop)[:, None]).to(x.device)[:, :, None]
    return torch.where(keep, gathered, torch.zeros((), dtype=x.dtype, device=x.device)), torch.from_numpy(crop)


def mask_steps(x: torch.Tensor, fraction: float, rng: np.random.Generator) -> torch.Tensor:
    """x (N, T, F) with a random ``fraction`` of its steps set to 0 (the real steps matter: padding is left out
    of every loss)."""
    drop = torch.from_numpy(rng.random(x.shape[:2]) < fraction).to(x.device)           # (N, T)
    return torch.where(drop[:, :, None], torch.zeros((), dtype=x.dtype, device=x.device), x)


def contrastive_views(x: torch.Tensor, shortest: int, rng: np.random.Generator):
    """Two overlapping crops of the first ``shortest`` steps (real in every row), as in TS2Vec: an overlap
    [a, b) of at least 2 steps, view 1 = [a1, b) with a1 <= a, view 2 = [a, b2) with b2 >= b.

    Returns view1 (N, b - a1, F), view2 (N, b2 - a, F), and the overlap's offset in view 1 and its length.
    """
    overlap = int(rng.integers(2, shortest + 1))
    a = int(rng.integers(0, shortest - overlap + 1))
    b = a + overlap
    a1 = int(rng.integers(0, a + 1))
    b2 = int(rng.integers(b, shortest + 1))
    return x[:, a1:b], x[:, a:b2], a - a1, overlap


def batch_loss(module: SequenceAutoencoder, seqs: list[np.ndarray], index: np.ndarray, device: torch.device,
               beta: float, objective: ObjectiveConfig | None = None,
               rng: np.random.Generator | None = None, rows: np.ndarray | None = None) -> tuple[torch.Tensor, int]:
    """The loss of the batch ``index`` of ``seqs`` and its number of real elements (steps x features).

    Without ``objective`` (or a plain one, or in eval mode) this is the reconstruction loss of the whole
    sequences, on the fused kernel where it applies; ``rng`` draws crops, masks and views.
    ``rows``: the positions in ``index`` this process computes the loss of (data-parallel training,
    ``training/distributed.py``); crops and masks are still drawn for the whole batch, so that every process
    draws the same numbers and each row gets the crop and mask it gets in one process.
    """
    if objective is None or objective.plain or not module.training:
        batch = pad_sequences(seqs, index if rows is None else index[rows]).to(device)
        return _reconstruction(module, batch.x, batch.x, batch.lengths, beta), _count(batch.x, batch.lengths)
    batch = pad_sequences(seqs, index).to(device)
    return objective_loss(module, batch.x, batch.lengths, beta, objective, rng, rows)


def _take(x: torch.Tensor, lengths: torch.Tensor, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows of a padded batch, padded only to their own longest."""
    lengths = lengths[torch.from_numpy(rows)]
    return x[torch.from_numpy(rows).to(x.device), :int(lengths.max())], lengths


def objective_loss(module: SequenceAutoencoder, x: torch.Tensor, lengths: torch.Tensor, beta: float,
                   objective: ObjectiveConfig, rng: np.random.Generator,
                   rows: np.ndarray | None = None) -> tuple[torch.Tensor, int]:
    """The training loss of one zero-padded batch under ``objective``, and its number of real elements
    (of ``rows`` of the batch only, when given: see :func:`batch_loss`).

    Shapes: x (N, T, F), lengths (N,) on the CPU. Padded steps of x get exactly zero gradient (tested).
    """
    if objective.min_crop < 1.0:
        x, lengths = random_crops(x, lengths, objective.min_crop, rng, objective.min_crop_steps)
    x_in = x
    if objective.mask_fraction > 0.0:
        x_in = mask_steps(x, objective.mask_fraction, rng)
    # The whole batch's shortest sequence: the contrastive views are drawn from it, in one process or several.
    shortest = int(lengths.min())
    if rows is not None:
        (x, lengths), x_in = _take(x, lengths, rows), _take(x_in, lengths, rows)[0]
    loss = _reconstruction(module, x_in, x, lengths, beta)
    if objective.contrastive_weight > 0.0 and shortest >= 2:
        v1, v2, offset, overlap = contrastive_views(x, shortest, rng)
        full1 = torch.full((len(v1),), v1.shape[1], dtype=torch.int64)
        full2 = torch.full((len(v2),), v2.shape[1], dtype=torch.int64)
        z1 = module.encoder.sequence_outputs(v1, full1)[:, offset:offset + overlap]   # (N, overlap, P)
        z2 = module.encoder.sequence_outputs(v2, full2)[:, :overlap]
        loss = loss + objective.contrastive_weight * hierarchical_contrastive_loss(z1, z2)
    return loss, _count(x, lengths)


def _count(x: torch.Tensor, lengths: torch.Tensor) -> int:
    return int(lengths.sum()) * x.shape[-1]


def _reconstruction(module: SequenceAutoencoder, x_in: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor,
                    beta: float) -> torch.Tensor:
    """Reconstruction loss of ``target`` from ``x_in`` (plus the VAE's KL), as one fused node where it applies."""
    if fused_loss_applies(module, x_in, lengths) and not target.requires_grad:
        return fused_autoencoder_loss(module, x_in, lengths, beta, target=target)
    out = module(x_in, lengths)
    total, _, _ = autoencoder_loss(out.reconstruction, target, lengths, out.embedding, out.logvar, beta)
    if out.forecast is not None:  # next-step prediction beside reconstruction, weighted equally
        total = total + forecast_loss(out.forecast, target, lengths)
    return total
