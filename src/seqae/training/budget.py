"""The training budget counted in optimiser steps, and the learning-rate schedule over it.

Why: an epoch rule ("up to 100 epochs, stop after 10 without improvement") gives a collection of 36 sequences
200 optimiser steps at most and judges early stopping on 4 held-out sequences, which is noise. With a floor
``min_steps`` every collection gets at least that many steps; a validation split too small to judge anything
is not made (the whole collection trains, the training loss is monitored), and early stopping cannot end
training before the floor. Large collections keep the epoch rule: their ``epochs`` x batches already exceed
the floor, so they train as long as before.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

SCHEDULES = ("constant", "cosine")

# Fewer held-out sequences than this cannot rank epochs (the loss of 4 sequences swings more between epochs than
# training improves it), so with a step budget such a split is not made and the training loss is monitored.
MIN_VALIDATION_SEQUENCES = 32


@dataclass(frozen=True)
class StepBudget:
    epochs: int                  # epochs to plan for (>= the estimator's epochs when the floor needs more)
    batches_per_epoch: int       # optimiser steps per epoch
    min_steps: int | None        # no early stop before this many steps; None: the epoch rule alone
    schedule: str = "constant"   # "constant" or "cosine" decay over epochs * batches_per_epoch steps
    final_fraction: float = 0.05  # cosine ends at this share of the initial learning rate, not at 0, so the
                                  # last epochs still move the weights

    @property
    def total_steps(self) -> int:
        return self.epochs * self.batches_per_epoch

    def learning_rate(self, base: float, step: int) -> float:
        """The learning rate of optimiser step ``step`` (0-based)."""
        if self.schedule == "constant":
            return base
        progress = min(1.0, step / max(1, self.total_steps))
        return base * (self.final_fraction + (1 - self.final_fraction) * 0.5 * (1 + math.cos(math.pi * progress)))

    def may_stop(self, steps_done: int) -> bool:
        """Whether early stopping may end training after ``steps_done`` steps."""
        return self.min_steps is None or steps_done >= self.min_steps


def plan_budget(epochs: int, batches_per_epoch: int, min_steps: int | None, schedule: str) -> StepBudget:
    """Plan ``max(epochs, ceil(min_steps / batches_per_epoch))`` epochs (``epochs`` when ``min_steps`` is None)."""
    if min_steps is not None:
        epochs = max(epochs, math.ceil(min_steps / max(1, batches_per_epoch)))
    return StepBudget(epochs=epochs, batches_per_epoch=batches_per_epoch, min_steps=min_steps, schedule=schedule)


def keep_validation_split(n_validation: int, min_steps: int | None) -> bool:
    """Whether a random validation split of ``n_validation`` sequences is worth making."""
    return min_steps is None or n_validation >= MIN_VALIDATION_SEQUENCES
