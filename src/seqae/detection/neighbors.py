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


def window_novelty(reference: np.ndarray, codes: np.ndarray, k: int, *, reference_starts: np.ndarray | None = None,
                   starts: np.ndarray | None = None, min_gap: int = 0) -> np.ndarray:
    """Mean Euclidean distance of each window's latent code to its ``k`` nearest reference codes, each row's bits
    independent of the other rows (a stream scores windows a few at a time and must match the batch).

    With ``starts`` (the windows' positions; the reference's in ``reference_starts``), reference windows that start
    fewer than ``min_gap`` points from a window are skipped: scoring the training windows themselves, a window and
    the ones overlapping it are the same stretch of the series, not evidence that it is common.

    Shapes: reference (R, Z), codes (M, Z) -> (M,) float64. Distances in float32, each pair summed on its own
    (``torch.cdist`` without the matrix-product shortcut, whose rounding depends on the batch): a stream's
    single window costs microseconds, where a product padded to a fixed shape would cost milliseconds.

    >>> ref = np.array([[0.0, 0.0], [3.0, 4.0]], np.float32)
    >>> window_novelty(ref, np.array([[0.0, 0.0], [3.0, 4.0]], np.float32), 1).tolist()
    [0.0, 0.0]
    >>> window_novelty(ref, ref, 1, reference_starts=np.array([0, 1]), starts=np.array([0, 1]), min_gap=1).tolist()
    [5.0, 5.0]
    """
    import torch

    ref = torch.from_numpy(np.ascontiguousarray(reference, dtype=np.float32))                # (R, Z)
    out = np.empty(len(codes))
    with torch.no_grad():
        for lo in range(0, len(codes), _BLOCK):
            q = torch.from_numpy(np.ascontiguousarray(codes[lo:lo + _BLOCK], dtype=np.float32))   # (B, Z)
            d = torch.cdist(q, ref, compute_mode="donot_use_mm_for_euclid_dist")                   # (B, R)
            kk = min(k, d.shape[1])
            candidates = d
            if starts is not None:
                near = torch.from_numpy(np.abs(starts[lo:lo + _BLOCK, None] - reference_starts[None, :]) < min_gap)
                candidates = d.masked_fill(near, float("inf"))
            nearest = torch.topk(candidates, kk, dim=1, largest=False).values                      # (B, kk)
            # a window with fewer than k others far enough (a short series) keeps its nearest of all
            short = ~torch.isfinite(nearest).all(dim=1)
            if short.any():
                nearest[short] = torch.topk(d[short], kk, dim=1, largest=False).values
            out[lo:lo + len(q)] = nearest.mean(dim=1).double().numpy()
    return out
