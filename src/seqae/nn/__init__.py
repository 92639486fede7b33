"""PyTorch modules and losses. Torch only: no numpy, no estimators, no I/O.

Shape legend used throughout this package:
    N batch, T time (the batch's longest length), F features, H hidden size per direction,
    D directions (1 or 2), P pooled size (= D*H), Z latent size.
Layout is always batch-first ``(N, T, F)``; real lengths come as a ``(N,)`` int64 tensor ``lengths`` and
steps ``t >= lengths[i]`` are padding that no output, loss or gradient may depend on.
"""
from seqae.nn.autoencoder import AutoencoderConfig, AutoencoderOutput, SequenceAutoencoder
from seqae.nn.decoder import AutoregressiveDecoder, RepeatDecoder
from seqae.nn.encoder import AttentionPooling, LSTMEncoder
from seqae.nn.latent import DeterministicLatent, GaussianLatent, LatentSample
from seqae.nn.losses import autoencoder_loss, gaussian_kl, masked_mse, per_step_squared_error, step_mask

__all__ = [
    "AttentionPooling", "AutoencoderConfig", "AutoencoderOutput", "AutoregressiveDecoder", "DeterministicLatent",
    "GaussianLatent", "LSTMEncoder", "LatentSample", "RepeatDecoder", "SequenceAutoencoder", "autoencoder_loss",
    "gaussian_kl", "masked_mse", "per_step_squared_error", "step_mask",
]
