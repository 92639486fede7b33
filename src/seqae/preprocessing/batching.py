"""Padding and length-grouped batching.

Grouping sequences of similar length into one batch means each batch is padded only to its own longest
sequence, so the cost of an epoch follows the real number of steps instead of N x the longest length.
(On CPU this beat ``pack_padded_sequence``, which was several times slower at these sizes; see issue #5.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class PaddedBatch:
    """A zero-padded batch.

    Attributes
    ----------
    x : Tensor (N, T, F)
        Sequences padded with zeros after their last real step; T is the batch's longest length.
    lengths : Tensor (N,) int64, on the CPU
        Real lengths.
    index : ndarray (N,)
        Positions of these sequences in the collection they came from.
    """

    x: torch.Tensor
    lengths: torch.Tensor
    index: np.ndarray

    def to(self, device: torch.device) -> "PaddedBatch":
        return PaddedBatch(self.x.to(device, non_blocking=True), self.lengths, self.index)


def collection_lengths(sequences: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """Lengths (N,) int64 of a list of ``(T_i, F)`` arrays, or of one ``(N, T, F)`` array (all T)."""
    if isinstance(sequences, np.ndarray):
        return np.full(len(sequences), sequences.shape[1], dtype=np.int64)
    return np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))


def pad_sequences(sequences: list[np.ndarray] | np.ndarray, index: np.ndarray | None = None) -> PaddedBatch:
    """Stack ``(T_i, F)`` arrays into one zero-padded ``(N, T_max, F)`` float32 tensor.

    ``sequences`` may also be one ``(N, T, F)`` array (equal lengths): its rows ``index`` are taken in one copy.

    Examples
    --------
    >>> import numpy as np
    >>> b = pad_sequences([np.ones((3, 2), np.float32), np.ones((1, 2), np.float32)])
    >>> tuple(b.x.shape), b.lengths.tolist()
    ((2, 3, 2), [3, 1])
    """
    if index is None:
        index = np.arange(len(sequences))
    if isinstance(sequences, np.ndarray):
        x = np.take(sequences, index, axis=0).astype(np.float32, copy=False)          # (N, T, F)
        lengths = np.full(len(index), sequences.shape[1], dtype=np.int64)
        return PaddedBatch(torch.from_numpy(x), torch.from_numpy(lengths), np.asarray(index))
    chosen = [sequences[i] for i in index]
    lengths = np.fromiter((len(s) for s in chosen), dtype=np.int64, count=len(chosen))
    n_features = chosen[0].shape[1]
    if lengths.min() == lengths.max():
        out = np.stack(chosen).astype(np.float32, copy=False)  # nothing to pad: one C loop
    else:
        out = np.zeros((len(chosen), int(lengths.max()), n_features), dtype=np.float32)
        for row, s in enumerate(chosen):
            out[row, : len(s)] = s
    return PaddedBatch(torch.from_numpy(out), torch.from_numpy(lengths), np.asarray(index))


def length_grouped_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None = None,
                           max_steps: int | None = None) -> list[np.ndarray]:
    """Split indices into batches of sequences of similar length.

    With ``rng`` (training) the order within equal lengths and the order of the batches are shuffled, so each
    epoch sees different neighbours; without it (inference) the split is deterministic.

    Parameters
    ----------
    lengths : ndarray (N,)
        Sequence lengths.
    batch_size : int
        Sequences per batch (the last batch of a length group may be smaller).
    rng : numpy Generator, optional
        Shuffles for training.
    max_steps : int, optional
        Inference only: cap on ``batch rows x padded length`` so that large batches of long sequences
        do not exhaust memory; batches of short sequences then hold more rows.

    Returns
    -------
    list of ndarray of int
    """
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
    else:
        # Sort by length with random tie-breaking: shuffled within each length, grouped across lengths.
        order = np.lexsort((rng.permutation(n), lengths))
    if max_steps is None:
        batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    else:
        batches, start = [], 0
        sorted_lengths = np.asarray(lengths)[order]
        while start < n:
            # Sorted ascending, so a batch of its next k sequences is padded to the k-th: take the largest k
            # (at least 1) with k * that length <= max_steps. k * length grows with k, so the fits come first.
            k = np.arange(1, min(batch_size, n - start) + 1)
            fits = k * sorted_lengths[start:start + len(k)] <= max_steps
            stop = start + max(1, int(fits.sum()))
            batches.append(order[start:stop])
            start = stop
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches
