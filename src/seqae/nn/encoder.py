"""Encoder: stacked (optionally bidirectional) LSTM over a padded batch, pooled to one vector per sequence.

Shapes: x (N, T, F), lengths (N,) -> pooled (N, P) with P = D*H, attention weights (N, T) or None.
"""
from __future__ import annotations

import torch
from torch import nn

from seqae.nn.fused_lstm import run_lstm
from seqae.nn.linear import Linear
from seqae.nn.masking import reverse_padded, step_mask, unpadded

POOLINGS = ("last", "mean", "attention")


def masked_pool(h: torch.Tensor, lengths: torch.Tensor, how: str, bidirectional: bool = False) -> torch.Tensor:
    """Pool per-step outputs over each sequence's real steps only.

    Shapes: h (N, T, P), lengths (N,) -> (N, P).

    "last": the output at the last real step; with ``bidirectional`` the second half of P (the backward
    direction) is taken at step 0, where it has read the whole sequence. "mean" and "max": over real steps.
    Padded steps are removed with ``torch.where`` so their values, even NaN, never leak.
    """
    if unpadded(lengths, h.shape[1]) and how in ("mean", "max", "last"):
        # Windows: no padding to remove, no per-row index to gather.
        if how == "mean":
            return h.mean(dim=1)
        if how == "max":
            return h.amax(dim=1)
        if not bidirectional:
            return h[:, -1]
        half = h.shape[-1] // 2
        return torch.cat([h[:, -1, :half], h[:, 0, half:]], dim=-1)      # (N, P)
    mask = step_mask(lengths, h.shape[1], h.device)[:, :, None]        # (N, T, 1)
    lens = lengths.to(h.device)
    if how == "mean":
        return torch.where(mask, h, 0.0).sum(dim=1) / lens[:, None].to(h.dtype)
    if how == "max":
        return torch.where(mask, h, float("-inf")).amax(dim=1)
    if how != "last":
        raise ValueError(f"how must be 'last', 'mean' or 'max', got {how!r}")
    rows = torch.arange(h.shape[0], device=h.device)
    last = h[rows, (lens - 1).clamp(min=0)]                              # (N, P)
    if not bidirectional:
        return last
    half = h.shape[-1] // 2
    return torch.cat([last[:, :half], h[:, 0, half:]], dim=-1)          # (N, P)


class AttentionPooling(nn.Module):
    """Additive attention over time: ``w = softmax_t(v^T tanh(W h_t))`` over real steps only.

    The softmax runs over the time axis (dim 1), never the batch, and padded steps are set to ``-inf``
    before it, so they get weight exactly 0 and receive no gradient.

    Shapes: h (N, T, P), mask (N, T) -> pooled (N, P), weights (N, T).
    """

    def __init__(self, in_size: int, attention_size: int):
        super().__init__()
        self.project = Linear(in_size, attention_size)
        self.score = Linear(attention_size, 1, bias=False)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.score(torch.tanh(self.project(h))).squeeze(-1)  # (N, T)
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1)                       # (N, T), rows sum to 1 over real steps
        pooled = torch.bmm(weights.unsqueeze(1), h).squeeze(1)      # (N, P)
        return pooled, weights


class LSTMEncoder(nn.Module):
    """Stacked LSTM encoder with masked pooling.

    The backward direction of a bidirectional layer is a separate LSTM run over each sequence reversed within
    its own length (``reverse_padded``), so that it starts at the real last step; torch's built-in
    bidirectional LSTM would start at the padding and break masking.

    Parameters
    ----------
    n_features, hidden_size, num_layers : int
    bidirectional : bool
    dropout : float
        Between stacked layers (as in ``nn.LSTM``).
    pooling : {"last", "mean", "attention"}
        "last": the output at each sequence's own last real step (for the backward direction, at step 0,
        where it has read the whole sequence); "mean": average over real steps; "attention": learned weights.
    attention_size : int
        Hidden size of the attention scorer.
    """

    def __init__(self, n_features: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0, pooling: str = "last", attention_size: int = 32):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.pooling = pooling
        self.bidirectional = bidirectional
        directions = 2 if bidirectional else 1
        self.output_size = directions * hidden_size
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        for layer in range(num_layers):
            in_size = n_features if layer == 0 else self.output_size
            self.forward_layers.append(nn.LSTM(in_size, hidden_size, batch_first=True))
            if bidirectional:
                self.backward_layers.append(nn.LSTM(in_size, hidden_size, batch_first=True))
        self.dropout = nn.Dropout(dropout)
        self.attention = AttentionPooling(self.output_size, attention_size) if pooling == "attention" else None

    def layer_outputs(self, x: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """Per-step outputs of every layer, bottom first: a list of (N, T, P); values at padded steps are
        meaningless."""
        outputs = []
        h = x
        for i, fwd in enumerate(self.forward_layers):
            if i > 0:
                h = self.dropout(h)
            out, _ = run_lstm(fwd, h)                                  # (N, T, H)
            if self.bidirectional:
                rev, _ = run_lstm(self.backward_layers[i], reverse_padded(h, lengths))
                out = torch.cat([out, reverse_padded(rev, lengths)], dim=-1)  # (N, T, 2H)
            outputs.append(out)
            h = out
        return outputs

    def sequence_outputs(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-step outputs of the top layer, (N, T, F) -> (N, T, P); values at padded steps are meaningless."""
        return self.layer_outputs(x, lengths)[-1]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.pool(self.sequence_outputs(x, lengths), lengths)

    def pool(self, h: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-step outputs (N, T, P) -> pooled (N, P), and attention weights (N, T) or None."""
        if self.pooling == "attention":
            return self.attention(h, step_mask(lengths, h.shape[1], h.device))
        return masked_pool(h, lengths, self.pooling, self.bidirectional), None  # (N, P)
