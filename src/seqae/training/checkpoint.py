"""Training checkpoints: everything needed to resume a run bit for bit, in the same safe file format as models.

A checkpoint holds the current and the best weights, the Adam state, the numpy and torch random states,
the history and the early-stopping counters. ``fingerprint`` ties it to one configuration and one dataset,
so a checkpoint is never resumed into a different run.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from seqae.exceptions import ModelFileError
from seqae.tensorfile import load_tensor_file, save_tensor_file

CHECKPOINT_FORMAT = "seqae-checkpoint"
CHECKPOINT_VERSION = 1


@dataclass
class Checkpoint:
    epoch: int                      # epochs completed
    model_state: dict[str, torch.Tensor]
    best_state: dict[str, torch.Tensor]
    optimizer_state: dict
    numpy_rng_state: dict
    torch_rng_state: torch.Tensor
    history: dict[str, list[float]]
    best_loss: float
    best_epoch: int
    wait: int                       # epochs since the last improvement
    fingerprint: str


def _flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, scalars = {}, {}
    for pid, slots in state["state"].items():
        for name, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"optim.{pid}.{name}"] = value
            else:
                scalars[f"{pid}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], doc: dict) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = value
    for key, value in doc["scalars"].items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    return {"state": state, "param_groups": doc["param_groups"]}


def _finite_or_none(value):
    """JSON has no inf or NaN: non-finite floats are stored as None (read back as inf for losses)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_checkpoint(path: str | os.PathLike, ckpt: Checkpoint) -> None:
    optim_tensors, optim_doc = _flatten_optimizer(ckpt.optimizer_state)
    tensors = {f"model.{k}": v for k, v in ckpt.model_state.items()}
    tensors.update({f"best.{k}": v for k, v in ckpt.best_state.items()})
    tensors.update(optim_tensors)
    tensors["rng.torch"] = ckpt.torch_rng_state
    doc = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "epoch": ckpt.epoch,
           "optimizer": optim_doc, "numpy_rng_state": ckpt.numpy_rng_state,
           "history": {k: [_finite_or_none(v) for v in values] for k, values in ckpt.history.items()},
           "best_loss": _finite_or_none(ckpt.best_loss), "best_epoch": ckpt.best_epoch, "wait": ckpt.wait,
           "fingerprint": ckpt.fingerprint}
    save_tensor_file(path, tensors, doc)


def _check_document(where: str):
    def check(doc: dict) -> None:
        if doc.get("format") != CHECKPOINT_FORMAT or doc.get("format_version") != CHECKPOINT_VERSION:
            raise ModelFileError(f"{where!r} is not a seqae checkpoint of version {CHECKPOINT_VERSION} "
                                 f"(format {doc.get('format')!r}, version {doc.get('format_version')!r})")
    return check


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint; raises :class:`ModelFileError` for anything but a complete, intact one."""
    where = str(Path(path))
    tensors, doc = load_tensor_file(path, what="seqae checkpoint", check_document=_check_document(where))
    try:
        history = doc["history"]
        if not (isinstance(history, dict) and all(isinstance(v, list) for v in history.values())):
            raise TypeError("history is not a table of lists")
        if not isinstance(doc["numpy_rng_state"], dict):
            raise TypeError("numpy_rng_state is not a JSON object")
        return Checkpoint(
            epoch=int(doc["epoch"]),
            model_state={k[6:]: v for k, v in tensors.items() if k.startswith("model.")},
            best_state={k[5:]: v for k, v in tensors.items() if k.startswith("best.")},
            optimizer_state=_unflatten_optimizer({k: v for k, v in tensors.items() if k.startswith("optim.")},
                                                 doc["optimizer"]),
            numpy_rng_state=doc["numpy_rng_state"], torch_rng_state=tensors["rng.torch"],
            history=history, best_loss=math.inf if doc["best_loss"] is None else float(doc["best_loss"]),
            best_epoch=int(doc["best_epoch"]), wait=int(doc["wait"]), fingerprint=str(doc["fingerprint"]))
    except (KeyError, ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise ModelFileError(f"{str(Path(path))!r}: incomplete checkpoint ({exc})") from None
