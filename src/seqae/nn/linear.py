"""A linear layer whose inference gives each row the same bits, whatever the number of rows beside it.

Why: torch's float32 matrix product on the CPU picks its kernel by the matrix's shape, and kernels sum in
different orders. On an AMD EPYC with AVX-512, the same 2 rows alone and among 600 differed in the last bit in
11,435 of 17,000 values, so a window's score depended on the batch it was scored in, and a stream that scores
windows as they come could not give :meth:`AnomalyDetector.decision_function`'s bits (``tests/test_stream.py``
failed there). Here every product has one shape: the rows go through in blocks of :data:`BLOCK_ROWS`, the last
block padded with zeros, so every row is summed by the same kernel: 0 of the 17,000 differed. Scoring costs
what it cost with one product: 100,000 windows of 64 steps in 2.24-2.29 s against 2.24-2.32 s (one channel) and
6.83-6.93 s against 6.82-7.04 s (25 channels), one thread, where float64 products rounded once, the other way
to such bits, took 2.8 s and 11.7 s (``PYTHONPATH=src python benchmarks/invariant_linear.py``, 2026-12-07).

Training (autograd recording) and other devices and dtypes keep the plain product: only inference on the CPU
promises these bits. The fused LSTM's input projection (``seqae.nn.fused_lstm``) takes the same path when
nothing records.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqae.nn.tracing import is_traceable

# Rows per product. Large enough that the loop over blocks costs nothing beside the products, small enough that
# padding one window's rows (a stream's update) to a block costs little.
BLOCK_ROWS = 1024


def invariant_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x W^T + b`` for inference, each row's bits independent of the other rows: float32 CPU input in blocks
    of :data:`BLOCK_ROWS` rows (see the module docstring); any other input, and graph export (a traced loop
    would fix the number of rows), through ``F.linear``.

    Shapes: x (..., K), weight (Z, K), bias (Z,) -> (..., Z)."""
    if x.device.type != "cpu" or x.dtype != torch.float32 or is_traceable():   # an exported graph: one product
        return F.linear(x, weight, bias)
    rows = x.reshape(-1, x.shape[-1])                                                      # (M, K)
    m = rows.shape[0]
    pad = -m % BLOCK_ROWS
    if pad:
        rows = torch.cat([rows, rows.new_zeros(pad, rows.shape[1])])                       # (M', K)
    out = torch.cat([F.linear(rows[s:s + BLOCK_ROWS], weight, bias)
                     for s in range(0, rows.shape[0], BLOCK_ROWS)])[:m]                   # (M, Z)
    return out.reshape(*x.shape[:-1], weight.shape[0])


class Linear(nn.Linear):
    """:class:`torch.nn.Linear` (same parameters, same state dict) with batch-invariant CPU inference."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            return super().forward(x)
        return invariant_linear(x, self.weight, self.bias)
