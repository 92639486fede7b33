"""Write the model-file fixtures of this seqae version: tests/fixtures/model_v<version>[_<variant>].seqae.

Each model file comes with ``<same name>.expected.json``: the class, a fixed input (stored in full, so the
check does not depend on any random generator) and what the model gives on it, method by method.
``tests/test_reliability_files.py`` loads every fixture of every version and compares, so a later seqae that
cannot read an old file, or reads it into a different model, fails the tests. Run once per release (a new
version number gives new file names; old fixtures stay):

    python tools/make_fixture_model.py            # writes the missing ones, keeps existing fixtures
    python tools/make_fixture_model.py --force    # rewrites this version's fixtures

The models are tiny (hidden_size 8, latent_dim 4): a few KB each.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

import seqae
from seqae import AnomalyDetector, ConcatPooling, LSTMAutoencoder, SequenceAnomalyDetector

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
TINY = dict(hidden_size=8, latent_dim=4, epochs=5, batch_size=4, random_state=0, device="cpu")


def collection() -> list[np.ndarray]:
    """Twelve two-feature sequences of lengths 6..17, from closed-form expressions (no random generator)."""
    out = []
    for i in range(12):
        t = np.arange(6 + i, dtype=np.float64)
        out.append(np.stack([np.sin(0.5 * t + 0.3 * i), 2.0 + np.cos(0.3 * t) * (1 + 0.1 * i)], axis=1))
    return out


def collection_probe() -> list[np.ndarray]:
    """Three sequences of different lengths, one of them longer than any seen in training."""
    c = collection()
    return [np.round(x, 6) for x in (c[1], c[7][:9] * 1.5, np.concatenate([c[11], c[11][::-1]]))]


def series() -> np.ndarray:
    t = np.arange(120, dtype=np.float64)
    return np.round(np.stack([np.sin(t / 4), np.cos(t / 7) + 0.01 * t], axis=1), 6)


def series_probe() -> np.ndarray:
    x = series()[:60].copy()
    x[30:33, 0] += 2.5  # a bump, so the scores are not all alike
    return x


# name suffix -> (estimator, training data, probe input, methods whose outputs are recorded)
AE_METHODS = ("transform", "reconstruction_error", "reconstruct")
VARIANTS = {
    "": (LSTMAutoencoder(**TINY), collection, collection_probe, AE_METHODS),
    # The other code paths of the module: VAE head, attention pooling, autoregressive decoder, stacked
    # bidirectional encoder.
    "_vae": (LSTMAutoencoder(**TINY, variational=True, pooling="attention", decoder="autoregressive",
                             bidirectional=True, num_layers=2), collection, collection_probe, AE_METHODS),
    "_sequence_detector": (SequenceAnomalyDetector(**TINY, contamination=0.2), collection, collection_probe,
                           ("decision_function", "predict")),
    "_series_detector": (AnomalyDetector(**TINY, window=8, stride=2, contamination=0.05), series, series_probe,
                         ("decision_function", "predict", "feature_contributions")),
    "_concat_pooling": (ConcatPooling([LSTMAutoencoder(**TINY), LSTMAutoencoder(**{**TINY, "random_state": 1})],
                                      outputs=("latent", "mean")), collection, collection_probe, ("transform",)),
}


def _jsonable(value):
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return np.asarray(value).tolist()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="overwrite existing fixtures of this version")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for suffix, (estimator, train, probe, methods) in VARIANTS.items():
        model_path = FIXTURES / f"model_v{seqae.__version__}{suffix}.seqae"
        expected_path = model_path.with_suffix(".expected.json")
        if model_path.exists() and not args.force:
            print(f"{model_path.name} exists, kept (--force rewrites it)", file=sys.stderr)
            continue
        estimator.fit(train())
        estimator.save(model_path)
        X = probe()
        # Expected values from the *loaded* model, i.e. exactly what a reader of the file must reproduce.
        loaded = seqae.load(model_path)
        expected = {
            "seqae_version": seqae.__version__,
            "torch_version": torch.__version__,
            "class": type(loaded).__name__,
            "params": {k: v for k, v in loaded.get_params(deep=False).items() if isinstance(v, (int, float, str))},
            "input": _jsonable(X if isinstance(X, np.ndarray) else list(X)),
            "input_is_list": isinstance(X, list),
            "outputs": {m: _jsonable(getattr(loaded, m)(X)) for m in methods},
            "attributes": {a: getattr(loaded, a) for a in ("n_features_in_", "threshold_") if hasattr(loaded, a)},
        }
        expected_path.write_text(json.dumps(expected) + "\n")
        print(f"wrote {model_path} ({model_path.stat().st_size} bytes) and {expected_path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
