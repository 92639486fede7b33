"""seqae.nn.linear: inference whose rows do not depend on the rows beside them (the stream's bit-for-bit
promise rests on it), and the plain linear layer everywhere else."""
from __future__ import annotations

import torch
from torch import nn

from seqae.nn.linear import BLOCK_ROWS, Linear, invariant_linear


def test_a_row_gets_the_same_bits_alone_among_few_and_among_many():
    torch.manual_seed(0)
    for k, z in ((32, 16), (16, 128), (32, 1), (25, 128)):
        w, b = torch.randn(z, k), torch.randn(z)
        x = torch.randn(2 * BLOCK_ROWS + 300, k)          # three blocks, the last padded
        everything = invariant_linear(x, w, b)
        for start, n in ((0, 1), (5, 2), (150, 150), (BLOCK_ROWS - 3, 7), (2 * BLOCK_ROWS + 10, 1)):
            assert torch.equal(invariant_linear(x[start:start + n], w, b), everything[start:start + n]), (k, z, start)
        torch.testing.assert_close(everything, torch.nn.functional.linear(x, w, b))


def test_linear_keeps_nn_linear_parameters_and_training_path():
    torch.manual_seed(1)
    layer, plain = Linear(8, 3), nn.Linear(8, 3)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(4, 5, 8, requires_grad=True)
    assert torch.equal(layer(x), plain(x))                              # autograd records: the plain product
    layer(x).sum().backward()
    assert layer.weight.grad is not None and x.grad is not None
    with torch.no_grad():
        out = layer(x)
    assert out.shape == (4, 5, 3)
    torch.testing.assert_close(out, plain(x).detach())
    with torch.no_grad():
        assert torch.equal(layer(x)[1], layer(x[1:2])[0])             # one sequence alone, the same bits
    double = Linear(8, 3).double()
    with torch.no_grad():                                               # other dtypes: the plain product
        y = torch.randn(6, 8, dtype=torch.float64)
        assert torch.equal(double(y), torch.nn.functional.linear(y, double.weight, double.bias))
