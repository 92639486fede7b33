"""The training loss of the default autoencoder as one autograd node, on the fused CPU LSTM kernel.

Why: with the default architecture (one LSTM layer each side, last-step pooling, RepeatVector decoder) a
training step of 32 windows spends less time in the LSTM kernels (1.3 ms) than in the framework around them:
about 40 small tensor operations in Python, each with its autograd node, then the autograd engine walking them
back. Here the forward pass runs those operations with autograd off and the backward pass is written out by
hand, so autograd sees one node. A step of case A (Adam and clipping included) went from 3.4 to 2.6 ms, and one
of C's shapes from 32.9 to 29.0 ms (``benchmarks/perf.py --probe fused-loss``).

Padded batches are handled as the module handles them: the encoder's output is taken at each sequence's own
last step, the decoder's output is reversed within each length, and padded steps are left out of the loss.

The module's own forward pass stays the definition: ``fused_autoencoder_loss`` gives the same loss and
gradients as ``autoencoder_loss`` over ``module(x, lengths)`` (tests compare every parameter's gradient),
reads the module's parameters, and is used by the training loop only where :func:`fused_loss_applies`.

Legend: N batch, T time, F features, H encoder units, D decoder units, Z latent size, G = 4H (or 4D) gates.
All intermediate sequences are time-major, (T, N, .), as the kernel produces them.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from seqae.nn.autoencoder import SequenceAutoencoder
from seqae.nn.fused_lstm import _INLINE_FEATURES, _extension, _projection_grads, _use_fused
from seqae.nn.latent import _LOGVAR_MAX, _LOGVAR_MIN


@dataclass(frozen=True)
class _Spec:
    variational: bool   # Gaussian latent (sample, KL) instead of a linear one
    reverse: bool       # the decoder emits the last step first (reverse_decoding)
    beta: float         # KL weight (VAE only)


def fused_loss_applies(module: SequenceAutoencoder, x: torch.Tensor, lengths: torch.Tensor) -> bool:
    """Whether :func:`fused_autoencoder_loss` computes this batch's training loss: a module in training mode with
    one unidirectional LSTM layer each side, last-step pooling and the repeat decoder, on the CPU with the fused
    kernel, and lengths on the CPU. Shapes: x (N, T, F), lengths (N,)."""
    cfg = module.config
    if not (module.training and cfg.num_layers == 1 and not cfg.bidirectional and cfg.pooling == "last"
            and cfg.decoder == "repeat" and x.dim() == 3 and not x.requires_grad):
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
            module.decoder.head.weight, module.decoder.head.bias)


def fused_autoencoder_loss(module: SequenceAutoencoder, x: torch.Tensor, lengths: torch.Tensor,
                           beta: float = 1.0) -> torch.Tensor:
    """``autoencoder_loss(module(x, lengths), x, lengths, ..., beta)[0]`` as one autograd node.

    Shapes: x (N, T, F) zero-padded, lengths (N,) -> a scalar. Call only where :func:`fused_loss_applies`. A VAE
    draws its noise with ``torch.randn_like`` at the same point of the computation as the module does, so both
    give the same sample under the same seed.
    """
    spec = _Spec(variational=module.config.variational, reverse=module.config.reverse_decoding, beta=float(beta))
    n, t = x.shape[:2]
    if int(lengths.min()) == t:
        steps = None                                          # windows: no gather, no mask
    else:
        time = torch.arange(t)[:, None]                       # (T, 1)
        lens = lengths.to(torch.int64)[None, :]               # (1, N)
        real = time < lens                                    # (T, N): real steps
        # Time index, per sequence, of its reversal within its own length (padding stays in place); it is its
        # own inverse, so the same index takes the gradient back.
        order = torch.where(real, lens - 1 - time, time) if spec.reverse else time.expand(t, n)
        steps = (order, real)
    return _FusedLoss.apply(x, lengths, steps, spec, *_parameters(module))


def _lstm_forward(xg_or_x, h0, c0, w_hh, w_ih_t=None, bias=None):
    """The kernel's forward with its saved state: hs (T+1, N, H) and the (cs, gates, tanh_c) its backward needs."""
    hs, _, cs, gates, tanh_c = _extension().forward(xg_or_x, h0, c0, w_hh, True, w_ih_t, bias)
    return hs, (cs, gates, tanh_c)


class _FusedLoss(torch.autograd.Function):
    """Scalar loss of the autoencoder; gradients for every parameter (none for x).

    ``steps`` is None for windows, else (order, real), both (T, N): the decoder's time index of each
    reconstructed step, and which steps are real.
    """

    @staticmethod
    def forward(ctx, x, lengths, steps, spec: _Spec, w_ih_e, w_hh_e, b_ih_e, b_hh_e, *rest):
        if spec.variational:
            w_m, b_m, w_v, b_v, w_s, b_s, w_ih_d, w_hh_d, b_ih_d, b_hh_d, w_o, b_o = rest
        else:
            w_l, b_l, w_s, b_s, w_ih_d, w_hh_d, b_ih_d, b_hh_d, w_o, b_o = rest
        n, t, f = x.shape
        h, d = w_hh_e.shape[1], w_hh_d.shape[1]
        x_tm = x.transpose(0, 1).contiguous()                                  # (T, N, F)
        zeros = x.new_zeros(n, h)
        if f <= _INLINE_FEATURES:    # projected inside the kernel's loop, as run_lstm does
            hs_e, saved_e = _lstm_forward(x_tm.transpose(0, 1), zeros, zeros, w_hh_e, w_ih_e.t().contiguous(),
                                          b_ih_e + b_hh_e)                    # (T+1, N, H)
        else:
            xg_e = torch.addmm(b_ih_e + b_hh_e, x_tm.view(t * n, f), w_ih_e.t()).view(t, n, -1)  # (T, N, G)
            hs_e, saved_e = _lstm_forward(xg_e.transpose(0, 1), zeros, zeros, w_hh_e)
        h_last = hs_e[t] if steps is None else hs_e[lengths, torch.arange(n)]  # (N, H): at each last real step
        if spec.variational:
            mean = torch.addmm(b_m, h_last, w_m.t())                           # (N, Z)
            logvar_raw = torch.addmm(b_v, h_last, w_v.t())
            logvar = logvar_raw.clamp(_LOGVAR_MIN, _LOGVAR_MAX)
            eps = torch.randn_like(mean)                                       # as GaussianLatent draws it
            std = torch.exp(0.5 * logvar)
            z = mean + std * eps                                               # (N, Z)
        else:
            z = torch.addmm(b_l, h_last, w_l.t())                              # (N, Z)
        s = torch.tanh(torch.addmm(b_s, z, w_s.t()))                           # (N, 2D): [h0 | c0], as initial_state
        xg_d = torch.addmm(b_ih_d + b_hh_d, z, w_ih_d.t())                     # (N, 4D), the same at every step
        hs_d, saved_d = _lstm_forward(xg_d.unsqueeze(1).expand(-1, t, -1), s[:, :d].contiguous(),
                                      s[:, d:].contiguous(), w_hh_d)           # (T+1, N, D)
        y = torch.addmm(b_o, hs_d[1:].reshape(t * n, d), w_o.t()).view(t, n, f)  # (T, N, F) in decoding order
        if steps is None:
            diff = (y.flip(0) if spec.reverse else y) - x_tm                   # (T, N, F) reconstruction - x
            count = n * t * f
        else:
            order, real = steps
            diff = y.gather(0, order[:, :, None].expand(t, n, f)) - x_tm       # reversed within each length
            diff = torch.where(real[:, :, None], diff, 0.0)                    # padded steps: no value, no gradient
            count = int(lengths.sum()) * f
        loss = diff.pow(2).sum() / count                                       # masked_mse
        if spec.variational:
            kl = -0.5 * torch.sum(1.0 + logvar - mean.pow(2) - logvar.exp())   # gaussian_kl, summed over the batch
            loss = loss + spec.beta * kl / count
            latent = (mean, logvar_raw, logvar, eps, std)
        else:
            latent = ()
        ctx.spec, ctx.steps, ctx.count, ctx.lengths = spec, steps, count, lengths
        ctx.save_for_backward(x_tm, w_ih_e, w_hh_e, w_s, w_ih_d, w_hh_d, w_o, hs_e, *saved_e, hs_d, *saved_d,
                              z, s, diff, *(w_m, w_v) if spec.variational else (w_l,), *latent)
        return loss

    @staticmethod
    def backward(ctx, grad):
        spec, steps, count = ctx.spec, ctx.steps, ctx.count
        (x_tm, w_ih_e, w_hh_e, w_s, w_ih_d, w_hh_d, w_o, hs_e, cs_e, gates_e, tanh_e, hs_d, cs_d, gates_d, tanh_d,
         z, s, diff, *latent) = ctx.saved_tensors
        t, n, f = x_tm.shape
        h, d = w_hh_e.shape[1], w_hh_d.shape[1]
        ext = _extension()
        # Head and decoder. d(loss)/d(diff) = 2 diff / count; y is diff's time order undone.
        g_diff = diff * (2.0 * grad / count)                                   # (T, N, F)
        if steps is None:
            g_y = g_diff.flip(0) if spec.reverse else g_diff
        else:
            g_y = g_diff.gather(0, steps[0][:, :, None].expand(t, n, f))        # the reversal is its own inverse
        g_y = g_y.reshape(t * n, f)                                            # (T*N, F)
        rows_d = hs_d[1:].reshape(t * n, d)                                    # (T*N, D)
        # Each linear layer's backward (input, weight, bias) is _projection_grads, shared with the module path.
        g_rows_d, dw_o, db_o = _projection_grads(rows_d, w_o, g_y, (True, True, True))   # (T*N, D), (F, D), (F,)
        g_hs_d = torch.zeros_like(hs_d)                                        # (T+1, N, D); nothing reads h0
        g_hs_d[1:] = g_rows_d.view(t, n, d)
        d_xg_d, d_h0, d_c0, dw_hh_d = ext.backward(g_hs_d, hs_d.new_zeros(n, d), hs_d, cs_d, gates_d, tanh_d,
                                                   w_hh_d)                     # d_xg_d (T, N, 4D)
        g_xg = d_xg_d.sum(0)                                                   # (N, 4D): the input is repeated
        g_z_input, dw_ih_d, db_d = _projection_grads(z, w_ih_d, g_xg, (True, True, True))
        # Initial state s = tanh(z W_s^T + b_s) = [h0 | c0].
        g_pre = torch.cat([d_h0, d_c0], dim=1) * (1.0 - s * s)                 # (N, 2D)
        g_z_state, dw_s, db_s = _projection_grads(z, w_s, g_pre, (True, True, True))
        g_z = g_z_input + g_z_state                                            # (N, Z)
        last = t if steps is None else (ctx.lengths, torch.arange(n))          # each sequence's last real step
        h_last = hs_e[last]                                                    # (N, H)
        if spec.variational:
            w_m, w_v, mean, logvar_raw, logvar, eps, std = latent
            c = spec.beta * grad / count                                       # weight of the KL term
            g_mean = g_z + c * mean                                            # dKL/dmean = mean
            g_logvar = g_z * eps * 0.5 * std + c * 0.5 * (logvar.exp() - 1.0)  # z = mean + exp(logvar/2) eps
            g_logvar = g_logvar * ((logvar_raw >= _LOGVAR_MIN) & (logvar_raw <= _LOGVAR_MAX))  # clamp's gradient
            g_h_mean, dw_m, db_m = _projection_grads(h_last, w_m, g_mean, (True, True, True))
            g_h_logvar, dw_v, db_v = _projection_grads(h_last, w_v, g_logvar, (True, True, True))
            latent_grads = (dw_m, db_m, dw_v, db_v)
            g_h = g_h_mean + g_h_logvar                                        # (N, H)
        else:
            (w_l,) = latent
            g_h, *latent_grads = _projection_grads(h_last, w_l, g_z, (True, True, True))
        # Encoder: the loss reads its last output only.
        g_hs_e = torch.zeros_like(hs_e)                                        # (T+1, N, H)
        g_hs_e[last] = g_h
        d_xg_e, _, _, dw_hh_e = ext.backward(g_hs_e, hs_e.new_zeros(n, h), hs_e, cs_e, gates_e, tanh_e, w_hh_e)
        _, dw_ih_e, db_e = _projection_grads(x_tm.view(t * n, f), w_ih_e, d_xg_e.view(t * n, -1), (False, True, True))
        return (None, None, None, None, dw_ih_e, dw_hh_e, db_e, db_e, *latent_grads, dw_s, db_s, dw_ih_d, dw_hh_d,
                db_d, db_d, dw_o, db_o)
