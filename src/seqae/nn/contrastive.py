"""Hierarchical contrastive loss over per-step encoder outputs of two views of the same sequences.

After TS2Vec (Yue et al., AAAI 2022, "TS2Vec: Towards Universal Representation of Time Series", section 3.3):
the two views are crops of each sequence that share an overlap; the encoder's outputs on the overlap are
compared step by step. At each scale two cross-entropy terms:

- instance: at one time step, the output of sequence i in view 1 must be closer (dot product) to sequence i in
  view 2 than to every other sequence of the batch, in either view;
- temporal: within sequence i, the output at step t in view 1 must be closer to step t in view 2 than to every
  other step of the overlap, in either view.

Then both views are max-pooled over pairs of steps (kernel 2) and the terms repeat, until one step is left
(where only the instance term has anything to contrast). Written from the paper's equations: the similarity
matrix with its diagonal removed, and the positive pair's log-softmax.

Shapes: z1, z2 (N, T, C) -> a scalar. Both must hold real steps only (the caller crops inside each sequence's
real length), so padding never enters the loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _pair_cross_entropy(z: torch.Tensor) -> torch.Tensor:
    """z (G, 2M, C): rows 0..M-1 one view, M..2M-1 the other; positive of row m is m+M (and back).

    The mean over rows of ``-log softmax`` of the positive among all other rows of the group.
    """
    m = z.shape[1] // 2
    sim = torch.matmul(z, z.transpose(1, 2))                                  # (G, 2M, 2M)
    eye = torch.eye(2 * m, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(eye, float("-inf"))                                 # a row is never its own candidate
    target = torch.cat([torch.arange(m, 2 * m), torch.arange(0, m)]).to(z.device)   # (2M,)
    return F.cross_entropy(sim.reshape(-1, 2 * m), target.repeat(z.shape[0]))


def instance_contrastive(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    if z1.shape[0] < 2:
        return z1.new_zeros(())
    return _pair_cross_entropy(torch.cat([z1, z2], dim=0).transpose(0, 1))   # (T, 2N, C)


def temporal_contrastive(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    if z1.shape[1] < 2:
        return z1.new_zeros(())
    return _pair_cross_entropy(torch.cat([z1, z2], dim=1))                   # (N, 2T, C)


def hierarchical_contrastive_loss(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """Mean over scales of ``alpha * instance + (1 - alpha) * temporal``. Shapes: (N, T, C) twice -> scalar."""
    if z1.shape != z2.shape:
        raise ValueError(f"the two views must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    total, scales = z1.new_zeros(()), 0
    while True:
        total = total + alpha * instance_contrastive(z1, z2)
        if z1.shape[1] > 1:
            total = total + (1 - alpha) * temporal_contrastive(z1, z2)
        scales += 1
        if z1.shape[1] <= 1:
            break
        z1 = F.max_pool1d(z1.transpose(1, 2), kernel_size=2).transpose(1, 2)
        z2 = F.max_pool1d(z2.transpose(1, 2), kernel_size=2).transpose(1, 2)
    return total / scales
