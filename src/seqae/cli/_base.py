"""What every command's parser needs, kept free of numpy, pandas and torch so that ``seqae --help`` starts at once.

``COMMANDS`` lists the commands: the module that defines each and its one-line help. A command's module (and what
it imports) is loaded only when that command runs or shows its help.
"""
from __future__ import annotations

import argparse

from seqae.exceptions import InputError

PROG = "seqae"

# name -> (module under seqae.cli, one-line help shown by `seqae --help`)
COMMANDS = {
    "detect": ("detect", "fit on the first part of a series and score every row"),
    "fit": ("fit", "fit an anomaly detector on a series and save it"),
    "score": ("score", "score a series with a saved detector"),
    "detect-many": ("many", "fit and score one detector per series of a long table"),
    "evaluate": ("evaluate", "metrics of a scores file against known anomalies"),
    "embed": ("embed", "embed each sequence of a collection (LSTM autoencoder)"),
    "score-sequences": ("sequences", "score each sequence of a collection for anomalies"),
    "demo": ("demo", "anomaly detection on a built-in NAB series (about a minute)"),
    "export": ("export", "export a saved model's scoring graph to ONNX (windows in, per-step errors out)"),
    "info": ("info", "versions, device, threads, and which LSTM path runs and why"),
    "build-kernels": ("build_kernels", "build the fused CPU LSTM kernels now (for images and CI)"),
}


def command_help(name: str) -> str:
    """The one-line help of a command (written once, in COMMANDS)."""
    return COMMANDS[name][1]


class CLIError(InputError):
    """A usage problem found by the CLI itself (bad option combination, bad output path): exit code 2."""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's examples as written, and shows defaults where given."""

    def __init__(self, prog, **kwargs):
        kwargs.setdefault("max_help_position", 32)
        super().__init__(prog, **kwargs)


def int_at_least(low: int, unit: str = ""):
    """An argparse type: a whole number >= low."""
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}{unit}, got {value}")
        return value
    return convert


positive_int = int_at_least(1)
