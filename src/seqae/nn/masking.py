"""Helpers for padded batches: masks and per-sequence time reversal."""
from __future__ import annotations

import torch

from seqae.nn.tracing import is_traceable


def step_mask(lengths: torch.Tensor, max_len: int, device: torch.device | None = None) -> torch.Tensor:
    """Boolean mask of real steps.

    Shapes: lengths (N,) -> mask (N, T) with ``mask[i, t] = t < lengths[i]``.
    """
    t = torch.arange(max_len, device=device)
    return t[None, :] < lengths.to(device)[:, None]  # (N, T)


def unpadded(lengths: torch.Tensor, max_len: int) -> bool:
    """True when every sequence has all ``max_len`` steps (windows), so masks and gathers can be skipped.

    Only answered for lengths on the CPU (where batches keep them); elsewhere False, to avoid a device sync.
    Always False inside :func:`seqae.nn.tracing.traceable`: an exported graph must mask whatever its input.
    """
    return lengths.device.type == "cpu" and not is_traceable() and int(lengths.min()) == max_len


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence within its own length; padding stays at the end.

    This is how the backward direction of a bidirectional LSTM must see a padded batch: starting from each
    sequence's real last step, not from the padding. The operation is its own inverse.

    Shapes: x (N, T, C), lengths (N,) -> (N, T, C).
    """
    n, t_max = x.shape[:2]
    if unpadded(lengths, t_max):
        return x.flip(1)                  # no padding (windows): a plain flip, one op instead of five
    t = torch.arange(t_max, device=x.device)
    lens = lengths.to(x.device)[:, None]                      # (N, 1)
    idx = torch.where(t[None, :] < lens, lens - 1 - t[None, :], t[None, :])  # (N, T)
    return x.gather(1, idx[:, :, None].expand_as(x))
