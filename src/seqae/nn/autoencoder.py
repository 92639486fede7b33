"""The sequence autoencoder: encoder -> latent -> decoder, composed from the small modules beside this file.

Shapes: x (N, T, F), lengths (N,) -> AutoencoderOutput with reconstruction (N, T, F), embedding (N, Z) and, with
``forecast``, next-step predictions (N, T, F).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqae.nn.decoder import DECODERS
from seqae.nn.encoder import LSTMEncoder
from seqae.nn.latent import DeterministicLatent, GaussianLatent
from seqae.nn.linear import Linear
from seqae.nn.masking import reverse_padded


@dataclass(frozen=True)
class AutoencoderConfig:
    n_features: int             # F: channels of the input
    hidden_size: int = 64       # H: LSTM units per direction (encoder, and decoder unless set below)
    decoder_hidden_size: int | None = None  # decoder LSTM units; None = hidden_size. A narrow decoder (as many
                                            # Keras models have) costs far less per step than the encoder
    latent_dim: int = 16        # Z: size of the bottleneck / embedding
    num_layers: int = 1         # stacked LSTM layers in encoder and decoder
    bidirectional: bool = False  # encoder only; the decoder generates forwards in time
    dropout: float = 0.0        # between stacked layers
    variational: bool = False   # Gaussian latent with KL (LSTM-VAE) instead of a deterministic one
    pooling: str = "last"       # "last" | "mean" | "attention": how the encoder summarises the steps
    decoder: str = "repeat"     # "repeat" (latent at every step) | "autoregressive" (previous output fed back)
    attention_size: int = 32    # hidden size of the attention scorer (pooling="attention")
    forecast: bool = False      # also predict each next step from the encoder's forward outputs (a linear head,
                                # as AER adds prediction to reconstruction): a point that the steps before it
                                # do not explain is seen at that point, not smeared over the latent's window
    reverse_decoding: bool = True  # decode last step first (Srivastava et al. 2015): the steps the encoder read
                                   # last are reconstructed first, a short path that makes training much faster

    @property
    def decoder_units(self) -> int:
        """D: the decoder's LSTM units (decoder_hidden_size, or hidden_size when that is None)."""
        return self.decoder_hidden_size or self.hidden_size


@dataclass
class AutoencoderOutput:
    reconstruction: torch.Tensor     # (N, T, F)
    embedding: torch.Tensor          # (N, Z): deterministic code, or posterior mean for the VAE
    z: torch.Tensor                  # (N, Z): what the decoder got (a sample when training a VAE)
    logvar: torch.Tensor | None      # (N, Z) for the VAE
    attention: torch.Tensor | None   # (N, T) with pooling="attention"
    forecast: torch.Tensor | None = None  # (N, T, F): step t's prediction of step t + 1 (the last is unused)


class SequenceAutoencoder(nn.Module):
    """LSTM autoencoder for padded batches of variable-length sequences.

    In ``train()`` mode a VAE samples its latent and an autoregressive decoder is teacher-forced; in
    ``eval()`` mode the VAE uses the posterior mean and the decoder runs free, so inference is deterministic.
    """

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        if config.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {tuple(DECODERS)}, got {config.decoder!r}")
        self.config = config
        self.encoder = LSTMEncoder(config.n_features, config.hidden_size, config.num_layers, config.bidirectional,
                                   config.dropout, config.pooling, config.attention_size)
        latent_cls = GaussianLatent if config.variational else DeterministicLatent
        self.latent = latent_cls(self.encoder.output_size, config.latent_dim)
        self.decoder = DECODERS[config.decoder](config.latent_dim, config.decoder_units,
                                   config.n_features, config.num_layers, config.dropout)
        # The forward direction only: a backward direction has read the step it would predict.
        self.forecast_head = Linear(config.hidden_size, config.n_features) if config.forecast else None

    def encode(self, x: torch.Tensor, lengths: torch.Tensor):
        """(N, T, F) -> LatentSample with (N, Z) tensors, and attention weights (N, T) or None."""
        pooled, attention = self.encoder(x, lengths)          # (N, P)
        return self.latent(pooled, sample=self.training), attention

    def _encode_with_forecast(self, x: torch.Tensor, lengths: torch.Tensor):
        """encode(), and the next-step predictions (N, T, F) from the same encoder pass."""
        h = self.encoder.sequence_outputs(x, lengths)          # (N, T, P)
        pooled, attention = self.encoder.pool(h, lengths)     # (N, P)
        forecast = self.forecast_head(h[..., :self.config.hidden_size])  # (N, T, F)
        return self.latent(pooled, sample=self.training), attention, forecast

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> AutoencoderOutput:
        if x.dim() != 3 or x.shape[-1] != self.config.n_features:
            raise ValueError(f"expected input (N, T, {self.config.n_features}), got {tuple(x.shape)}")
        forecast = None
        if self.forecast_head is not None:
            latent, attention, forecast = self._encode_with_forecast(x, lengths)
        else:
            latent, attention = self.encode(x, lengths)
        order = (lambda t: reverse_padded(t, lengths)) if self.config.reverse_decoding else (lambda t: t)
        target = order(x) if self.training else None            # teacher forcing only while training
        # Decoded step t depends on z and t only, so reversing within each sequence's own length keeps padding out.
        reconstruction = order(self.decoder(latent.z, x.shape[1], target))  # (N, T, F)
        return AutoencoderOutput(reconstruction, latent.mean, latent.z, latent.logvar, attention, forecast)
