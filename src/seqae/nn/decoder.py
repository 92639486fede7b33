"""Decoders from a latent vector back to a sequence.

Shapes: z (N, Z), lengths (N,), T -> reconstruction (N, T, F).
"""
from __future__ import annotations

import torch
from torch import nn

from seqae.nn.fused_lstm import run_lstm
from seqae.nn.linear import Linear

# name -> decoder class: the one list of decoders (the estimators' check and the CLI's --decoder choices read
# it). A decoder is built as cls(latent_dim, hidden_size, n_features, num_layers, dropout) and its
# forward(z, max_len, target=None) maps the latent (N, Z) to the reconstruction (N, max_len, F), as RepeatDecoder.
DECODERS: dict[str, type[nn.Module]] = {}


def register_decoder(name: str):
    """Class decorator: make a decoder available as ``decoder=name`` (estimators, ``--decoder`` in the CLI).

    Examples
    --------
    >>> @register_decoder("mine")                       # doctest: +SKIP
    ... class MyDecoder(RepeatDecoder): ...
    """
    def add(cls: type[nn.Module]) -> type[nn.Module]:
        if name in DECODERS and DECODERS[name] is not cls:
            raise ValueError(f"a decoder named {name!r} is already registered ({DECODERS[name].__name__})")
        DECODERS[name] = cls
        return cls
    return add


def per_step_linear(linear: nn.Linear, h: torch.Tensor) -> torch.Tensor:
    """``linear`` at every step of h (N, T, H) -> (N, T, F), applied in whichever of the two layouts is contiguous.

    The fused kernel's output is time-major in memory (a (T, N, H) tensor seen as (N, T, H)); a linear layer
    on that view would first copy it batch-first (4 MB for 1024 windows of 30 steps, and again in the backward).
    """
    if not h.is_contiguous() and h.transpose(0, 1).is_contiguous():
        return linear(h.transpose(0, 1)).transpose(0, 1)                   # (T, N, F) seen as (N, T, F)
    return linear(h)


def initial_state(project: nn.Linear, z: torch.Tensor, num_layers: int, hidden_size: int):
    """LSTM ``(h0, c0)`` from the latent: (N, Z) -> two (L, N, H) tensors, so the decoder starts from the code."""
    s = torch.tanh(project(z))                                               # (N, 2*L*H)
    s = s.view(z.shape[0], 2, num_layers, hidden_size).permute(1, 2, 0, 3)  # (2, L, N, H)
    return s[0].contiguous(), s[1].contiguous()


@register_decoder("repeat")
class RepeatDecoder(nn.Module):
    """The RepeatVector design: the latent is fed at every step to a stacked LSTM, then a per-step linear head.

    Unlike Keras's RepeatVector the LSTM state also starts from the latent (not from zeros), which speeds up training.

    Output at step t depends on z and t only, so padding cannot affect real steps.
    """

    def __init__(self, latent_dim: int, hidden_size: int, n_features: int, num_layers: int = 1,
                 dropout: float = 0.0):
        super().__init__()
        self.init_state = Linear(latent_dim, 2 * num_layers * hidden_size)
        self.lstm = nn.LSTM(latent_dim, hidden_size, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.head = Linear(hidden_size, n_features)

    def forward(self, z: torch.Tensor, max_len: int, target: torch.Tensor | None = None) -> torch.Tensor:
        state = initial_state(self.init_state, z, self.lstm.num_layers, self.lstm.hidden_size)
        h, _ = run_lstm(self.lstm, z, state, steps=max_len)  # z fed at each of the T steps -> (N, T, H)
        return per_step_linear(self.head, h)                 # (N, T, F)


@register_decoder("autoregressive")
class AutoregressiveDecoder(nn.Module):
    """An LSTM whose state starts from the latent and which is fed its previous output.

    Step t gets ``[x_{t-1}, z]`` (``x_{-1} = 0``): with ``target`` given (training) ``x_{t-1}`` is the true value
    (teacher forcing, one fused LSTM call); without it (inference) it is the decoder's own previous output
    (free-running, one step at a time). Either way step t depends only on z and steps before t, so padding
    at the end cannot affect real steps. z is fed at every step as well, so the code is not forgotten on
    long sequences.
    """

    def __init__(self, latent_dim: int, hidden_size: int, n_features: int, num_layers: int = 1,
                 dropout: float = 0.0):
        super().__init__()
        self.num_layers, self.hidden_size, self.n_features = num_layers, hidden_size, n_features
        self.init_state = Linear(latent_dim, 2 * num_layers * hidden_size)
        self.lstm = nn.LSTM(n_features + latent_dim, hidden_size, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.head = Linear(hidden_size, n_features)

    def forward(self, z: torch.Tensor, max_len: int, target: torch.Tensor | None = None) -> torch.Tensor:
        state = initial_state(self.init_state, z, self.num_layers, self.hidden_size)
        n = z.shape[0]
        if target is not None:
            previous = torch.cat([target.new_zeros(n, 1, self.n_features), target[:, :-1]], dim=1)  # (N, T, F)
            inputs = torch.cat([previous, z.unsqueeze(1).expand(-1, max_len, -1)], dim=-1)         # (N, T, F+Z)
            h, _ = run_lstm(self.lstm, inputs, state)                          # (N, T, H)
            return per_step_linear(self.head, h)                               # (N, T, F)
        outputs = []
        previous = z.new_zeros(n, 1, self.n_features)                         # (N, 1, F)
        z_step = z.unsqueeze(1)                                                # (N, 1, Z)
        for _ in range(max_len):
            h, state = run_lstm(self.lstm, torch.cat([previous, z_step], dim=-1), state)  # (N, 1, H)
            previous = self.head(h)                                            # (N, 1, F)
            outputs.append(previous)
        return torch.cat(outputs, dim=1)                                       # (N, T, F)
