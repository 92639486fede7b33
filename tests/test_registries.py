"""Each list of choices is written once (issue #19 item 3): decoders, poolings, threshold rules, embeddings and
missing-value policies live in their library module, the estimators and the CLI's ``choices=`` read them, and a
decoder or threshold rule registered in one file (as the README's "Extending seqae" shows) is accepted
everywhere, the CLI included."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import seqae
from seqae.autoencoder import EMBEDDINGS
from seqae.cli import build_parser
from seqae.data.series import MISSING
from seqae.nn.decoder import DECODERS, RepeatDecoder, register_decoder
from seqae.nn.encoder import POOLINGS
from seqae.thresholds import THRESHOLD_METHODS, register_threshold, threshold_parameters

SRC = Path(seqae.__file__).parent


def _choices(command: str) -> dict[str, object]:
    parser = build_parser(command)
    sub = next(a for a in parser._actions if a.choices and command in a.choices).choices[command]
    return {a.option_strings[-1]: a.choices for a in sub._actions if a.option_strings and a.choices is not None}


def test_the_cli_choices_are_the_library_registries():
    detect = _choices("detect")
    assert list(detect["--decoder"]) == list(DECODERS)
    assert list(detect["--pooling"]) == list(POOLINGS)
    assert list(detect["--threshold"]) == list(THRESHOLD_METHODS)
    assert list(detect["--embedding"]) == list(EMBEDDINGS)
    assert list(detect["--missing"]) == list(MISSING)
    assert list(_choices("score")["--missing"]) == list(MISSING)
    assert list(_choices("embed")["--decoder"]) == list(DECODERS)


def test_no_copy_of_a_list_of_choices_in_the_cli():
    copies = [r'"repeat",\s*"autoregressive"', r'"last",\s*"mean",\s*"attention"', r'"raise",\s*"interpolate"',
              r'"quantile",\s*"sigma"', r'"multiscale",\s*"pooled"']
    for path in (SRC / "cli").glob("*.py"):
        text = path.read_text()
        for pattern in copies:
            assert not re.search(pattern, text), (path.name, pattern)


def test_float32_max_is_defined_once():
    defined = [p.name for p in SRC.rglob("*.py") if "np.finfo(np.float32).max" in p.read_text()]
    assert defined == ["validation.py"]


@pytest.fixture
def mirrored_decoder():
    @register_decoder("mirrored")
    class MirroredDecoder(RepeatDecoder):
        """The repeat decoder, its output reversed in time: a stand-in for a new decoder in its own file."""

        def forward(self, z, max_len, target=None):
            return super().forward(z, max_len, target).flip(1)

    yield MirroredDecoder
    del DECODERS["mirrored"]


def test_a_registered_decoder_is_accepted_by_the_estimator_and_the_cli(mirrored_decoder):
    X = [np.sin(np.arange(n) / 3.0)[:, None] for n in range(6, 14)]
    ae = seqae.LSTMAutoencoder(decoder="mirrored", hidden_size=4, latent_dim=2, epochs=1, batch_size=4,
                               random_state=0, device="cpu").fit(X)
    assert isinstance(ae.module_.decoder, mirrored_decoder)
    assert np.isfinite(ae.reconstruction_error(X)).all()
    assert "mirrored" in _choices("detect")["--decoder"]
    with pytest.raises(ValueError, match="already registered"):
        register_decoder("repeat")(mirrored_decoder)


@pytest.fixture
def median_rule():
    @register_threshold("median-times")
    def median_times(scores, factor=2.0):
        return float(np.median(np.asarray(scores, dtype=np.float64)) * factor)

    yield median_times
    del THRESHOLD_METHODS["median-times"]


def test_a_registered_threshold_rule_is_accepted_by_the_detector_and_the_cli(median_rule):
    assert threshold_parameters("median-times") == {"factor": 2.0}
    x = np.sin(np.arange(120) / 4.0)[:, None]
    det = seqae.AnomalyDetector(threshold="median-times", threshold_params={"factor": 3.0}, window=8, stride=4,
                                hidden_size=4, latent_dim=2, epochs=1, random_state=0, device="cpu").fit(x)
    assert det.threshold_ == pytest.approx(np.median(det.decision_scores_) * 3.0)
    assert "median-times" in _choices("detect")["--threshold"]
