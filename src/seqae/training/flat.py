"""A module's parameters and their gradients as views into two flat buffers, so that the optimiser and the
gradient clipping see one tensor instead of one per weight.

Why: with the small models of sequence autoencoders a CPU training step is short (a few ms for case A of
``benchmarks/perf.py``), and clipping and Adam cost per tensor, not per number: torch's CPU ``_foreach_norm``
falls back to one norm per tensor, and the optimiser walks its parameter list in Python. With torch's fused
Adam over one buffer of the default model's 14 weights a step of A took 5.0 ms against 5.6 over the separate
weights (``benchmarks/perf.py --probe adam``), with the same losses: Adam is elementwise, and the global norm is
the same number summed in another order. ``seqae.training.adam.FlatAdam`` then makes the update itself cheaper.

Autograd adds each new gradient into the existing ``.grad`` in place (the gradients here are views), so the
gradient buffer is zeroed before each backward pass, never set to None.

CPU only: on CUDA, cuDNN keeps the LSTM weights in its own flat layout (``nn.LSTM.flatten_parameters``), and
the fused Adam there is one multi-tensor launch already.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch


class FlatParameters:
    """Rebinds ``params`` to views of one buffer; :meth:`release` gives each its own storage back.

    ``param`` is a leaf holding all the values (give it to the optimiser), and its ``.grad`` holds all the
    gradients, which are also each parameter's ``.grad``. The values are unchanged by the rebinding.

    Examples
    --------
    >>> lin = torch.nn.Linear(3, 2)
    >>> flat = FlatParameters(lin.parameters())
    >>> flat.param.shape, lin.weight.data_ptr() == flat.param.data_ptr()
    (torch.Size([8]), True)
    >>> flat.release()
    """

    def __init__(self, params: Iterable[torch.nn.Parameter]):
        self.params = list(params)
        if not self.params:
            raise ValueError("no parameters to flatten")
        first = self.params[0]
        if any(p.dtype != first.dtype or p.device != first.device for p in self.params):
            raise ValueError("all parameters must share one dtype and device, got "
                             f"{sorted({(str(p.dtype), str(p.device)) for p in self.params})}")
        total = sum(p.numel() for p in self.params)
        values = torch.empty(total, dtype=first.dtype, device=first.device)
        grads = torch.zeros(total, dtype=first.dtype, device=first.device)
        offset = 0
        for p in self.params:
            k = p.numel()
            values[offset:offset + k].copy_(p.detach().reshape(-1))
            # .data keeps the Parameter object (and so every reference to it, nn.LSTM's weight list included).
            p.data = values[offset:offset + k].view_as(p)
            p.grad = grads[offset:offset + k].view_as(p)
            offset += k
        self.param = torch.nn.Parameter(values)
        self.param.grad = grads

    def release(self) -> None:
        """Give each parameter its own storage again (a copy of its current value) and no gradient."""
        for p in self.params:
            p.data = p.detach().clone()
            p.grad = None
