"""Sequence-level anomaly detection: one score per sequence of a collection (lengths may differ)."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from seqae import persistence
from seqae._autoencoder_params import documented, set_autoencoder_params
from seqae._params import check_choice, check_int
from seqae.detection.base import DetectorBase
from seqae.detection.neighbors import knn_distance, standardiser

SCORES = ("neighbors", "reconstruction")


@persistence.register
@documented
class SequenceAnomalyDetector(DetectorBase):
    """Scores whole sequences: distance of their embedding to the nearest training embeddings, or their mean
    reconstruction error (higher = more abnormal).

    Parameters
    ----------
    contamination : float, default=0.05
        Expected share of anomalies in the training collection; sets ``threshold_`` with ``threshold="quantile"``.
    threshold : {"quantile", "sigma", "pot"}, default="quantile"
        See :mod:`seqae.thresholds`.
    threshold_params : dict, optional
        Extra arguments of the threshold function (``k`` for "sigma"; ``q``, ``level`` for "pot").
    score : {"neighbors", "reconstruction"}, default="neighbors"
        "neighbors": mean Euclidean distance of the sequence's embedding (:meth:`LSTMAutoencoder.transform`,
        standardised with the training embeddings' statistics) to its ``n_neighbors`` nearest training
        embeddings; a training sequence is scored without itself. "reconstruction": the mean squared
        reconstruction error over its real steps (the only score of earlier versions: files saved before
        ``score`` existed load with it).
        "neighbors" keeps the training embeddings in the fitted detector and its file: N x 704 float64 values
        with the default embedding, 56 MB for 10,000 training sequences.
    n_neighbors : int, default=2
        Neighbours averaged by ``score="neighbors"``; the training collection needs more sequences than this.
        Two rather than one: on the five UEA sets (seeds 0-2, ``benchmarks/results/uea_anomaly.md``) mean ROC-AUC
        0.873 against 0.874 for one neighbour, above IsolationForest on the raw values on every set (ArrowHead
        0.766 against 0.756, where one neighbour gave 0.750; GunPoint 0.817 against 0.848 for one neighbour):
        one odd training sequence no longer makes its neighbourhood look normal.
    **autoencoder parameters
        Every :class:`~seqae.LSTMAutoencoder` parameter, same names and defaults: the step budget
        (``min_steps=1000``, cosine learning rate; a class of 10-25 sequences otherwise stops training before it
        learns anything), crops and masked steps, and the multi-scale embedding that ``score="neighbors"``
        measures. Mean ROC-AUC over classes (one class normal, the others anomalous) and the choice of the
        default: ``benchmarks/results/uea_anomaly.md``.
    <autoencoder parameters>

    Attributes
    ----------
    autoencoder_ : LSTMAutoencoder
    decision_scores_ : ndarray (N,)
        Scores of the training sequences.
    threshold_ : float
    labels_ : ndarray (N,) of 0/1
    label_params_ : dict
        The labelling defaults of the adaptive rules when it was fitted (``threshold_params`` overrides them), kept
        in saved files so that a detector labels as it did when saved.

    Examples
    --------
    >>> from seqae import SequenceAnomalyDetector
    >>> from seqae.datasets import make_sine_collection
    >>> X = make_sine_collection(60, random_state=0)
    >>> det = SequenceAnomalyDetector(hidden_size=16, latent_dim=4, epochs=2, random_state=0).fit(X)
    >>> det.predict(X).shape
    (60,)
    """

    # What a file saved before ``score`` existed was fitted to do.
    _legacy_params = {"score": "reconstruction", "n_neighbors": 1}

    def __init__(self, *, contamination=0.05, threshold="quantile", threshold_params=None, score="neighbors",
                 n_neighbors=2, hidden_size=64, decoder_hidden_size=None,
                 latent_dim=64, num_layers=1, bidirectional=False, dropout=0.0, variational=False, beta=1.0,
                 beta_warmup=0, pooling="last", decoder="repeat", forecast=False, epochs=100, batch_size=32,
                 learning_rate=1e-3, validation_fraction=0.1, patience=10, clip_norm=1.0, max_batches_per_epoch=None,
                 min_steps=1000, lr_schedule="cosine", min_crop=0.5, mask_fraction=0.25, contrastive_weight=0.0,
                 embedding="multiscale", random_state=None,
                 device="auto", num_threads="auto", verbose=False):
        self.contamination = contamination
        self.threshold = threshold
        self.threshold_params = threshold_params
        self.score = score
        self.n_neighbors = n_neighbors
        set_autoencoder_params(self, locals())

    def fit(self, X, y=None, *, checkpoint=None):
        """Fit on a collection (ndarray (N, T, F) / (N, T) or list of (T_i, F) / (T_i,)); returns self."""
        self._check_params()
        check_choice("score", self.score, SCORES)
        check_int("n_neighbors", self.n_neighbors, 1)
        if self.score == "neighbors" and len(X) <= self.n_neighbors:
            raise ValueError(f"score='neighbors' with n_neighbors={self.n_neighbors} needs more than "
                             f"{self.n_neighbors} training sequences, got {len(X)}; fit on more sequences, lower "
                             "n_neighbors, or use score='reconstruction'")
        ae = self._make_autoencoder().fit(X, checkpoint=checkpoint)
        self.autoencoder_ = ae
        self.n_features_in_ = ae.n_features_in_
        if self.score == "neighbors":
            embeddings = ae.transform(X).astype(np.float64)                    # (N, D)
            self.embedding_center_, self.embedding_scale_ = standardiser(embeddings)
            self.reference_embeddings_ = self._standardised(embeddings)
            self._fit_threshold(knn_distance(self.reference_embeddings_, self.reference_embeddings_,
                                             self.n_neighbors, leave_one_out=True))
        else:
            self._fit_threshold(ae.reconstruction_error(X))
        return self

    def decision_function(self, X) -> np.ndarray:
        """(N,) score of each sequence (see ``score``); higher = more abnormal."""
        check_is_fitted(self, "autoencoder_")
        if self.score == "neighbors":
            queries = self._standardised(self.autoencoder_.transform(X))
            return knn_distance(self.reference_embeddings_, queries, self.n_neighbors)
        return self.autoencoder_.reconstruction_error(X).astype(np.float64)

    def _standardised(self, embeddings: np.ndarray) -> np.ndarray:
        return (embeddings.astype(np.float64) - self.embedding_center_) / self.embedding_scale_

    # The training embeddings (flattened: the format's free-length tensors are 1-D) and their statistics are
    # saved beside the autoencoder, as float64 tensors.
    _NEIGHBOR_STATE = ("reference_embeddings_", "embedding_center_", "embedding_scale_")

    def _tensor_specs(self, doc: dict) -> dict:
        specs = super()._tensor_specs(doc)
        if self.score == "neighbors":
            specs.update({name: (None, torch.float64) for name in self._NEIGHBOR_STATE})
        return specs

    def _get_state(self):
        doc, tensors = super()._get_state()
        if self.score == "neighbors":
            tensors.update({name: torch.from_numpy(np.ascontiguousarray(getattr(self, name)).reshape(-1))
                            for name in self._NEIGHBOR_STATE})
        return doc, tensors

    def _set_state(self, doc, tensors) -> None:
        if self.score == "neighbors":
            values = {name: tensors[name].numpy().astype(np.float64) for name in self._NEIGHBOR_STATE}
            width = len(values["embedding_center_"])
            reference = values["reference_embeddings_"]
            if (width == 0 or reference.size % width or len(values["embedding_scale_"]) != width
                    or not all(np.isfinite(v).all() for v in values.values())):
                raise ValueError("the saved training embeddings do not fit together")
            values["reference_embeddings_"] = reference.reshape(-1, width)
            for name, value in values.items():
                setattr(self, name, value)
        super()._set_state(doc, tensors)
