"""The training loop: Adam over length-grouped batches, gradient clipping, early stopping on a validation
set with the best weights restored, and no way to end with a model that outputs NaN.
"""
from __future__ import annotations

import copy
import math
import os
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from seqae._runtime import cyclic_gc_paused
from seqae.preprocessing.batching import length_grouped_batches, pad_sequences
from seqae.exceptions import InputError, ModelFileError, TrainingError
from seqae.nn.autoencoder import SequenceAutoencoder
from seqae.training import distributed
from seqae.training.adam import FlatAdam, TorchAdam
from seqae.training.budget import plan_budget
from seqae.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from seqae.training.flat import FlatParameters
from seqae.training.objectives import ObjectiveConfig, batch_loss


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int                   # upper bound on passes over the training set
    batch_size: int               # sequences per optimisation step
    learning_rate: float          # Adam step size
    patience: int | None          # epochs without validation improvement before stopping; None = never stop early
    clip_norm: float | None = 1.0  # max global gradient norm; LSTMs explode without it on long sequences
    beta: float = 1.0             # KL weight of the VAE (ignored otherwise)
    beta_warmup: int = 0          # epochs over which beta ramps linearly from ~0 (avoids posterior collapse)
    min_delta: float = 1e-4       # relative improvement that counts as one for early stopping
    verbose: bool = False         # progress bar over epochs
    max_batches_per_epoch: int | None = None  # cap on steps per epoch (random batches), for huge window sets
    min_steps: int | None = None  # floor on optimiser steps: more epochs are planned when `epochs` give fewer,
                                  # and early stopping waits for it (training/budget.py); None: the epoch rule
    lr_schedule: str = "constant"  # "constant" or "cosine" (decay over the planned steps)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)  # crops, masking, contrastive term


@dataclass
class TrainingResult:
    history: dict[str, list[float]] = field(default_factory=lambda: {"train_loss": [], "val_loss": []})
    best_epoch: int = -1          # 0-based epoch whose weights were kept
    best_loss: float = math.inf
    stop_reason: str = "max_epochs"  # "max_epochs" | "early_stopping" | "non_finite_loss" | "interrupted"
    seconds: float = 0.0


def _beta_at(cfg: TrainingConfig, epoch: int) -> float:
    if cfg.beta_warmup <= 0:
        return cfg.beta
    return cfg.beta * min(1.0, (epoch + 1) / cfg.beta_warmup)


def _improved(loss: float, best: float, min_delta: float) -> bool:
    """Better than ``best`` by a relative ``min_delta`` (any finite loss beats the initial ``inf``)."""
    if not math.isfinite(loss):
        return False
    return not math.isfinite(best) or loss < best - min_delta * abs(best)


def evaluate_loss(module: SequenceAutoencoder, seqs: list[np.ndarray], device: torch.device, beta: float,
                  batch_size: int = 256) -> float:
    """Mean loss per real element over a collection, in eval mode (no sampling, no teacher forcing)."""
    was_training = module.training
    module.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        for index in length_grouped_batches(lengths, batch_size):
            loss, n = batch_loss(module, seqs, index, device, beta)
            total += float(loss.detach()) * n
            count += n
    module.train(was_training)
    return total / count


def _state_copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _all_finite(tensors) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point())


def _restore_checkpoint(path, fingerprint: str, module: SequenceAutoencoder, optimizer: FlatAdam | TorchAdam,
                        rng: np.random.Generator) -> Checkpoint:
    """Load ``path`` into the module, the optimizer and the random generators; refuse another run's checkpoint."""
    ckpt = load_checkpoint(path)
    if ckpt.fingerprint != fingerprint:
        raise InputError(f"checkpoint {str(path)!r} belongs to another run (different parameters or "
                         "data); delete it or pass another path")
    try:
        expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        if {k: tuple(v.shape) for k, v in ckpt.best_state.items()} != expected:
            raise ValueError("its best weights do not match the model")
        if not _all_finite(ckpt.best_state.values()):
            raise ValueError("its best weights hold NaN or inf")
        if len(ckpt.history.get("train_loss", [])) != ckpt.epoch or not 0 <= ckpt.epoch:
            raise ValueError("its history does not match its epoch count")
        module.load_state_dict(ckpt.model_state)
        optimizer.load_state_dict(ckpt.optimizer_state)
        rng.bit_generator.state = ckpt.numpy_rng_state
        torch.set_rng_state(ckpt.torch_rng_state)
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise ModelFileError(f"checkpoint {str(path)!r} cannot be resumed: {str(exc).splitlines()[0][:300]}; "
                             "delete it to start afresh") from None
    return ckpt


def train_autoencoder(module: SequenceAutoencoder, train: list[np.ndarray], validation: list[np.ndarray] | None,
                      cfg: TrainingConfig, rng: np.random.Generator, device: torch.device,
                      checkpoint: str | os.PathLike | None = None, fingerprint: str = "") -> TrainingResult:
    """Train ``module`` in place; on return it holds the best weights seen and is in eval mode.

    The monitored loss is the validation loss when ``validation`` is given, else the training loss.
    A non-finite training or validation loss (or non-finite weights after an epoch) stops training and restores
    the best weights (a RuntimeWarning says so); if that happens before any epoch gave a finite loss,
    :class:`TrainingError` is raised. On ``KeyboardInterrupt`` the best weights are restored and
    ``stop_reason`` is ``"interrupted"``: the caller decides to re-raise.

    With ``checkpoint``, progress is saved atomically after every epoch, and an existing checkpoint with the
    same ``fingerprint`` is resumed, ending with the same weights as an uninterrupted run (a checkpoint of a
    run that had already stopped early resumes to the same stop).
    """
    started = time.perf_counter()
    # On the CPU the optimiser and the clipping see one flat tensor of all weights (training/flat.py), and run as
    # nine tensor operations (training/adam.py); the module's parameters are views into that tensor until
    # release() gives them their own storage back. Elsewhere torch's fused Adam (one kernel for all tensors).
    flat = FlatParameters(module.parameters()) if device.type == "cpu" else None
    try:
        if flat is not None:
            optimizer = FlatAdam(flat.param, lr=cfg.learning_rate, clip_norm=cfg.clip_norm)
        else:
            optimizer = TorchAdam(list(module.parameters()), lr=cfg.learning_rate, clip_norm=cfg.clip_norm,
                                  fused=device.type == "cuda")
        # Data-parallel (training/distributed.py): the gradient to average across processes, as one tensor here.
        params = [flat.param] if flat is not None else list(module.parameters())
        result = _train(module, train, validation, cfg, rng, device, checkpoint, fingerprint, optimizer, params)
    finally:
        if flat is not None:
            flat.release()
    result.seconds = time.perf_counter() - started
    return result


def _train(module: SequenceAutoencoder, train: list[np.ndarray], validation: list[np.ndarray] | None,
           cfg: TrainingConfig, rng: np.random.Generator, device: torch.device,
           checkpoint: str | os.PathLike | None, fingerprint: str, optimizer: FlatAdam | TorchAdam,
           params: list[torch.nn.Parameter]) -> TrainingResult:
    """train_autoencoder's epochs."""
    comm = distributed.active()    # None: one process
    result = TrainingResult()
    # (monitored loss, 0-based epoch, weights), replaced as one object so that an interrupt at any point
    # leaves the three consistent.
    best: tuple[float, int, dict[str, torch.Tensor]] = (math.inf, -1, _state_copy(module))
    wait, start_epoch = 0, 0
    lengths = np.fromiter((len(s) for s in train), dtype=np.int64, count=len(train))
    per_epoch = math.ceil(len(train) / cfg.batch_size)     # what length_grouped_batches makes of them
    if cfg.max_batches_per_epoch is not None:
        per_epoch = min(per_epoch, cfg.max_batches_per_epoch)
    budget = plan_budget(cfg.epochs, per_epoch, cfg.min_steps, cfg.lr_schedule)
    if checkpoint is not None and os.path.exists(checkpoint):
        ckpt = _restore_checkpoint(checkpoint, fingerprint, module, optimizer, rng)
        best = (ckpt.best_loss, ckpt.best_epoch, ckpt.best_state)
        wait, start_epoch = ckpt.wait, min(ckpt.epoch, budget.epochs)
        result.history = copy.deepcopy(ckpt.history)
        if (cfg.patience is not None and wait >= cfg.patience and budget.may_stop(start_epoch * per_epoch)
                and start_epoch < budget.epochs):    # as below: the last planned epoch ends with "max_epochs"
            # The checkpointed run had already stopped early (it was killed before returning): stop here too.
            result.stop_reason = "early_stopping"
            start_epoch = budget.epochs
    step = start_epoch * per_epoch       # optimiser steps done (every epoch but a non-finite one runs per_epoch)
    epochs = range(start_epoch, budget.epochs)
    bar = tqdm(epochs, desc="training", unit="epoch", disable=not cfg.verbose, leave=False)

    def stop_non_finite(what: str, epoch: int, hint: str) -> None:
        if best[1] < 0:
            raise TrainingError(f"the {what} became non-finite in epoch {epoch + 1} before any epoch gave a "
                                f"finite loss; {hint}")
        warnings.warn(f"{what} became non-finite in epoch {epoch + 1}; stopped and restored the weights of "
                      f"epoch {best[1] + 1}", RuntimeWarning, stacklevel=5)
        result.stop_reason = "non_finite_loss"

    try:
        for epoch in bar:
            module.train()
            beta = _beta_at(cfg, epoch)
            batches = length_grouped_batches(lengths, cfg.batch_size, rng)
            if cfg.max_batches_per_epoch is not None and len(batches) > cfg.max_batches_per_epoch:
                batches = batches[: cfg.max_batches_per_epoch]  # already in random order
            total, count, finite = 0.0, 0, True
            with cyclic_gc_paused():
                for index in batches:
                    if comm is None:
                        loss, n = batch_loss(module, train, index, device, beta, cfg.objective, rng)
                        if not torch.isfinite(loss):
                            finite = False
                            break
                        optimizer.zero_grad()
                        loss.backward()
                        loss = float(loss.detach())
                    else:
                        # This rank's rows of the global batch; the gradient is then the whole batch's on every rank.
                        optimizer.zero_grad()
                        rows = comm.rows(len(index))
                        share = batch_loss(module, train, index, device, beta, cfg.objective, rng, rows=rows) \
                            if len(rows) else (None, 0)
                        loss, n = comm.average(*share, params)
                        if not math.isfinite(loss):
                            finite = False
                            break
                    if budget.schedule != "constant":
                        optimizer.set_lr(budget.learning_rate(cfg.learning_rate, step))
                    optimizer.step()                       # clips the gradient first (cfg.clip_norm)
                    step += 1
                    total += loss * n
                    count += n
            train_loss = total / count if finite else math.nan
            if not math.isfinite(train_loss):
                stop_non_finite("training loss", epoch, "lower learning_rate or check the data's scale")
                break
            if not _all_finite(module.parameters()):
                # A finite loss, then a step to NaN weights (e.g. a non-finite gradient): never keep those.
                stop_non_finite("model weights", epoch, "lower learning_rate, or set clip_norm")
                break
            monitored = train_loss
            val_loss = math.nan
            if validation:
                val_loss = evaluate_loss(module, validation, device, cfg.beta)
                monitored = val_loss
                if not math.isfinite(val_loss):
                    stop_non_finite("validation loss", epoch, "check that validation_data is on the scale of the "
                                    "training data (values far outside its range overflow float32)")
                    break
            # History first: an interrupt in between then leaves best_epoch <= epochs run, never beyond.
            result.history["train_loss"].append(train_loss)
            result.history["val_loss"].append(val_loss if validation else None)  # None: JSON-safe "no value"
            if _improved(monitored, best[0], cfg.min_delta):
                best = (monitored, epoch, _state_copy(module))
                wait = 0
            else:
                wait += 1
            bar.set_postfix(train=f"{train_loss:.4g}", val=f"{val_loss:.4g}")
            if checkpoint is not None and (comm is None or comm.writes):   # one writer in data-parallel runs
                save_checkpoint(checkpoint, Checkpoint(
                    epoch=epoch + 1, model_state=_state_copy(module), best_state=best[2],
                    optimizer_state=optimizer.state_dict(), numpy_rng_state=rng.bit_generator.state,
                    torch_rng_state=torch.get_rng_state(), history=result.history, best_loss=best[0],
                    best_epoch=best[1], wait=wait, fingerprint=fingerprint))
            if (cfg.patience is not None and wait >= cfg.patience and budget.may_stop(step)
                    and epoch + 1 < budget.epochs):    # after the last planned epoch it is the budget that ended
                result.stop_reason = "early_stopping"
                break
    except KeyboardInterrupt:
        result.stop_reason = "interrupted"
        # An interrupt between the two appends would leave the lists of different lengths.
        done = min(len(v) for v in result.history.values())
        result.history = {k: v[:done] for k, v in result.history.items()}
    finally:
        bar.close()
    # The best epoch's weights; if interrupted inside the first epoch, the initial (finite) weights.
    result.best_loss, result.best_epoch, best_state = best
    module.load_state_dict(best_state)
    module.eval()
    return result
