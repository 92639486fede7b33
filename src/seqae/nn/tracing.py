"""A switch for graph export (ONNX): every step through the general, masked code and torch's ``nn.LSTM``.

Why: scoring takes shortcuts that depend on the data at hand (no mask when every sequence is full-length) and
runs the fused CPU kernel, a custom operator no exporter can map. A traced graph would bake the shortcut in
(wrong for padded input) or fail on the kernel. Inside :func:`traceable` neither happens; the weights are the
same, since the kernel uses the ``nn.LSTM`` modules' own parameters.
"""
from __future__ import annotations

import contextlib
import contextvars

_TRACEABLE = contextvars.ContextVar("seqae_traceable", default=False)


def is_traceable() -> bool:
    """Whether the code runs inside :func:`traceable` (no data-dependent shortcuts, no fused kernel)."""
    return _TRACEABLE.get()


@contextlib.contextmanager
def traceable():
    """Run a block with the general code paths only (see the module's docstring)."""
    token = _TRACEABLE.set(True)
    try:
        yield
    finally:
        _TRACEABLE.reset(token)
