"""The autoencoder's parameters, written once: name, default, check, documentation and command-line option.

:class:`~seqae.LSTMAutoencoder` and both detectors take every one of them (the detectors pass them on to the
autoencoder they train). Each estimator still lists them in its ``__init__`` signature, since scikit-learn
reads the parameters from there; ``tests/test_autoencoder_params.py`` holds every signature, docstring and the
CLI to this table, so a parameter added here and not there (or there and not here) fails a test.

Adding a parameter: one :class:`Param` below, the keyword in the three ``__init__`` signatures (a detector may
give it another default there), and its use in ``LSTMAutoencoder``.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from seqae._params import check_choice, check_float, check_int
from seqae._runtime import check_num_threads
from seqae.nn.decoder import DECODERS
from seqae.nn.encoder import POOLINGS
from seqae.training.budget import SCHEDULES

EMBEDDINGS = ("latent", "pooled", "multiscale")


@dataclass(frozen=True)
class Option:
    """How the CLI exposes a parameter. ``value``: how it reads one: "count" (an integer >= 1), "count_or_none"
    (that, or 'none'; not given differs from 'none'), "positive" (a number > 0), "switch" (a flag that sets
    True), "choice" (one of ``choices``), "seed" (an integer >= 0), "text"."""
    help: str
    value: str
    metavar: str | None = None
    flag: str | None = None           # default: --the-name-with-dashes
    dest: str | None = None           # default: the parameter's name
    choices: Any = None
    show_default: bool = True         # append "(default: ...)" with the estimator's default


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    type: str                         # the numpydoc type, before ", default=..."
    doc: str = ""                     # the numpydoc description
    check: Callable[[str, Any], None] | None = None   # check(name, value) raises ValueError; None: checked in fit
    option: Option | None = None      # None: not a command-line option


def _flags(name: str, value) -> None:
    check_choice(name, value, (True, False))


def _threads(name: str, value) -> None:
    check_num_threads(value)


def _clip_norm(name: str, value) -> None:
    if value is not None:
        check_float(name, value, 0.0, float("inf"), low_open=True, high_open=True)


def _choices(values) -> str:
    return "{" + ", ".join(f'"{v}"' for v in values) + "}"


def _count(low: int = 1, allow_none: bool = False):
    return partial(check_int, low=low, allow_none=allow_none)


def _number(low: float, high: float, low_open: bool = False, high_open: bool = False):
    return partial(check_float, low=low, high=high, low_open=low_open, high_open=high_open)


def _one_of(choices):
    return partial(check_choice, choices=choices)


PARAMS: tuple[Param, ...] = (
    Param("hidden_size", 64, "int", "LSTM units per direction, in encoder and decoder.", _count(),
          Option("LSTM units per direction", "count", "N")),
    Param("decoder_hidden_size", None, "int or None",
          "LSTM units of the decoder when it should differ from ``hidden_size`` (None: the same). A narrow\n"
          "decoder under a wide encoder, as in many Keras models, trains and scores faster.",
          _count(allow_none=True),
          Option("decoder LSTM units, if not --hidden-size (a narrow decoder is faster)", "count", "N",
                 show_default=False)),
    Param("latent_dim", 64, "int", "Size of the latent code (the first part of the embedding; 16 before issue #16).",
          _count(), Option("size of the code/embedding", "count", "K")),
    Param("num_layers", 1, "int", "Stacked LSTM layers.", _count(), Option("stacked LSTM layers", "count", "N")),
    Param("bidirectional", False, "bool", "Bidirectional encoder.", _flags,
          Option("bidirectional encoder", "switch", show_default=False)),
    Param("dropout", 0.0, "float", "Dropout between stacked layers.", _number(0.0, 1.0, high_open=True)),
    Param("variational", False, "bool",
          "Gaussian latent trained with a KL term (LSTM-VAE); ``transform`` then gives the posterior mean.", _flags,
          Option("LSTM-VAE: Gaussian latent trained with a KL term", "switch", show_default=False)),
    Param("beta", 1.0, "float", "KL weight (VAE only).", _number(0.0, 1e6)),
    Param("beta_warmup", 0, "int", "Epochs over which the KL weight ramps up linearly (VAE only).", _count(0)),
    Param("pooling", "last", _choices(POOLINGS), "How the encoder summarises the steps of a sequence.",
          _one_of(POOLINGS), Option("how the encoder summarises the steps", "choice", choices=POOLINGS)),
    Param("decoder", "repeat", _choices(DECODERS),
          '"repeat" feeds the latent at every step; "autoregressive" starts from the latent and feeds back its\n'
          "previous output (teacher-forced while training, free-running at inference).",
          _one_of(DECODERS), Option("decoder type", "choice", choices=DECODERS)),
    Param("forecast", False, "bool",
          "Also train a linear head on the encoder's forward outputs to predict each next step, with the same\n"
          "weight as the reconstruction in the loss (as AER, Wong et al. 2022, adds prediction to\n"
          "reconstruction). :class:`~seqae.AnomalyDetector` then scores points by both errors.", _flags),
    Param("epochs", 100, "int", "Maximum passes over the data.", _count(),
          Option("maximum training epochs", "count", "N")),
    Param("batch_size", 32, "int", "Sequences per optimisation step.", _count(), Option("batch size", "count", "N")),
    Param("learning_rate", 1e-3, "float", "Adam's step size.", _number(0.0, 10.0, low_open=True),
          Option("Adam step size", "positive", "LR")),
    Param("validation_fraction", 0.1, "float",
          "Share of sequences held out for early stopping (0 monitors the training loss).",
          _number(0.0, 1.0, high_open=True)),
    Param("patience", 10, "int or None",
          "Epochs without improvement before stopping; None disables early stopping.", _count(allow_none=True),
          Option("epochs without validation improvement before stopping, 'none' to never stop early",
                 "count_or_none", "N")),
    Param("clip_norm", 1.0, "float or None", "Gradient clipping by global norm.", _clip_norm),
    Param("max_batches_per_epoch", None, "int or None",
          "Cap on optimisation steps per epoch (random batches each epoch); useful on very large window sets.",
          _count(allow_none=True)),
    Param("min_steps", 1000, "int or None",
          "Training budget floor, in optimiser steps: a small collection trains for more epochs than ``epochs``\n"
          "until it has had this many steps, early stopping never ends training before it, and a validation\n"
          "split of fewer than 32 sequences is not made (the training loss is monitored instead: a handful of\n"
          "held-out sequences cannot rank epochs). Large collections, whose ``epochs`` already give more steps,\n"
          "train as before. None: the epoch rule alone (``epochs``, ``patience``), as before issue #16.",
          _count(allow_none=True),
          Option("train at least N optimiser steps (more epochs on small collections), 'none' for the epoch rule "
                 "alone", "count_or_none", "N")),
    Param("lr_schedule", "cosine", _choices(SCHEDULES),
          '"cosine": the learning rate decays from ``learning_rate`` to 5% of it over the planned steps\n'
          '(``max(epochs * batches, min_steps)``); "constant": ``learning_rate`` throughout.', _one_of(SCHEDULES)),
    Param("min_crop", 0.5, "float in (0, 1]",
          "Training on random crops: each sequence of a batch is replaced by a random contiguous piece of at\n"
          "least this share of its length, and of at least 32 steps (a sequence of 32 steps or fewer is kept\n"
          "whole; ``seqae.training.objectives``) (1.0: whole sequences).", _number(0.0, 1.0, low_open=True)),
    Param("mask_fraction", 0.25, "float in [0, 1)",
          "Masked-step (denoising) reconstruction: this share of the real input steps is set to the feature mean\n"
          "for the encoder, and the clean sequence is the target.", _number(0.0, 1.0, high_open=True)),
    Param("contrastive_weight", 0.0, "float",
          "Weight of a hierarchical contrastive term (after TS2Vec) between the encoder's per-step outputs on two\n"
          "overlapping crops of each sequence (``seqae.nn.contrastive``); 0: none.", _number(0.0, 1e6)),
    Param("embedding", "multiscale", _choices(EMBEDDINGS),
          'What ``transform`` returns. "latent": the code (``latent_dim`` values). "pooled": the code, then the\n'
          "top encoder layer's outputs at the last real step, their mean and their maximum (``latent_dim + 3P``,\n"
          'P = ``hidden_size`` per direction). "multiscale": the code, then for every encoder layer the last\n'
          "step, the maximum, the standard deviation and the means over the whole sequence, its halves and its\n"
          "quarters (``latent_dim + 10P`` per layer; ``seqae.nn.readout``).", _one_of(EMBEDDINGS),
          Option("what an embedding holds: the latent code ('latent'), or the code and the encoder's outputs pooled",
                 "choice", choices=EMBEDDINGS)),
    Param("random_state", None, "int, Generator or None",
          "Seeds weights, splits, batch order, dropout and VAE noise. Two fits with the same int are identical on "
          "CPU.", None,
          Option("random seed: the same seed gives the same model and scores on CPU (default: none)", "seed", "S",
                 flag="--seed", dest="seed", show_default=False)),
    Param("device", "auto", "str", '"auto" (CUDA when available), "cpu", "cuda" or "cuda:N".', None,
          Option("'auto', 'cpu', 'cuda' or 'cuda:N' (default: auto)", "text", "D", show_default=False)),
    Param("num_threads", "auto", '"auto", int or None',
          "CPU threads this estimator fits or scores with (torch's setting is restored afterwards). \"auto\":\n"
          "torch's setting, normally one per core, for scoring, and for fitting models with wide layers\n"
          "(``batch_size * 4 * H**2 >= 1179648``, e.g. 32 rows of H = 96: two threads trained H = 100 1.8x faster);\n"
          "one thread for fitting smaller ones, which gain little from threads. Scoring several batches gives each\n"
          "thread whole batches (1.24x one thread's speed on 2 cores, about one thread's speed beside a busy\n"
          "process; ``benchmarks/results/perf.md``). Training threads stall when other busy\n"
          "processes share the cores: pass 1 there. An int: that many for both. None: torch's setting for both.",
          _threads),
    Param("verbose", False, "bool", "Show a progress bar."),
)

NAMES: tuple[str, ...] = tuple(p.name for p in PARAMS)
DEFAULTS: dict[str, Any] = {p.name: p.default for p in PARAMS}


def check_autoencoder_params(estimator) -> None:
    """Check the autoencoder parameters of ``estimator`` (an autoencoder or a detector); ValueError names the
    first bad one."""
    for p in PARAMS:
        if p.check is not None:
            p.check(p.name, getattr(estimator, p.name))


def set_autoencoder_params(estimator, values: dict[str, Any]) -> None:
    """``estimator.name = values[name]`` for every autoencoder parameter: an ``__init__`` passes its ``locals()``,
    as scikit-learn asks of it (store the parameters unchanged, nothing else)."""
    for name in NAMES:
        setattr(estimator, name, values[name])


def _show(value) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def parameter_docs(defaults: dict[str, Any], indent: str = "    ") -> str:
    """The numpydoc entries of the autoencoder parameters, each with its default in ``defaults``."""
    lines = []
    for p in PARAMS:
        lines.append(f"{indent}{p.name} : {p.type}, default={_show(defaults[p.name])}")
        lines.extend(f"{indent}    {line}" for line in p.doc.splitlines())
    return "\n".join(lines)


MARKER = "<autoencoder parameters>"


def documented(cls):
    """Class decorator: the line ``<autoencoder parameters>`` of the docstring becomes the entries of
    :func:`parameter_docs`, with this class's defaults (read from its ``__init__``)."""
    if cls.__doc__ is None:  # python -OO
        return cls
    defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
                if name in DEFAULTS}
    lines = cls.__doc__.splitlines()
    found = [i for i, line in enumerate(lines) if line.strip() == MARKER]
    if len(found) != 1:
        raise TypeError(f"{cls.__name__}'s docstring needs the line {MARKER!r} once, in its Parameters section, "
                        "where the autoencoder parameters are listed")
    at = found[0]
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    lines[at] = parameter_docs(defaults, indent)
    cls.__doc__ = "\n".join(lines)
    return cls
