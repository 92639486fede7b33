"""``ConcatPooling``: richer sequence embeddings from fitted :class:`~seqae.LSTMAutoencoder` models.

An autoencoder's latent code is a small bottleneck (``latent_dim``). For classification the encoder holds more
than that: its per-step outputs, pooled over each sequence's real steps in several ways (the last step, the mean,
the maximum), describe the sequence in ``hidden_size`` numbers each. ``ConcatPooling`` fits one or several
autoencoders without labels and concatenates, for each of them, the requested parts. Since issue #16 a single
``LSTMAutoencoder``'s ``transform`` does this by default, at several scales (``embedding="multiscale"``);
``ConcatPooling`` remains the way to combine several models.
"""
from __future__ import annotations

import os

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from seqae import persistence
from seqae.autoencoder import LSTMAutoencoder
from seqae.preprocessing.validation import check_sequences
from seqae.exceptions import InputError

__all__ = ["ConcatPooling"]

OUTPUTS = ("latent", "last", "mean", "max")


@persistence.register
class ConcatPooling(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Concatenate the latent code and pooled encoder outputs of one or several LSTM autoencoders.

    Padding is masked as in :class:`~seqae.LSTMAutoencoder`: every pooling sees a sequence's real steps only,
    so a sequence gets the same embedding whatever it is batched with.

    Parameters
    ----------
    autoencoders : list of LSTMAutoencoder, optional
        The models to fit (as clones, without labels); default one ``LSTMAutoencoder()``. Several models with
        different seeds or poolings give a larger, more stable embedding.
    outputs : tuple of {"latent", "last", "mean", "max"}, default ("latent", "last", "mean", "max")
        What each model contributes, in this order: "latent" is its ``latent_code`` (``latent_dim`` values);
        the others pool the per-step outputs of its encoder's top layer (``hidden_size`` values, twice that
        when bidirectional) over the real steps: "last" is the output at the last real step (for a backward
        direction: at step 0, where it has read the whole sequence), "mean" the average, "max" the maximum.

    Attributes
    ----------
    autoencoders_ : list of LSTMAutoencoder
        The fitted models.
    n_features_in_ : int
    n_output_features_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from seqae import LSTMAutoencoder
    >>> from seqae.embedding import ConcatPooling
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.standard_normal((n, 2)).astype(np.float32) for n in range(10, 30)]
    >>> cp = ConcatPooling([LSTMAutoencoder(hidden_size=8, latent_dim=3, epochs=1, random_state=0)]).fit(X)
    >>> cp.transform(X).shape  # 3 + 3 * 8
    (20, 27)
    >>> cp.save("pooling.seqae")                               # doctest: +SKIP
    """

    def __init__(self, autoencoders=None, outputs=OUTPUTS):
        self.autoencoders = autoencoders
        self.outputs = outputs

    def _check_params(self) -> list[LSTMAutoencoder]:
        models = [LSTMAutoencoder()] if self.autoencoders is None else list(self.autoencoders)
        if not models or not all(isinstance(m, LSTMAutoencoder) for m in models):
            raise InputError("autoencoders must be a non-empty list of LSTMAutoencoder")
        outputs = tuple(self.outputs) if not isinstance(self.outputs, str) else (self.outputs,)
        if not outputs or any(o not in OUTPUTS for o in outputs) or len(set(outputs)) != len(outputs):
            raise InputError(f"outputs must be distinct values from {OUTPUTS}, got {self.outputs!r}")
        return models

    def fit(self, X, y=None):
        """Fit every autoencoder on X (``y`` is ignored)."""
        models = self._check_params()
        self.autoencoders_ = [clone(m).fit(X) for m in models]
        self.n_features_in_ = self.autoencoders_[0].n_features_in_
        self.n_output_features_ = sum(self._width(m) for m in self.autoencoders_)
        return self

    def _width(self, ae: LSTMAutoencoder) -> int:
        pooled = ae.hidden_size * (2 if ae.bidirectional else 1)
        return sum(ae.latent_dim if o == "latent" else pooled for o in self.outputs)

    @property
    def _n_features_out(self) -> int:
        return self.n_output_features_

    def transform(self, X) -> np.ndarray:
        """Embed each sequence: (N, n_output_features_) float32."""
        check_is_fitted(self, "autoencoders_")
        sequences = check_sequences(X, n_features=self.n_features_in_).sequences
        return np.hstack([self._embed(ae, sequences) for ae in self.autoencoders_])

    def _embed(self, ae: LSTMAutoencoder, raw: list[np.ndarray]) -> np.ndarray:
        return ae.pooled_features(raw, self.outputs)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted models to one file (safetensors + JSON header), atomically."""
        persistence.save(self, path)

    def _get_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        # The ``autoencoders`` parameter holds estimators, which a file's parameter table cannot: each model's
        # parameters travel with its fitted state, and loading sets the parameter from them.
        check_is_fitted(self, "autoencoders_")
        doc = {"n_output_features_": self.n_output_features_, "autoencoders": []}
        tensors = {}
        for i, ae in enumerate(self.autoencoders_):
            ae_doc, ae_tensors = ae._get_state()
            doc["autoencoders"].append({"params": ae.get_params(deep=False), "state": ae_doc})
            tensors.update({f"ae{i}.{k}": v for k, v in ae_tensors.items()})
        return doc, tensors

    def _models_of(self, doc: dict) -> list[LSTMAutoencoder]:
        entries = doc.get("autoencoders")
        if not isinstance(entries, list) or not entries or not all(
                isinstance(e, dict) and isinstance(e.get("params"), dict) for e in entries):
            raise ValueError("no list of autoencoders")
        models = [LSTMAutoencoder(**e["params"]) for e in entries]
        for m in models:
            m._check_params()
        return models

    def _tensor_specs(self, doc: dict) -> dict:
        specs = {}
        for i, (ae, entry) in enumerate(zip(self._models_of(doc), doc["autoencoders"])):
            specs.update({f"ae{i}.{k}": v for k, v in ae._tensor_specs(entry.get("state") or {}).items()})
        return specs

    def _set_state(self, doc: dict, tensors: dict[str, torch.Tensor]) -> None:
        models = self._models_of(doc)
        for i, (ae, entry) in enumerate(zip(models, doc["autoencoders"])):
            prefix = f"ae{i}."
            ae._set_state(entry["state"], {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        if len({ae.n_features_in_ for ae in models}) != 1:
            raise ValueError("the autoencoders were fitted on different numbers of features")
        self.autoencoders = [LSTMAutoencoder(**ae.get_params(deep=False)) for ae in models]
        if isinstance(self.outputs, list):        # a tuple, saved as a JSON list
            self.outputs = tuple(self.outputs)
        self.autoencoders_ = models
        self.n_features_in_ = models[0].n_features_in_
        self.n_output_features_ = sum(self._width(m) for m in models)
        if self.n_output_features_ != int(doc["n_output_features_"]):
            raise ValueError("n_output_features_ does not match the autoencoders and outputs")
