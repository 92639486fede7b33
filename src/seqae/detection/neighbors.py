"""Distance to the nearest training embeddings: a sequence-level anomaly score (higher = more abnormal).

Why: a mean reconstruction error says how well the autoencoder redraws a sequence, which for short or simple
sequences of another class is often "well enough"; where the sequence lands among the training collection's
embeddings says whether anything like it was seen. PyOD's KNN detector scores the same way, on raw features;
here the features are :meth:`seqae.LSTMAutoencoder.transform`'s, standardised with the training statistics.

Shapes: reference (N, D), queries (M, D) -> (M,).
"""
from __future__ import annotations

import numpy as np

# Query rows per block of the distance matrix: bounds memory at block x N floats whatever M is.
_BLOCK = 1024


def standardiser(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of each embedding column (scale 1 where a column is constant)."""
    center = reference.mean(axis=0)
    scale = reference.std(axis=0)
    scale[~(scale > 0)] = 1.0
    return center, scale


def knn_distance(reference: np.ndarray, queries: np.ndarray, k: int, *, leave_one_out: bool = False) -> np.ndarray:
    """Mean Euclidean distance of each query to its ``k`` nearest reference rows.

    With ``leave_one_out`` the queries are the reference rows themselves, each scored without its own row (the
    training scores that set a threshold would otherwise all be 0 at ``k=1``).

    >>> ref = np.array([[0.0], [1.0], [10.0]])
    >>> knn_distance(ref, np.array([[0.5], [9.0]]), 1).tolist()
    [0.5, 1.0]
    >>> knn_distance(ref, ref, 1, leave_one_out=True).tolist()
    [1.0, 1.0, 9.0]
    """
    reference = np.asarray(reference, dtype=np.float64)
    queries = np.asarray(queries, dtype=np.float64)
    available = len(reference) - (1 if leave_one_out else 0)
    if not 1 <= k <= available:
        raise ValueError(f"n_neighbors={k} needs at least {k + (1 if leave_one_out else 0)} training sequences, "
                         f"got {len(reference)}; fit on more sequences or lower n_neighbors")
    ref_sq = (reference ** 2).sum(axis=1)                                        # (N,)
    out = np.empty(len(queries))
    for lo in range(0, len(queries), _BLOCK):
        q = queries[lo:lo + _BLOCK]                                              # (B, D)
        d2 = (q ** 2).sum(axis=1)[:, None] + ref_sq[None, :] - 2.0 * q @ reference.T   # (B, N)
        np.maximum(d2, 0.0, out=d2)  # rounding can leave -1e-12 for identical rows
        if leave_one_out:
            rows = np.arange(len(q))
            d2[rows, lo + rows] = np.inf
        nearest = np.partition(d2, k - 1, axis=1)[:, :k]                         # (B, k)
        out[lo:lo + len(q)] = np.sqrt(nearest).mean(axis=1)
    return out
