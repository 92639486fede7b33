"""Embeddings projected to two dimensions for a picture (:func:`seqae.plotting.plot_embedding`): UMAP when asked
for or installed, else PCA."""
from __future__ import annotations

import importlib.util

import numpy as np

from seqae.exceptions import InputError

PROJECTIONS = ("auto", "pca", "umap")


def project_2d(Z: np.ndarray, method: str = "auto", random_state: int = 0) -> tuple[np.ndarray, str]:
    """(N, k) embeddings -> ((N, 2) points, how they were made, as an axis title).

    ``method`` "auto" uses UMAP when the ``umap`` package is installed and there are at least 20 points, else
    PCA; one- and two-dimensional embeddings are drawn as they are (unless UMAP is asked for).
    """
    if Z.shape[1] == 1:
        return np.column_stack([Z[:, 0], np.zeros(len(Z))]), "embedding (1-D)"
    if Z.shape[1] == 2 and method != "umap":
        return Z, "embedding"
    if method == "umap" or (method == "auto" and importlib.util.find_spec("umap") is not None and len(Z) >= 20):
        try:
            import umap  # optional dependency
        except ImportError:
            if method == "umap":
                raise InputError("method='umap' needs the umap-learn package (pip install umap-learn)") from None
        else:
            reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(Z) - 1), random_state=random_state)
            return np.asarray(reducer.fit_transform(Z)), "UMAP"                     # (N, 2)
    centred = Z - Z.mean(axis=0)
    # PCA by SVD; signs fixed so the picture does not flip between runs.
    u, sv, vt = np.linalg.svd(centred, full_matrices=False)
    signs = np.sign(vt[np.arange(2), np.argmax(np.abs(vt[:2]), axis=1)])
    signs[signs == 0] = 1
    proj = centred @ (vt[:2].T * signs)                                               # (N, 2)
    var = sv**2
    share = var[:2] / var.sum() if var.sum() > 0 else np.zeros(2)
    return proj, f"PCA ({share[0]:.0%} + {share[1]:.0%} of the variance)"
