"""Adam with gradient clipping over one flat tensor of weights (``seqae.training.flat``), for CPU training.

Why not ``torch.optim.Adam``: on the small models of sequence autoencoders a CPU training step lasts a few ms,
and torch's optimiser and ``clip_grad_norm_`` spend much of theirs in Python around their kernels (parameter
groups, hooks, a norm per tensor), even over one flat tensor. Here the same update is nine tensor operations: a
step of case A took 4.0 ms against 5.0 with torch's fused Adam over the flat tensor and 5.6 over the separate
weights (``benchmarks/perf.py --probe adam``, in one of this machine's slow phases). And the first
``torch.optim`` optimiser of a process imports ``torch._dynamo`` (1.2 s), which every command-line fit paid.

The update is torch's single-tensor Adam without weight decay (``torch/optim/adam.py``), and the clipping is
``torch.nn.utils.clip_grad_norm_``'s: tests hold both to torch's over a training run. ``state_dict`` has
``torch.optim.Adam``'s layout, which the checkpoints store.
"""
from __future__ import annotations

import math

import torch


class FlatAdam:
    """Adam over one tensor ``param`` whose ``.grad`` holds its gradient, with optional clipping by norm.

    Parameters
    ----------
    param : Tensor (P,)
        All weights, as :class:`~seqae.training.flat.FlatParameters` makes them.
    lr, betas, eps : float, (float, float), float
        As ``torch.optim.Adam``.
    clip_norm : float or None
        Scale the gradient down to this norm before each step, as ``clip_grad_norm_`` does (None: never).

    Examples
    --------
    >>> p = torch.nn.Parameter(torch.ones(3))
    >>> p.grad = torch.full((3,), 10.0)
    >>> opt = FlatAdam(p, lr=0.1, clip_norm=1.0)
    >>> opt.step()
    >>> [round(v, 4) for v in p.tolist()]
    [0.9, 0.9, 0.9]
    """

    def __init__(self, param: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 clip_norm: float | None = None):
        if param.dim() != 1:
            raise ValueError(f"param: expected one flat (P,) tensor, got shape {tuple(param.shape)}")
        self.param, self.lr, self.betas, self.eps, self.clip_norm = param, lr, betas, eps, clip_norm
        self.steps = 0
        self.exp_avg = torch.zeros_like(param.detach())
        self.exp_avg_sq = torch.zeros_like(self.exp_avg)

    def set_lr(self, lr: float) -> None:
        self.lr = lr

    def zero_grad(self) -> None:
        """Zero the gradient in place (the parameters' gradients are views of it)."""
        self.param.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """Clip the gradient (in place, as ``clip_grad_norm_``), then take one Adam step."""
        grad = self.param.grad
        if self.clip_norm is not None:
            coef = self.clip_norm / (float(torch.linalg.vector_norm(grad)) + 1e-6)
            if coef < 1.0:                          # clip_grad_norm_ multiplies by min(coef, 1): 1 changes nothing
                grad.mul_(coef)
        self.steps += 1
        beta1, beta2 = self.betas
        self.exp_avg.lerp_(grad, 1 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias1, bias2 = 1 - beta1 ** self.steps, 1 - beta2 ** self.steps
        denom = (self.exp_avg_sq.sqrt() / math.sqrt(bias2)).add_(self.eps)
        self.param.addcdiv_(self.exp_avg, denom, value=-self.lr / bias1)

    def state_dict(self) -> dict:
        """The state in ``torch.optim.Adam.state_dict``'s layout (one parameter, index 0)."""
        group = {"lr": self.lr, "betas": list(self.betas), "eps": self.eps, "weight_decay": 0.0, "amsgrad": False,
                 "params": [0]}
        state = {0: {"step": torch.tensor(float(self.steps)), "exp_avg": self.exp_avg.clone(),
                     "exp_avg_sq": self.exp_avg_sq.clone()}} if self.steps else {}
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state: dict) -> None:
        """Resume from :meth:`state_dict`'s output; ValueError if it belongs to another set of weights."""
        groups = state.get("param_groups", [])
        if len(groups) != 1 or list(groups[0].get("params", [])) != [0]:
            raise ValueError("the optimiser state is not that of one flat tensor of weights")
        slots = state.get("state", {})
        if not slots:
            self.steps = 0
            self.exp_avg.zero_()
            self.exp_avg_sq.zero_()
            return
        slot = slots.get(0, slots.get("0"))
        if slot is None or any(tuple(slot[k].shape) != tuple(self.param.shape) for k in ("exp_avg", "exp_avg_sq")):
            raise ValueError(f"the optimiser state does not match {self.param.numel()} weights")
        self.steps = int(slot["step"])
        self.exp_avg.copy_(slot["exp_avg"])
        self.exp_avg_sq.copy_(slot["exp_avg_sq"])


class TorchAdam:
    """``torch.optim.Adam`` (fused where the device has it) behind :class:`FlatAdam`'s interface: the gradient is
    clipped inside :meth:`step`. For training off the CPU, where the weights are not flattened."""

    def __init__(self, params: list[torch.Tensor], lr: float, clip_norm: float | None, fused: bool):
        self.params, self.clip_norm = params, clip_norm
        self.optimizer = torch.optim.Adam(params, lr=lr, fused=fused)

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def step(self) -> None:
        if self.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.params, self.clip_norm, foreach=True)
        self.optimizer.step()

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state)
