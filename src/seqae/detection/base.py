"""What both detectors share: the autoencoder parameters they pass through, and thresholding (PyOD's contract)."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from seqae import persistence
from seqae._autoencoder_params import NAMES, check_autoencoder_params
from seqae._params import check_choice, check_float
from seqae.autoencoder import LSTMAutoencoder
from seqae.detection.probability import label_confidence, outlier_probability
from seqae.events import check_adaptive_params
from seqae.thresholds import THRESHOLD_METHODS, compute_threshold

THRESHOLDS = THRESHOLD_METHODS    # the registry itself, so that a rule registered later is accepted too
# Rules computed on the scores being labelled rather than once on the training scores (threshold_ then only
# labels the training data); their extra, non-threshold parameters are taken out of threshold_params here.
ADAPTIVE_THRESHOLDS = ("dynamic",)
# min_percent 0.05 (Hundman et al. used 0.13, Orion 0.1): chosen with z_min on the detection suite; rounds 3
# with Orion's 0.1 after the first round (seqae.events.adaptive_runs; the paper: one round) on the same suite,
# benchmarks/results/detection.md.
LABEL_PARAMS = {"dynamic": {"min_percent": 0.05, "rounds": 3, "later_min_percent": 0.1}}
# What a detector fitted before its file recorded these defaults labelled with: the paper's one round.
LEGACY_LABEL_PARAMS = {"dynamic": {"min_percent": 0.05, "rounds": 1, "later_min_percent": 0.1}}
# Every LSTMAutoencoder parameter is also a detector parameter of the same name and meaning.
AUTOENCODER_PARAMS = NAMES


class DetectorBase(BaseEstimator):
    """Shared mechanics; subclasses define ``__init__`` (explicit parameters, as scikit-learn requires: every
    autoencoder parameter, seqae._autoencoder_params, and their own), ``fit`` and ``decision_function``."""

    def _make_autoencoder(self) -> LSTMAutoencoder:
        """The autoencoder this detector trains: every autoencoder parameter passed on unchanged."""
        return LSTMAutoencoder(**{name: getattr(self, name) for name in AUTOENCODER_PARAMS})

    def _check_params(self) -> None:
        self._check_threshold_params()
        check_autoencoder_params(self)

    def _check_threshold_params(self) -> None:
        check_choice("threshold", self.threshold, THRESHOLDS)
        check_float("contamination", self.contamination, 0.0, 0.5, low_open=True)
        if self.threshold_params is not None and not isinstance(self.threshold_params, dict):
            raise ValueError(f"threshold_params must be a dict or None, got {self.threshold_params!r}")
        self._check_label_params()

    def _check_label_params(self) -> None:
        """The labelling parameters of an adaptive rule (``LABEL_PARAMS``), before any training."""
        if self.threshold in ADAPTIVE_THRESHOLDS:
            check_adaptive_params(**self._rule_params()[1])

    def _rule_params(self) -> tuple[dict, dict]:
        """(parameters of the threshold function, parameters of the labelling around it). The labelling's
        defaults are those the detector was fitted with (``label_params_``), so that a saved detector labels
        as it did when it was saved, whatever later versions make the default; LABEL_PARAMS before fitting."""
        params = dict(self.threshold_params or {})
        if self.threshold == "quantile":
            params.setdefault("contamination", self.contamination)
        extra = dict(getattr(self, "label_params_", LABEL_PARAMS).get(self.threshold, {}))
        for name in extra:
            if name in params:
                extra[name] = params.pop(name)
        return params, extra

    def _threshold_of(self, scores: np.ndarray) -> float:
        return float(compute_threshold(scores, self.threshold, **self._rule_params()[0]))

    def _label(self, scores: np.ndarray) -> np.ndarray:
        """0/1 labels of scores: above ``threshold_``, or for an adaptive rule above the threshold it
        computes on these scores."""
        threshold = self._threshold_of(scores) if self.threshold in ADAPTIVE_THRESHOLDS else self.threshold_
        return (scores > threshold).astype(np.int64)

    def _fit_threshold(self, scores: np.ndarray) -> None:
        """Set ``label_params_`` (today's labelling defaults), ``decision_scores_``, ``threshold_`` and ``labels_``
        from the training scores."""
        self.label_params_ = {rule: dict(params) for rule, params in LABEL_PARAMS.items()}
        self.decision_scores_ = np.asarray(scores, dtype=np.float64)
        self.threshold_ = self._threshold_of(self.decision_scores_)
        self.labels_ = self._label(self.decision_scores_)

    def predict(self, X) -> np.ndarray:
        """0/1 labels: 1 where the score exceeds ``threshold_`` (with ``threshold="dynamic"``: the threshold
        computed on the scores of ``X`` itself)."""
        check_is_fitted(self, "threshold_")
        return self._label(self.decision_function(X))

    def predict_proba(self, X, method: str = "linear", return_confidence: bool = False):
        """Probabilities of (normal, outlier) per score, ``(n, 2)``, from the training scores as PyOD computes them
        (``method`` "linear": min-max scaled; "unify": the Gaussian error function of the standardised score; see
        :func:`seqae.detection.probability.outlier_probability`). With ``return_confidence``, also
        :meth:`predict_confidence`'s values."""
        check_is_fitted(self, "threshold_")
        scores = self.decision_function(X)
        outlier = outlier_probability(self.decision_scores_, scores, method)
        proba = np.column_stack([1.0 - outlier, outlier])
        if return_confidence:
            return proba, self._confidence(scores)
        return proba

    def predict_confidence(self, X) -> np.ndarray:
        """Confidence in each 0/1 label of :meth:`predict`, in [0, 1] (ExCeeD, as PyOD; see
        :func:`seqae.detection.probability.label_confidence`). The expected share of outliers is the share of
        training scores above ``threshold_`` (at least one score)."""
        check_is_fitted(self, "threshold_")
        return self._confidence(self.decision_function(X))

    def _confidence(self, scores: np.ndarray) -> np.ndarray:
        train = self.decision_scores_
        share = max(float(np.mean(train > self.threshold_)), 1.0 / len(train))
        return label_confidence(train, scores, self._label(scores), share)

    def fit_predict(self, X, y=None) -> np.ndarray:
        """Fit, then return ``labels_`` (the training data's labels)."""
        return self.fit(X).labels_

    def save(self, path) -> None:
        """Write the fitted detector to one file (safetensors + JSON header), atomically."""
        persistence.save(self, path)

    def _tensor_specs(self, doc: dict) -> dict:
        """The autoencoder's tensors under "ae." and the training scores (any length)."""
        inner = doc.get("autoencoder")
        if not isinstance(inner, dict):
            raise ValueError("no autoencoder state")
        autoencoder = self._make_autoencoder()
        autoencoder._check_params()
        specs = {f"ae.{k}": v for k, v in autoencoder._tensor_specs(inner).items()}
        specs["decision_scores_"] = (None, torch.float64)
        return specs

    def _get_state(self):
        check_is_fitted(self, "threshold_")
        ae_doc, ae_tensors = self.autoencoder_._get_state()
        tensors = {f"ae.{k}": v for k, v in ae_tensors.items()}
        tensors["decision_scores_"] = torch.from_numpy(self.decision_scores_)
        doc = {"autoencoder": ae_doc, "threshold_": self.threshold_, "label_params_": self.label_params_,
               **self._extra_state()}
        return doc, tensors

    def _set_state(self, doc, tensors) -> None:
        ae = self._make_autoencoder()
        ae._set_state(doc["autoencoder"], {k[3:]: v for k, v in tensors.items() if k.startswith("ae.")})
        scores = tensors["decision_scores_"].numpy().astype(np.float64)
        if scores.ndim != 1 or not np.isfinite(scores).all():
            raise ValueError("decision_scores_ must be a finite 1-D array")
        self.autoencoder_ = ae
        self.n_features_in_ = ae.n_features_in_
        self.threshold_ = float(doc["threshold_"])
        self.decision_scores_ = scores
        self.label_params_ = _checked_label_params(doc.get("label_params_", LEGACY_LABEL_PARAMS))
        self._set_extra_state(doc)
        self.labels_ = self._label(scores)

    def _extra_state(self) -> dict:
        return {}

    def _set_extra_state(self, doc: dict) -> None:
        pass


def _checked_label_params(saved) -> dict:
    """A file's labelling defaults, {rule: {name: value}}, each rule's checked as the rule checks them."""
    if not isinstance(saved, dict) or not all(isinstance(p, dict) for p in saved.values()):
        raise ValueError("label_params_ must map each rule to its parameters")
    for params in saved.values():
        check_adaptive_params(**params)
    return {str(rule): dict(params) for rule, params in saved.items()}
