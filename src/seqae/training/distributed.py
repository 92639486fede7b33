"""Data-parallel training of one model over several processes (``torchrun``, ``torch.distributed``).

Every process (rank) holds the whole collection and the same model, and draws the same batches (the same
seed): of each global batch it computes the loss and gradient of its own share of the rows only. The
gradients, each weighted by its share's number of real elements, are summed across ranks by one
``all_reduce`` of one flat buffer (the flat gradient of ``training/flat.py`` with the loss and the element
count appended) and divided by the batch's element count, which gives every rank the gradient of the whole
batch; the identical optimiser step on every rank keeps the weights identical. With the same global batch and
seed, training therefore follows the one-process fit to float tolerance (the gradient is summed in another
order): tested in ``tests/test_distributed.py``. Exceptions: a VAE's noise and dropout masks are drawn per
rank, and the contrastive term's negatives come from a rank's share only; those train as well, but not to
the same numbers.

Only rank 0 writes the checkpoints and the model (atomically, as everywhere); every rank resumes from the
checkpoint, so a run whose rank was killed continues from its last epoch when ``torchrun`` (``--max-restarts``)
or the user starts it again.

Backends: gloo on the CPU, NCCL on GPUs (one per rank: ``LOCAL_RANK`` picks it).
"""
from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator

import numpy as np
import torch

# The communicator of the fit running in this context; the training loop reads it (None: one process).
_ACTIVE: contextvars.ContextVar[Communicator | None] = contextvars.ContextVar("seqae_communicator", default=None)


class Communicator:
    """This process's rank in the default process group, and the one all-reduce a training step needs."""

    def __init__(self):
        import torch.distributed as dist

        if not dist.is_initialized():
            raise RuntimeError("torch.distributed is not initialised; call init_distributed() first")
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()

    @property
    def writes(self) -> bool:
        """Whether this rank writes files (checkpoints, the model): rank 0 only."""
        return self.rank == 0

    def rows(self, batch_size: int) -> np.ndarray:
        """The positions of this rank's share of a global batch (contiguous, sizes differing by at most one)."""
        return np.array_split(np.arange(batch_size), self.world_size)[self.rank]

    def average(self, loss: torch.Tensor | None, n: int, params: list[torch.nn.Parameter]) -> tuple[float, int]:
        """Backward of this rank's share, then its gradient summed over ranks and divided by the batch's element
        count: every rank ends with the whole batch's mean gradient in ``params``' ``.grad``.

        Returns the whole batch's mean loss and element count. ``loss`` None: an empty share (a batch with
        fewer rows than ranks), which still takes part in the all-reduce.
        """
        import torch.distributed as dist

        if loss is not None:
            (loss * n).backward()     # the share's summed loss: summed over ranks it is the batch's
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        grads = [p.grad.reshape(-1) for p in params]
        share = loss.detach().reshape(1) * n if loss is not None else torch.zeros(1, device=grads[0].device)
        buffer = torch.cat(grads + [share.to(grads[0].dtype), torch.full((1,), float(n), dtype=grads[0].dtype,
                                                                          device=grads[0].device)])
        dist.all_reduce(buffer)
        total, count = buffer[-2], buffer[-1]
        offset = 0
        for p in params:
            k = p.numel()
            p.grad.copy_((buffer[offset:offset + k] / count).view_as(p.grad))
            offset += k
        return float(total / count), int(round(float(count)))

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()


def active() -> Communicator | None:
    """The communicator of the data-parallel fit running here, or None."""
    return _ACTIVE.get()


def init_distributed(backend: str | None = None) -> Communicator:
    """Join the process group ``torchrun`` describes (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ...), once.

    ``backend`` None: NCCL where CUDA is available (each rank on the GPU ``LOCAL_RANK``), else gloo.
    """
    import torch.distributed as dist

    if not dist.is_initialized():
        if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
            raise RuntimeError("no process group to join: run under torchrun (e.g. 'torchrun --nproc-per-node 2 "
                               "script.py', or 'seqae fit --distributed 2 ...'), which sets RANK and WORLD_SIZE")
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend=backend)
    return Communicator()


@contextlib.contextmanager
def data_parallel(comm: Communicator | None = None) -> Iterator[Communicator]:
    """Within this block, every fit trains data-parallel over the process group (see the module docstring)."""
    comm = comm or init_distributed()
    token = _ACTIVE.set(comm)
    try:
        yield comm
    finally:
        _ACTIVE.reset(token)


def fit_distributed(estimator, X, *, output: str | os.PathLike | None = None,
                    checkpoint: str | os.PathLike | None = None, **fit_params):
    """Fit ``estimator`` (an :class:`~seqae.LSTMAutoencoder` or a detector) data-parallel over the process group
    that ``torchrun`` started; every rank calls this with the same data and parameters.

    Each rank computes its share of every global batch (``batch_size`` stays the global batch); rank 0 writes
    ``checkpoint`` after every epoch and ``output`` (the fitted model) at the end, both atomically; every rank
    resumes from ``checkpoint`` when it exists (a restarted run). Returns the fitted estimator, identical on
    every rank.

    Examples
    --------
    A script ``train.py`` run as ``torchrun --nproc-per-node 2 train.py``:

    >>> from seqae import LSTMAutoencoder                                   # doctest: +SKIP
    >>> from seqae.training.distributed import fit_distributed             # doctest: +SKIP
    >>> ae = fit_distributed(LSTMAutoencoder(random_state=0), X, output="ae.seqae",
    ...                      checkpoint="ae.ckpt")                          # doctest: +SKIP
    """
    with data_parallel() as comm:
        estimator.fit(X, checkpoint=checkpoint, **fit_params)
        if output is not None and comm.writes:
            estimator.save(output)
        comm.barrier()        # the model file exists for every rank once fit_distributed returns
    return estimator
