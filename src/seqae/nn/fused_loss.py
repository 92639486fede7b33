"""The training loss of the default autoencoder as one autograd node, on the fused CPU LSTM kernel.

Why: with the default architecture (one LSTM layer each side, last-step pooling, RepeatVector decoder) a
training step of 32 windows spends less time in the LSTM kernels (1.0 ms) than in the framework around them:
about 60 small tensor operations, each with its autograd node, then the autograd engine walking them back.
Here autograd sees one node: its forward and its backward are one call each into the extension
(``csrc/autoencoder_loss.cpp``), where the operations run without autograd, dispatched from C++, and the
backward pass is written out by hand. It earns its keep up to ``MAX_STEPS`` padded steps: a whole fit of case A
1.38x faster, the default detector's 1.20x, and nothing or a loss beyond (``benchmarks/perf.py --probe
fused-loss``; the figures and the decision: ``benchmarks/results/perf.md``). The detector's next-step head
(``forecast=True``, its default since 2026-12-04) is part of the node too: its error is added as the module's
training loop adds it (``forecast_loss``); without it, that default had fallen back to the module path.

Padded batches are handled as the module handles them: the encoder's output is taken at each sequence's own
last step, the decoder's output is reversed within each length, and padded steps are left out of the loss.

The module's own forward pass stays the definition: ``fused_autoencoder_loss`` gives the same loss and
gradients as ``autoencoder_loss`` over ``module(x, lengths)`` (tests compare every parameter's gradient),
reads the module's parameters, and is used by the training loop only where :func:`fused_loss_applies`.

Legend: N batch, T time, F features, H encoder units, D decoder units, Z latent size, G = 4H (or 4D) gates.
All intermediate sequences are time-major, (T, N, .), as the kernel produces them.
"""
from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from seqae.nn.autoencoder import SequenceAutoencoder
from seqae.nn.fused_lstm import _INLINE_FEATURES, _extension, _use_fused
from seqae.nn.latent import _LOGVAR_MAX, _LOGVAR_MIN


# Longest padded batch the fused loss takes. What it saves is per-operation overhead, a fixed cost per step that
# long sequences amortise: a training step of case A (30 steps) 1.40x faster with it, equal at 180 steps (H = 32)
# and 0.87x at 180 steps of case C; a whole fit of case A 1.38x, the default AnomalyDetector's 1.20x
# (``benchmarks/perf.py --probe fused-loss``; the figures: ``benchmarks/results/perf.md``).
MAX_STEPS = 128


def fused_loss_applies(module: SequenceAutoencoder, x: torch.Tensor, lengths: torch.Tensor) -> bool:
    """Whether :func:`fused_autoencoder_loss` computes this batch's training loss: a module in training mode with
    one unidirectional LSTM layer each side, last-step pooling and the repeat decoder (with or without the
    next-step head), on the CPU with the fused kernel, lengths on the CPU, and at most ``MAX_STEPS`` padded steps.
    Shapes: x (N, T, F), lengths (N,)."""
    cfg = module.config
    if not (module.training and cfg.num_layers == 1 and not cfg.bidirectional and cfg.pooling == "last"
            and cfg.decoder == "repeat" and x.dim() == 3 and not x.requires_grad
            and x.shape[1] <= MAX_STEPS):
        return False
    return (lengths.device.type == "cpu" and _use_fused(module.encoder.forward_layers[0], x)
            and _use_fused(module.decoder.lstm, x))


def _parameters(module: SequenceAutoencoder) -> tuple[torch.Tensor, ...]:
    """The module's parameters in the order _FusedLoss takes them."""
    enc, dec = module.encoder.forward_layers[0], module.decoder.lstm
    latent = ((module.latent.mean.weight, module.latent.mean.bias, module.latent.logvar.weight,
               module.latent.logvar.bias) if module.config.variational
              else (module.latent.linear.weight, module.latent.linear.bias))
    return (enc.weight_ih_l0, enc.weight_hh_l0, enc.bias_ih_l0, enc.bias_hh_l0, *latent,
            module.decoder.init_state.weight, module.decoder.init_state.bias,
            dec.weight_ih_l0, dec.weight_hh_l0, dec.bias_ih_l0, dec.bias_hh_l0,
            module.decoder.head.weight, module.decoder.head.bias,
            *((module.forecast_head.weight, module.forecast_head.bias) if module.config.forecast else ()))


def fused_autoencoder_loss(module: SequenceAutoencoder, x: torch.Tensor, lengths: torch.Tensor,
                           beta: float = 1.0, target: torch.Tensor | None = None) -> torch.Tensor:
    """``autoencoder_loss(module(x, lengths), target, lengths, ..., beta)[0]``, plus ``forecast_loss`` of the
    next-step head where the module has one (as the training loop adds it), as one autograd node.

    Shapes: x (N, T, F) zero-padded, lengths (N,) -> a scalar; ``target`` (N, T, F), default x: what the decoder
    must reconstruct (the clean sequences when x has masked steps). Call only where :func:`fused_loss_applies`
    (for x and for target). A VAE draws its noise with ``torch.randn_like`` at the same point of the computation
    as the module does, so both give the same sample under the same seed.
    """
    cfg = module.config
    spec = _extension().LossSpec(variational=cfg.variational, reverse=cfg.reverse_decoding, beta=float(beta),
                                 logvar_min=_LOGVAR_MIN, logvar_max=_LOGVAR_MAX, inline_features=_INLINE_FEATURES,
                                 forecast=bool(cfg.forecast))
    return _FusedLoss.apply(x, x if target is None else target, lengths, spec, *_parameters(module))


class _FusedLoss(torch.autograd.Function):
    """Scalar loss of the autoencoder; gradients for every parameter (none for x, target or lengths).

    Both passes are one call each into the extension (``csrc/autoencoder_loss.cpp``), which does what the module
    does (see the module docstring); the tensors the backward reads stay on ``ctx`` as one list.
    """

    @staticmethod
    def forward(ctx, x, target, lengths, spec, *params):
        loss, count, saved = _extension().loss_forward(x, target, lengths, spec, list(params))
        ctx.spec, ctx.count, ctx.saved = spec, count, saved
        ctx.save_for_backward(lengths, *params)      # inputs: autograd checks they were not changed in place
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        lengths, *params = ctx.saved_tensors
        grads = _extension().loss_backward(grad, lengths, ctx.spec, ctx.count, params, ctx.saved)
        ctx.saved = None                             # free the forward's buffers (back to the kernel's pool)
        return (None, None, None, None, *grads)
