"""``LSTMAutoencoder``: the scikit-learn estimator around :class:`seqae.nn.SequenceAutoencoder`.

Input -> validated sequences -> standardised -> length-grouped padded batches -> module -> per-sequence results.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from seqae import persistence
from seqae._autoencoder_params import EMBEDDINGS  # noqa: F401 (re-exported: seqae.autoencoder.EMBEDDINGS)
from seqae._autoencoder_params import check_autoencoder_params, documented, set_autoencoder_params
from seqae._params import make_rng, resolve_device
from seqae._runtime import recurrent_step_work, scoring_pass, torch_threads
from seqae.preprocessing.batching import PaddedBatch, collection_lengths, pad_sequences
from seqae.preprocessing.scaling import FeatureScaler
from seqae.preprocessing.validation import SequenceInput, check_sequences
from seqae.nn.autoencoder import AutoencoderConfig, AutoencoderOutput, SequenceAutoencoder
from seqae.nn.encoder import masked_pool
from seqae.nn.fused_lstm import lstm_path
from seqae.nn.losses import forecast_squared_error, per_step_squared_error
from seqae.nn.readout import multiscale_pool, pooled_width
from seqae.training.budget import keep_validation_split
from seqae.training.loop import TrainingConfig, train_autoencoder
from seqae.training.objectives import ObjectiveConfig

# The values of the parameters added in issue #16 that reproduce the models saved before it: a file that lacks
# them is loaded with these, not with today's defaults (seqae.persistence).
PARAMS_BEFORE_ISSUE_16 = dict(latent_dim=16, min_steps=None, lr_schedule="constant", min_crop=1.0,
                              mask_fraction=0.0, contrastive_weight=0.0, embedding="latent")


@persistence.register
@documented
class LSTMAutoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """LSTM autoencoder for collections of variable-length multivariate sequences.

    Padding is masked everywhere: in the encoder (the backward direction and the pooling see real steps only),
    in the loss, and in the scores, so a sequence gets the same embedding and error whatever it is batched with
    (to float rounding, ~1e-7: matrix kernels may sum in a different order for a different batch shape).

    Parameters
    ----------
    <autoencoder parameters>

    Attributes
    ----------
    module_ : SequenceAutoencoder
    scaler_ : FeatureScaler
        Per-feature mean and scale learned in ``fit``.
    n_features_in_ : int
    history_ : dict
        ``train_loss`` and ``val_loss`` per epoch (loss per real element, in standardised units).
    best_epoch_ : int
        1-based epoch whose weights were kept.
    n_epochs_ : int
        Epochs run.
    stop_reason_ : str
        "max_epochs", "early_stopping", "non_finite_loss" or "interrupted".
    lstm_path_ : str
        The LSTM path the model trained on: "fused AVX-512 kernels", "fused portable kernels", "nn.LSTM" (a GPU, a
        bidirectional model, or kernels that could not be built: ``seqae info`` says why) or "mixed (...)".
    readout_std_ : bool
        Whether ``embedding="multiscale"`` includes each unit's standard deviation: True for every fit since it
        was added; a file saved before loads False and embeds as it did.

    Notes
    -----
    Reconstruction errors are computed in standardised units (each feature divided by its training standard
    deviation), so features measured in large units do not dominate the score.

    Examples
    --------
    >>> import numpy as np
    >>> from seqae import LSTMAutoencoder
    >>> rng = np.random.default_rng(0)
    >>> X = [np.sin(np.linspace(0, 6, n))[:, None] + 0.05 * rng.standard_normal((n, 1)) for n in range(20, 40)]
    >>> ae = LSTMAutoencoder(hidden_size=16, latent_dim=4, epochs=2, random_state=0).fit(X)
    >>> ae.transform(X).shape          # the code (4), then 10 poolings of the 16 encoder units
    (20, 164)
    >>> ae.latent_code(X).shape
    (20, 4)
    """

    _legacy_params = PARAMS_BEFORE_ISSUE_16   # what a file saved before issue #16 was fitted with

    def __init__(self, *, hidden_size=64, decoder_hidden_size=None, latent_dim=64, num_layers=1, bidirectional=False,
                 dropout=0.0, variational=False, beta=1.0, beta_warmup=0, pooling="last", decoder="repeat",
                 forecast=False, epochs=100, batch_size=32, learning_rate=1e-3, validation_fraction=0.1, patience=10,
                 clip_norm=1.0, max_batches_per_epoch=None, min_steps=1000, lr_schedule="cosine", min_crop=0.5,
                 mask_fraction=0.25, contrastive_weight=0.0, embedding="multiscale", random_state=None,
                 device="auto", num_threads="auto", verbose=False):
        set_autoencoder_params(self, locals())

    # ------------------------------------------------------------------ parameters
    def _check_params(self) -> None:
        check_autoencoder_params(self)

    def _module_config(self, n_features: int) -> AutoencoderConfig:
        return AutoencoderConfig(n_features=n_features, hidden_size=self.hidden_size,
                                 decoder_hidden_size=self.decoder_hidden_size, latent_dim=self.latent_dim,
                                 num_layers=self.num_layers, bidirectional=bool(self.bidirectional),
                                 dropout=float(self.dropout), variational=bool(self.variational),
                                 pooling=self.pooling, decoder=self.decoder, forecast=bool(self.forecast))

    @property
    def _n_features_out(self) -> int:
        if self.embedding == "latent":
            return self.latent_dim
        pooled = self.hidden_size * (2 if self.bidirectional else 1)
        if self.embedding == "pooled":
            return self.latent_dim + 3 * pooled
        return self.latent_dim + self.num_layers * pooled_width(pooled, getattr(self, "readout_std_", True))

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, validation_data=None, checkpoint: str | os.PathLike | None = None):
        """Fit the autoencoder.

        Parameters
        ----------
        X : ndarray (N, T, F) or (N, T), or list of arrays (T_i, F) or (T_i,)
        y : ignored
            Present for scikit-learn pipelines.
        validation_data : same forms as X, optional
            Held-out sequences for early stopping instead of a random ``validation_fraction`` split (use it
            when sequences overlap, e.g. sliding windows, where a random split would leak).
        checkpoint : path, optional
            Save progress there after every epoch; if the file exists and belongs to the same run
            (parameters, data, seed), training resumes from it.

        Returns
        -------
        self

        Raises
        ------
        InputError
            Invalid X (see :func:`seqae.preprocessing.check_sequences`).
        TrainingError
            The training or validation loss was non-finite before any epoch gave a finite loss.
        KeyboardInterrupt
            Re-raised after the estimator has been left fitted with the best weights so far.
        """
        self._check_params()
        data = check_sequences(X)
        rng = make_rng(self.random_state)
        device = resolve_device(self.device)
        scaler = FeatureScaler.fit(data.sequences)
        sequences = scaler.transform(data.sequences)
        if validation_data is not None:
            val = scaler.transform(check_sequences(validation_data, n_features=data.n_features).sequences)
            train = sequences
        else:
            train, val = self._split(sequences, rng)
        cfg = TrainingConfig(epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
                             patience=self.patience, clip_norm=self.clip_norm, beta=self.beta,
                             beta_warmup=self.beta_warmup, verbose=bool(self.verbose),
                             max_batches_per_epoch=self.max_batches_per_epoch, min_steps=self.min_steps,
                             lr_schedule=self.lr_schedule,
                             objective=ObjectiveConfig(min_crop=float(self.min_crop),
                                                       mask_fraction=float(self.mask_fraction),
                                                       contrastive_weight=float(self.contrastive_weight)))
        fingerprint = self._fingerprint(sequences, val) if checkpoint is not None else ""
        torch_seed = int(rng.integers(2**63 - 1))
        # fork_rng: the torch seed below is local to this fit; the user's global torch RNG is left as it was.
        cuda = [device.index or 0] if device.type == "cuda" else []
        config = self._module_config(data.n_features)
        step_work = recurrent_step_work(self.batch_size, (config.hidden_size, config.decoder_units))
        with torch.random.fork_rng(devices=cuda), torch_threads(self.num_threads, device, step_work=step_work):
            torch.manual_seed(torch_seed)
            module = SequenceAutoencoder(config).to(device)
            # Decided (and the kernels built, the first time) before the training clock starts.
            path = lstm_path(module, device)
            result = train_autoencoder(module, train, val, cfg, rng, device, checkpoint, fingerprint)
        self.module_ = module
        self.scaler_ = scaler
        self.n_features_in_ = data.n_features
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch + 1
        self.n_epochs_ = len(result.history["train_loss"])
        self.stop_reason_ = result.stop_reason
        self.training_seconds_ = result.seconds
        self.lstm_path_ = path
        self.readout_std_ = True
        if result.stop_reason == "interrupted":
            raise KeyboardInterrupt("fit interrupted; the estimator keeps the best weights so far "
                                    f"(epoch {self.best_epoch_} of {self.n_epochs_} completed)")
        return self

    def _split(self, sequences: list[np.ndarray], rng: np.random.Generator):
        n_val = int(round(self.validation_fraction * len(sequences)))
        if n_val == 0 or len(sequences) - n_val < 1 or not keep_validation_split(n_val, self.min_steps):
            return sequences, None
        perm = rng.permutation(len(sequences))
        return [sequences[i] for i in perm[n_val:]], [sequences[i] for i in perm[:n_val]]

    def _fingerprint(self, train: list[np.ndarray], val: list[np.ndarray] | None) -> str:
        # verbose does not change the result: a run resumed with a progress bar is the same run.
        params = {k: v for k, v in self.get_params().items() if k != "verbose"}
        h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
        for s in train + (val or []):
            h.update(np.ascontiguousarray(s).tobytes())
        return h.hexdigest()

    # ------------------------------------------------------------------ inference
    def _prepare(self, X) -> tuple[SequenceInput, list[np.ndarray] | np.ndarray]:
        """Validated input, and its standardised sequences: a list, or one (N, T, F) array for an array input."""
        check_is_fitted(self, "module_")
        data = check_sequences(X, n_features=self.n_features_in_)
        return data, self.scaler_.transform(data.array if data.array is not None else data.sequences)

    def _device(self) -> torch.device:
        return next(self.module_.parameters()).device

    def _outputs(self, sequences: list[np.ndarray]) -> Iterator[tuple[np.ndarray, PaddedBatch, AutoencoderOutput]]:
        """Yield ``(index, batch, output)`` per inference batch, in eval mode without autograd (see scoring_pass)."""
        module = self.module_.eval()
        device = self._device()

        def run(index: np.ndarray) -> tuple[PaddedBatch, AutoencoderOutput]:
            batch = pad_sequences(sequences, index).to(device)
            return batch, module(batch.x, batch.lengths)

        for index, (batch, output) in scoring_pass(collection_lengths(sequences), self.num_threads, device, run):
            yield index, batch, output

    def _per_sequence(self, sequences: list[np.ndarray] | np.ndarray, extract) -> list[np.ndarray] | np.ndarray:
        """``extract(batch, output)`` -> (N, T, ...) tensor, returned per sequence and cut to its real length:
        a list, or one (N, T, ...) array when ``sequences`` is one array (all lengths equal, nothing to cut)."""
        if isinstance(sequences, np.ndarray):
            dense = None
            for index, batch, output in self._outputs(sequences):
                values = extract(batch, output).float().cpu().numpy()
                if dense is None:
                    dense = np.empty((len(sequences),) + values.shape[1:], dtype=np.float32)
                dense[index] = values
            return dense
        out: list[np.ndarray] = [None] * len(sequences)  # type: ignore[list-item]
        for index, batch, output in self._outputs(sequences):
            values = extract(batch, output).float().cpu().numpy()
            for row, i in enumerate(index):
                out[i] = values[row, : batch.lengths[row]]
        return out

    def transform(self, X) -> np.ndarray:
        """Embed each sequence: (N, n_features_out) float32, as ``embedding`` says (see the class docstring).

        The code is the deterministic latent or the VAE's posterior mean; pooled parts see real steps only.
        """
        if self.embedding == "latent":
            return self.latent_code(X)
        if self.embedding == "pooled":
            return self.pooled_features(X)
        return self._encoder_features(X, lambda module, batch: [
            multiscale_pool(h, batch.lengths, module.encoder.bidirectional, std=self.readout_std_)
            for h in module.encoder.layer_outputs(batch.x, batch.lengths)])

    def latent_code(self, X) -> np.ndarray:
        """The latent code of each sequence: (N, latent_dim), the deterministic code or the VAE's posterior mean."""
        _, sequences = self._prepare(X)
        out = np.empty((len(sequences), self.latent_dim), dtype=np.float32)
        for index, _, o in self._outputs(sequences):
            out[index] = o.embedding.float().cpu().numpy()
        return out

    def _encoder_features(self, X, parts) -> np.ndarray:
        """The latent code, then ``parts(module, batch)`` (a list of (N, k) tensors), concatenated: (N, width)."""
        _, sequences = self._prepare(X)
        module = self.module_.eval()
        device = self._device()

        def run(index: np.ndarray) -> np.ndarray:
            batch = pad_sequences(sequences, index).to(device)
            code = module.encode(batch.x, batch.lengths)[0].mean
            return torch.cat([code, *parts(module, batch)], dim=-1).float().cpu().numpy()

        rows = list(scoring_pass(collection_lengths(sequences), self.num_threads, device, run))
        out = np.empty((len(sequences), rows[0][1].shape[1]), dtype=np.float32)
        for index, values in rows:
            out[index] = values
        return out

    def pooled_features(self, X, outputs=("latent", "last", "mean", "max")) -> np.ndarray:
        """Richer embeddings: the latent code and the encoder's per-step outputs pooled several ways.

        Parameters
        ----------
        X : as in ``fit``
        outputs : sequence of {"latent", "last", "mean", "max"}
            Concatenated in this order: "latent" is ``latent_code(X)`` (``latent_dim`` values); the others pool
            the encoder's top-layer outputs over each sequence's real steps (``hidden_size`` values, twice that
            when bidirectional): at the last real step, their mean, their maximum.

        Returns
        -------
        ndarray (N, sum of the parts' widths), float32
        """
        known = ("latent", "last", "mean", "max")
        if isinstance(outputs, str) or not outputs or any(o not in known for o in outputs):
            raise ValueError(f"outputs must be a non-empty sequence of values from {known}, got {outputs!r}")
        _, sequences = self._prepare(X)
        module = self.module_.eval()
        device = self._device()

        def run(index: np.ndarray) -> np.ndarray:
            batch = pad_sequences(sequences, index).to(device)
            h = module.encoder.sequence_outputs(batch.x, batch.lengths)      # (N, T, P)
            parts = [module.encode(batch.x, batch.lengths)[0].mean if o == "latent"
                     else masked_pool(h, batch.lengths, o, module.encoder.bidirectional) for o in outputs]
            return torch.cat(parts, dim=-1).float().cpu().numpy()             # (N, sum of widths)

        rows = list(scoring_pass(collection_lengths(sequences), self.num_threads, device, run))
        out = np.empty((len(sequences), rows[0][1].shape[1]), dtype=np.float32)
        for index, values in rows:
            out[index] = values
        return out

    def attention_weights(self, X) -> list[np.ndarray]:
        """Attention weight of every real step, a list of (T_i,) arrays summing to 1 (``pooling="attention"``)."""
        if self.pooling != "attention":
            raise ValueError(f"attention weights exist only with pooling='attention', this model has {self.pooling!r}")
        _, sequences = self._prepare(X)
        return list(self._per_sequence(sequences, lambda batch, o: o.attention))

    def reconstruct(self, X):
        """Reconstruct each sequence, in the input's units and structure (an array stays an array, a list a list)."""
        data, sequences = self._prepare(X)
        out = self._per_sequence(sequences, lambda batch, o: o.reconstruction)
        return data.restore(self.scaler_.inverse_transform(out))

    def reconstruction_error(self, X, *, per_step: bool = False, per_feature: bool = False):
        """Squared reconstruction error in standardised units; higher = more abnormal.

        Parameters
        ----------
        X : as in ``fit``
        per_step : bool, default=False
            False: one value per sequence (mean over its real steps). True: one value per real step.
        per_feature : bool, default=False
            Keep the feature axis instead of averaging over features.

        Returns
        -------
        ============  ===========  =======================================================================
        per_step      per_feature  result
        ============  ===========  =======================================================================
        False         False        ndarray (N,)
        False         True         ndarray (N, F)
        True          False        list of (T_i,) arrays (ndarray (N, T) when X was an ndarray)
        True          True         list of (T_i, F) arrays (ndarray (N, T, F) when X was an ndarray)
        ============  ===========  =======================================================================
        """
        data, sequences = self._prepare(X)
        if not per_step:
            # Mean over each sequence's real steps inside the batch, in torch: a Python loop over thousands of
            # windows cost as much as the model.
            per_seq = np.empty((len(sequences), data.n_features), dtype=np.float32)   # (N, F)
            for index, batch, o in self._outputs(sequences):
                sq = per_step_squared_error(o.reconstruction, batch.x, batch.lengths, reduce_features=False)
                per_seq[index] = (sq.sum(dim=1) / batch.lengths.to(sq.device)[:, None]).float().cpu().numpy()
            return per_seq if per_feature else per_seq.mean(axis=1)
        steps = self._per_sequence(sequences, lambda batch, o: per_step_squared_error(
            o.reconstruction, batch.x, batch.lengths, reduce_features=False))          # each (T_i, F)
        if isinstance(steps, np.ndarray):                                            # (N, T, F)
            return steps if per_feature else steps.mean(axis=-1)
        if not per_feature:
            steps = [s.mean(axis=1) for s in steps]
        return np.stack(steps) if data.was_array else steps

    def step_errors(self, X: np.ndarray, *, codes: bool = False):
        """Per-step, per-feature squared errors of equal-length sequences (N, T, F), in one pass.

        Returns the reconstruction errors (N, T, F) and, for a model fitted with ``forecast=True``, the next-step
        prediction errors (N, T, F), step 0 (which nothing predicts) being 0; else None. With ``codes``, also
        each sequence's latent code (N, latent_dim), as :meth:`latent_code` gives it, from the same pass.
        """
        data, sequences = self._prepare(X)
        if not isinstance(sequences, np.ndarray):
            raise ValueError("step_errors takes equal-length sequences as one (N, T, F) array")
        n_features = data.n_features
        single = len(sequences) == 1
        if single:
            # Scored as two rows: on one row a matrix product may take a matrix-vector path that rounds differently
            # (up to ~4e-7), and a window must get the same bits alone as among others (see inference_batches;
            # on the CPU seqae.nn.linear makes the products batch-invariant, the nn.LSTM path and GPUs are not).
            sequences = np.concatenate([sequences, sequences])

        def extract(batch, o):
            rec = per_step_squared_error(o.reconstruction, batch.x, batch.lengths, reduce_features=False)
            if o.forecast is None:
                return rec
            fc = forecast_squared_error(o.forecast, batch.x, batch.lengths, reduce_features=False)
            return torch.cat([rec, fc], dim=-1)                                   # (N, T, 2F)

        both = latent = None
        for index, batch, o in self._outputs(sequences):
            values = extract(batch, o).float().cpu().numpy()                      # (B, T, F or 2F)
            if both is None:
                both = np.empty((len(sequences),) + values.shape[1:], dtype=np.float32)
                latent = np.empty((len(sequences), self.latent_dim), dtype=np.float32) if codes else None
            both[index] = values
            if codes:
                latent[index] = o.embedding.float().cpu().numpy()                 # (B, Z)
        if single:
            both = both[:1]
            latent = latent[:1] if codes else None
        rec, fc = (both, None) if both.shape[-1] == n_features else (both[..., :n_features], both[..., n_features:])
        return (rec, fc, latent) if codes else (rec, fc)

    def score(self, X, y=None) -> float:
        """Negative mean reconstruction error (higher is better), so model selection works without labels."""
        return -float(np.mean(self.reconstruction_error(X)))

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model to one file (safetensors + JSON header), atomically."""
        persistence.save(self, path)

    def _get_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        check_is_fitted(self, "module_")
        doc = {"n_features_in_": self.n_features_in_, "history_": self.history_, "best_epoch_": self.best_epoch_,
               "n_epochs_": self.n_epochs_, "stop_reason_": self.stop_reason_,
               "training_seconds_": self.training_seconds_, "lstm_path_": self.lstm_path_,
               "readout_std_": self.readout_std_}
        tensors = {f"module.{k}": v for k, v in self.module_.state_dict().items()}
        tensors["scaler.mean"] = torch.from_numpy(self.scaler_.mean)
        tensors["scaler.scale"] = torch.from_numpy(self.scaler_.scale)
        return doc, tensors

    def _tensor_specs(self, doc: dict) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
        """Name -> (shape, dtype) of every tensor a file of this model holds. The module is built on the meta
        device, so a file whose parameters ask for a huge model is refused before any memory is spent on it."""
        n_features = doc.get("n_features_in_")
        if not isinstance(n_features, int) or isinstance(n_features, bool) or n_features < 1:
            raise ValueError(f"invalid n_features_in_ {n_features!r}")
        with torch.device("meta"):
            reference = SequenceAutoencoder(self._module_config(n_features))
        specs = {f"module.{k}": (tuple(v.shape), v.dtype) for k, v in reference.state_dict().items()}
        specs["scaler.mean"] = ((n_features,), torch.float64)
        specs["scaler.scale"] = ((n_features,), torch.float64)
        return specs

    def _set_state(self, doc: dict, tensors: dict[str, torch.Tensor]) -> None:
        n_features = int(doc["n_features_in_"])
        module = SequenceAutoencoder(self._module_config(n_features))
        module.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("module.")}, strict=True)
        mean, scale = tensors["scaler.mean"].numpy(), tensors["scaler.scale"].numpy()
        if mean.shape != (n_features,) or scale.shape != (n_features,) or not (scale > 0).all():
            raise ValueError("scaler tensors do not match the number of features or are not positive")
        self.module_ = module.to(resolve_device(self.device)).eval()
        self.scaler_ = FeatureScaler(mean=mean.astype(np.float64), scale=scale.astype(np.float64))
        self.n_features_in_ = n_features
        self.history_ = doc["history_"]
        self.best_epoch_ = int(doc["best_epoch_"])
        self.n_epochs_ = int(doc["n_epochs_"])
        self.stop_reason_ = str(doc["stop_reason_"])
        self.training_seconds_ = float(doc["training_seconds_"])
        self.lstm_path_ = str(doc.get("lstm_path_", "unknown"))     # files written before it was recorded
        self.readout_std_ = bool(doc.get("readout_std_", False))     # files written before it embed without it
