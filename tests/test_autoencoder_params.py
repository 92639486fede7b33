"""The autoencoder's parameters are written once (seqae._autoencoder_params): every estimator's signature,
docstring and checks, and the CLI's options, follow that table, so a parameter added in one place only fails
here."""
from __future__ import annotations

import inspect
import re

import pytest

from seqae import AnomalyDetector, LSTMAutoencoder, SequenceAnomalyDetector
from seqae._autoencoder_params import DEFAULTS, NAMES, PARAMS, parameter_docs
from seqae.cli import _common, build_parser

ESTIMATORS = (LSTMAutoencoder, AnomalyDetector, SequenceAnomalyDetector)
# Each estimator's parameters besides the autoencoder's.
OWN = {LSTMAutoencoder: (),
       AnomalyDetector: ("window", "stride", "contamination", "threshold", "threshold_params", "event_gap",
                         "score_aggregation", "point_weight", "channel_weights", "forecast_weight", "forecast_margin",
                         "latent_weight",
                         "latent_mix", "center_windows", "missing", "repair_training",
                         "max_train_windows"),
       SequenceAnomalyDetector: ("contamination", "threshold", "threshold_params", "score", "n_neighbors")}


def _signature(cls) -> dict[str, object]:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), cls.__name__
    return {p.name: p.default for p in params}


# Where a detector's autoencoder defaults are not the table's: windows of a series train a smaller model on the
# epoch rule, whole sequences (sequence detector) train as LSTMAutoencoder does.
OVERRIDES = {LSTMAutoencoder: {}, SequenceAnomalyDetector: {},
             AnomalyDetector: dict(hidden_size=32, latent_dim=16, forecast=True, epochs=50, batch_size=64,
                                   patience=5, min_steps=None, lr_schedule="constant", min_crop=1.0,
                                   mask_fraction=0.0, embedding="latent")}


def _defaults(cls) -> dict[str, object]:
    return {**DEFAULTS, **OVERRIDES[cls]}


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_each_signature_is_the_table_plus_the_estimators_own(cls):
    signature = _signature(cls)
    assert list(signature) == list(OWN[cls]) + list(NAMES), "the autoencoder parameters, in the table's order"
    assert {name: signature[name] for name in NAMES} == _defaults(cls)
    assert all(DEFAULTS[name] != value for name, value in OVERRIDES[cls].items()), "an override equal to the table's"
    assert set(cls().get_params()) == set(signature)


@pytest.mark.parametrize("cls", [AnomalyDetector, SequenceAnomalyDetector], ids=lambda c: c.__name__)
def test_a_detector_passes_every_autoencoder_parameter_on(cls):
    values = {"hidden_size": 5, "latent_dim": 3, "dropout": 0.2, "patience": None, "lr_schedule": "cosine",
              "embedding": "pooled", "random_state": 7, "num_threads": 1, "verbose": True}
    detector = cls(**values)
    assert detector._make_autoencoder().get_params() == {name: getattr(detector, name) for name in NAMES}
    assert {k: detector._make_autoencoder().get_params()[k] for k in values} == values


def _documented(cls) -> dict[str, str]:
    """Name -> its numpydoc entry (header line and description) in the Parameters section."""
    doc = cls.__doc__
    section = doc[doc.index("Parameters\n    ----------\n"):doc.index("\n    Attributes\n")]
    entries = re.split(r"\n(?=    [*\w]+ : |    \*\*)", section)[1:]
    return {entry.split(" : ")[0].strip(): entry for entry in entries if not entry.lstrip().startswith("**")}


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_each_docstring_documents_every_parameter_with_the_tables_text(cls):
    documented = _documented(cls)
    assert list(documented) == list(_signature(cls))
    shared = "\n".join(documented[name].rstrip("\n") for name in NAMES)
    assert shared == parameter_docs(_defaults(cls))
    assert "<autoencoder parameters>" not in cls.__doc__


def test_the_table_documents_its_defaults_in_their_own_type():
    for p in PARAMS:
        assert p.type and "default" not in p.type, p.name
        assert p.name == p.name.lower() and p.name.isidentifier()


CHECKED = [p.name for p in PARAMS if p.check is not None]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", CHECKED)
def test_every_estimator_checks_every_autoencoder_parameter(cls, name):
    estimator = cls().set_params(**{name: "not a value"})
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        estimator._check_params()


def test_the_unchecked_parameters_are_checked_in_fit():
    assert set(NAMES) - set(CHECKED) == {"random_state", "device", "verbose"}  # make_rng, resolve_device; any


def _model_options(command: str) -> dict[str, object]:
    parser = build_parser(command)
    sub = next(a for a in parser._actions if a.choices and command in a.choices).choices[command]
    return {a.dest: a for a in sub._actions if a.option_strings}


@pytest.mark.parametrize("command", ["embed", "detect", "fit", "score-sequences", "detect-many"])
def test_the_cli_options_of_the_autoencoder_are_the_tables(command):
    options = _model_options(command)
    for p in PARAMS:
        if p.option is None:  # --verbose is the messages option (it turns progress bars on, as verbose=True)
            assert p.name not in options or p.name == "verbose", p.name
            continue
        action = options[p.option.dest or p.name]
        assert action.option_strings[-1] == (p.option.flag or "--" + p.name.replace("_", "-"))
        if p.option.choices is not None:
            assert action.choices is p.option.choices


def test_every_autoencoder_option_reaches_the_estimator():
    argv = ["embed", "in.ts", "-o", "out.csv", "--hidden-size", "3", "--decoder-hidden-size", "2", "--latent-dim",
            "4", "--num-layers", "2", "--bidirectional", "--variational", "--pooling", "mean", "--decoder",
            "autoregressive", "--epochs", "5", "--batch-size", "7", "--learning-rate", "0.01", "--patience", "none",
            "--min-steps", "9", "--embedding", "pooled", "--seed", "1", "--device", "cpu"]
    args = build_parser("embed").parse_args(argv)
    params = _common.model_params(args, detector=False, progress=False)
    given = dict(hidden_size=3, decoder_hidden_size=2, latent_dim=4, num_layers=2, bidirectional=True,
                 variational=True, pooling="mean", decoder="autoregressive", epochs=5, batch_size=7,
                 learning_rate=0.01, patience=None, min_steps=9, embedding="pooled", random_state=1, device="cpu")
    assert params == {**given, "verbose": False}
    assert set(given) == {p.name for p in PARAMS if p.option is not None}, "an option this test does not give"
    LSTMAutoencoder(**params)._check_params()


def test_options_not_given_keep_the_library_defaults():
    args = build_parser("embed").parse_args(["embed", "in.ts", "-o", "out.csv"])
    assert _common.model_params(args, detector=False, progress=True) == {"verbose": True}
