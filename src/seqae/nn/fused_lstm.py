"""A fused LSTM for the CPU, used in place of ``nn.LSTM``'s kernel where it applies; ``nn.LSTM`` elsewhere.

Why: at the sizes of sequence autoencoders (batches of 32, 8 to 128 units) torch's CPU LSTM spends most of its
time on per-step overhead, not arithmetic (``benchmarks/perf.py --probe fused``). ``csrc/lstm_cpu.cpp`` runs
the recurrence of one layer as one small matrix product and one fused loop over the gates per step, forward and
backward, each thread of torch's taking its own block of the batch's rows. Where torch finds AVX-512 (and the
weights are float32), ``csrc/lstm_avx512_forward.cpp`` and ``csrc/lstm_avx512_backward.cpp`` run the steps
instead: product and gates in 512-bit registers, the pre-activations never written to memory, and the weights'
gradients summed while each chunk of steps is in cache (``csrc/row_products_avx512.cpp``; MKL takes its AVX2
code on AMD's CPUs). An input of up to 16 features is projected inside that loop; a wider one, for all steps at
once, by one product before it; a repeated input (the RepeatVector decoder) once per sequence instead of once per
step. Without autograd (scoring) nothing is kept for a backward. The kernel's outputs come from a pool of freed
buffers (at most 64 MB idle; ``_extension().set_pool_limit(0)`` empties and disables it), because glibc
returned them to the system between batches and every batch page-faulted them in again.

The parameters stay those of the ``nn.LSTM`` module (same names, same state dict), so a model trained with one
path runs with the other, and saved models do not depend on the kernel.

The kernel is compiled on first use (``kernels.py``: where, how, what a failed build does; ``seqae build-kernels``
builds it ahead of time). Where it cannot be built, ``nn.LSTM`` is used; ``SEQAE_FUSED_LSTM=0`` turns it off.
On a GPU, ``nn.LSTM`` (cuDNN) is always used.

Legend: N batch, T time, F input features, H hidden units, L layers, G = 4H gates.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from seqae.nn.kernels import extension as _extension
from seqae.nn.kernels import path_name
from seqae.nn.linear import invariant_linear
from seqae.nn.tracing import is_traceable

# Inputs this narrow (a series' channels) are projected inside the kernel's loop instead of all steps at once
# beforehand: 15.7 MB less memory traffic per 1024 windows of 30 steps (see set_input_row in csrc/lstm_cpu.cpp).
_INLINE_FEATURES = 16


def fused_lstm_available() -> bool:
    """Whether the fused CPU kernel is built and switched on (builds it on the first call)."""
    return _extension() is not None


class InputProjection(torch.autograd.Function):
    """The input gates of all steps at once, ``x W^T + b``, with a weight gradient ordered for long inputs.

    Shapes: x (M, F) with M = T*N rows, w (G, F), b (G,) -> (M, G).

    torch's own linear backward computes dW = g^T x as (G, M) @ (M, F); with few features and many rows that
    runs far below the machine's speed (C's encoder, F = 8, M = 5,760: 7.0 ms), while (x^T g)^T, the same
    numbers with the long axis inside the product, takes 1.2 ms (``benchmarks/perf.py --probe fused``).
    """

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        return torch.addmm(b, x, w.t())                                   # (M, G)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        return _projection_grads(x, w, grad, ctx.needs_input_grad[:3])


def _projection_grads(x, w, grad, needs):
    """Gradients of ``x W^T + b`` w.r.t. (x, W, b), each None where ``needs`` says it is not wanted.

    Shapes: x (M, F), w (G, F), grad (M, G) -> (M, F), (G, F), (G,).
    """
    grad_x = grad @ w if needs[0] else None                           # (M, F)
    grad_w = _extension().rows_product(x, grad).t() if needs[1] else None  # (G, F) from (F, G) = x^T grad
    grad_b = grad.sum(0) if needs[2] else None                        # (G,)
    return grad_x, grad_w, grad_b


class LSTMRecurrence(torch.autograd.Function):
    """The recurrence of one LSTM layer given its input gates ``xg = x W_ih^T + b_ih + b_hh``, or given ``x``.

    Shapes: xg (N, T, G) (any strides but a contiguous last dim; a stride 0 over T for a repeated input),
    h0, c0 (N, H), w_hh (G, H) -> hs (T+1, N, H) time-major with ``hs[0] = h0``, and c_T (N, H).

    With ``w_ih`` (G, F) and ``bias`` (G,) the first argument is the input x (N, T, F) itself, projected step by
    step inside the kernel: for inputs of few features that avoids writing and rereading a (T, N, G) buffer.
    """

    @staticmethod
    def forward(ctx, xg, h0, c0, w_hh, w_ih=None, bias=None):
        save = any(ctx.needs_input_grad)
        inline = w_ih is not None
        hs, c_last, cs, gates, tanh_c = _kernel_forward(xg, h0, c0, w_hh, w_ih, bias, save)
        if save:
            ctx.inline = inline
            ctx.save_for_backward(hs, cs, gates, tanh_c, w_hh, *((xg, w_ih) if inline else ()))
        return hs, c_last

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_hs, grad_c_last):
        hs, cs, gates, tanh_c, w_hh, *inputs = ctx.saved_tensors
        grad_hs = torch.zeros_like(hs) if grad_hs is None else grad_hs.contiguous()
        grad_c_last = torch.zeros_like(cs[-1]) if grad_c_last is None else grad_c_last.contiguous()
        if not ctx.inline:
            d_xg, d_h0, d_c0, d_w_hh, *_ = _extension().backward(grad_hs, grad_c_last, hs, cs, gates, tanh_c,
                                                                 w_hh.contiguous())   # d_xg (T, N, G)
            return d_xg.transpose(0, 1), d_h0, d_c0, d_w_hh, None, None    # (N, T, G) like xg
        # Given x (N, T, F), the kernel also returns the gradients of W_ih and of the bias; d_xg is kept only for
        # x's own gradient.
        x, w_ih = inputs
        needs = ctx.needs_input_grad
        d_xg, d_h0, d_c0, d_w_hh, grad_w_ih, grad_bias, _ = _extension().backward(
            grad_hs, grad_c_last, hs, cs, gates, tanh_c, w_hh.contiguous(), x=x, keep_d_xg=needs[0])
        grad_x = None
        if needs[0]:
            steps, n, g = d_xg.shape
            grad_x = (d_xg.view(steps * n, g) @ w_ih).view(steps, n, -1).transpose(0, 1)   # (N, T, F)
        return grad_x, d_h0, d_c0, d_w_hh, grad_w_ih if needs[4] else None, grad_bias if needs[5] else None


def _project(x, w, b):
    """The input gates ``x W^T + b``: :class:`InputProjection` while autograd records; without it, a product
    whose rows do not depend on the other rows of the batch (``seqae.nn.linear``), so that a window scored alone
    gets the bits it gets among others. Shapes: x (M, F) -> (M, G)."""
    if torch.is_grad_enabled():
        return InputProjection.apply(x, w, b)
    return invariant_linear(x, w, b)


def _kernel_forward(xg, h0, c0, w_hh, w_ih, bias, save: bool):
    """The kernel's forward call: hs, c_T and, with ``save``, what its backward reads (see LSTMRecurrence)."""
    inline = w_ih is not None
    return _extension().forward(xg, h0.contiguous(), c0.contiguous(), w_hh.contiguous(), save,
                                w_ih.t().contiguous() if inline else None, bias.contiguous() if inline else None)


def _recurrence(xg, h0, c0, w_hh, w_ih=None, bias=None):
    """``LSTMRecurrence.apply`` while autograd records; without it (no_grad, inference_mode) the kernel alone,
    keeping nothing for a backward. Why: inside a Function's forward ``needs_input_grad`` still says True for
    parameters that require grad, so scoring used to save every step's gates and cell states: 4.1 against
    2.2 ms for a layer of 1024 windows of 30 steps (run notes: ``git show 3a3a251:benchmarks/results/perf.md``)."""
    if torch.is_grad_enabled():
        return LSTMRecurrence.apply(xg, h0, c0, w_hh, w_ih, bias)
    hs, c_last, *_ = _kernel_forward(xg, h0, c0, w_hh, w_ih, bias, save=False)
    return hs, c_last


def _use_fused(lstm: nn.LSTM, x: torch.Tensor) -> bool:
    return uses_fused(lstm, x.device, x.dtype)


def uses_fused(lstm: nn.LSTM, device: torch.device, dtype: torch.dtype = torch.float32) -> bool:
    """Whether :func:`run_lstm` runs ``lstm`` on the fused kernel for inputs on ``device`` of ``dtype``."""
    return (device.type == "cpu" and not is_traceable() and dtype in (torch.float32, torch.float64)
            and lstm.batch_first and not lstm.bidirectional and lstm.proj_size == 0 and lstm.bias
            and fused_lstm_available())


def lstm_path(model: nn.Module, device: torch.device) -> str:
    """The path a model's LSTM layers take on ``device``: the kernels' name, "nn.LSTM", or "mixed (...)"
    (a bidirectional encoder runs on nn.LSTM beside a fused decoder, for example)."""
    fused = {uses_fused(m, device) for m in model.modules() if isinstance(m, nn.LSTM)}
    if fused == {True}:
        return path_name()
    if fused == {False} or not fused:
        return "nn.LSTM"
    return f"mixed ({path_name()} and nn.LSTM)"


def run_lstm(lstm: nn.LSTM, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None,
             steps: int | None = None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Run a batch-first ``nn.LSTM`` on ``x``, with the fused CPU kernel where it applies.

    Shapes: x (N, T, F), or (N, F) with ``steps = T`` for an input repeated at every step (the RepeatVector
    decoder: projected once, not T times); state ``(h0, c0)`` each (L, N, H), zeros if None
    -> output (N, T, H), ``(h_n, c_n)`` each (L, N, H). The same contract as ``lstm(x, state)``.
    """
    if steps is not None:
        if x.dim() != 2:
            raise ValueError(f"a repeated input must be (N, F), got {tuple(x.shape)}")
        if not _use_fused(lstm, x):
            return lstm(x.unsqueeze(1).expand(-1, steps, -1), state)          # (N, T, F)
    elif not _use_fused(lstm, x):
        return lstm(x, state)
    n, layers, hidden = x.shape[0], lstm.num_layers, lstm.hidden_size
    if state is None:
        zeros = x.new_zeros(layers, n, hidden)
        state = (zeros, zeros)
    h, h_n, c_n = x, [], []
    for layer in range(layers):
        if layer > 0:
            h = F.dropout(h, lstm.dropout, lstm.training)                     # as nn.LSTM: between layers only
        w_ih, w_hh, b_ih, b_hh = (getattr(lstm, f"{name}_l{layer}")
                                  for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        h0, c0 = state[0][layer], state[1][layer]
        if layer == 0 and steps is not None:
            xg = _project(h, w_ih, b_ih + b_hh).unsqueeze(1).expand(-1, steps, -1)  # (N, T, G), stride 0
            hs, c_last = _recurrence(xg, h0, c0, w_hh)                              # (T+1, N, H), (N, H)
        elif h.shape[2] <= _INLINE_FEATURES:
            # Few features: projected inside the kernel's loop. The input is made time-major first (a small copy
            # at F <= 16), so that each step reads one contiguous block.
            x_steps = h.transpose(0, 1).contiguous().transpose(0, 1)           # (N, T, F), (T, N, F) in memory
            hs, c_last = _recurrence(x_steps, h0, c0, w_hh, w_ih, b_ih + b_hh)
        else:
            # Projected time-major, (T, N, G) in memory, seen as (N, T, G): each step then reads one contiguous
            # block; batch-first it would touch N rows T*G apart, one memory page each for large batches.
            t = h.shape[1]
            rows = h.transpose(0, 1).reshape(t * n, h.shape[2])                               # (T*N, F)
            xg = _project(rows, w_ih, b_ih + b_hh).view(t, n, -1).transpose(0, 1)  # (N, T, G)
            hs, c_last = _recurrence(xg, h0, c0, w_hh)
        h = hs[1:].transpose(0, 1)                                           # (N, T, H)
        h_n.append(hs[-1])
        c_n.append(c_last)
    return h, (torch.stack(h_n), torch.stack(c_n))                           # (N, T, H), (L, N, H) x 2
