"""Training checkpoints: everything needed to resume a run bit for bit, in the same safe file format as models.

A checkpoint holds the current and the best weights, the Adam state, the numpy and torch random states,
the history and the early-stopping counters. ``fingerprint`` ties it to one configuration and one dataset,
so a checkpoint is never resumed into a different run.
"""
from __future__ import annotations

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


def save_checkpoint(path: str | os.PathLike, ckpt: Checkpoint) -> None:
    optim_tensors, optim_doc = _flatten_optimizer(ckpt.optimizer_state)
    tensors = {f"model.{k}": v for k, v in ckpt.model_state.items()}
    tensors.update({f"best.{k}": v for k, v in ckpt.best_state.items()})
    tensors.update(optim_tensors)
    tensors["rng.torch"] = ckpt.torch_rng_state
    doc = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "epoch": ckpt.epoch,
           "optimizer": optim_doc, "numpy_rng_state": ckpt.numpy_rng_state, "history": ckpt.history,
           "best_loss": ckpt.best_loss, "best_epoch": ckpt.best_epoch, "wait": ckpt.wait,
           "fingerprint": ckpt.fingerprint}
    save_tensor_file(path, tensors, doc)


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    tensors, doc = load_tensor_file(path, what="seqae checkpoint")
    if doc.get("format") != CHECKPOINT_FORMAT or doc.get("format_version") != CHECKPOINT_VERSION:
        raise ModelFileError(f"{str(Path(path))!r} is not a seqae checkpoint of version {CHECKPOINT_VERSION}")
    try:
        return Checkpoint(
            epoch=int(doc["epoch"]),
            model_state={k[6:]: v for k, v in tensors.items() if k.startswith("model.")},
            best_state={k[5:]: v for k, v in tensors.items() if k.startswith("best.")},
            optimizer_state=_unflatten_optimizer({k: v for k, v in tensors.items() if k.startswith("optim.")},
                                                 doc["optimizer"]),
            numpy_rng_state=doc["numpy_rng_state"], torch_rng_state=tensors["rng.torch"],
            history=doc["history"], best_loss=float(doc["best_loss"]), best_epoch=int(doc["best_epoch"]),
            wait=int(doc["wait"]), fingerprint=str(doc["fingerprint"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelFileError(f"{str(Path(path))!r}: incomplete checkpoint ({exc})") from None
