"""The ``seqae`` command line: anomaly detection on CSV/Parquet time series, sequence embeddings, a demo.

``main(argv)`` runs one command and returns its exit code (the ``seqae`` console script calls it):

- 0: success;
- 1: the command ran but failed (training diverged, an output could not be written, ...);
- 2: a usage or input error (bad option, missing or malformed file, too short a series, ...);
- 130: interrupted with Ctrl-C.

Every deliberate error (:class:`~seqae.exceptions.SeqaeError`, an unreadable or unwritable path, a bad
parameter value) is reported as one line on stderr, ``seqae: error: ...``, without a traceback; the global
``--debug`` flag shows the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from seqae.cli._base import COMMANDS, PROG, CLIError, HelpFormatter, positive_int

_DESCRIPTION = """\
LSTM sequence autoencoders for time-series anomaly detection and sequence embeddings.

Time series come as CSV or Parquet files (chosen by extension), one row per time step, one column per
channel, optionally a column of timestamps; every point gets an anomaly score and a 0/1 label."""

_EPILOG = """\
examples:
  seqae demo                                       # the built-in NYC taxi example, about a minute
  seqae detect data.csv --time-column timestamp -o scores.csv --plot anomalies.png
  seqae fit train.csv --time-column timestamp -o model.seqae --window 48 --seed 0
  seqae score model.seqae new.csv --time-column timestamp -o scores.parquet
  seqae detect-many fleet.parquet --by machine --time-column ts --engine dask -o scores.parquet
  seqae evaluate scores.csv --windows windows.json
  seqae embed sequences.ts -o embeddings.csv --plot embedding.png --save-model ae.seqae
  seqae embed new.ts -o new_embeddings.csv --model ae.seqae
  seqae score-sequences new.ts --train normal.ts -o scores.csv

Run 'seqae COMMAND --help' for the options of each command."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``seqae: error: ...``) naming the command's --help."""

    def error(self, message: str):  # type: ignore[override]
        command = self.prog.removeprefix(PROG).strip()
        hint = f"'{self.prog} --help'"
        where = f"{command}: " if command else ""
        raise _UsageError(f"{where}{message} (see {hint})")


class _UsageError(Exception):
    pass


def _command_in(argv: Sequence[str]) -> str | None:
    """The command named in ``argv`` (the first word that is one), None for ``seqae --help`` and the like."""
    for word in argv:
        if word == "--":
            return None
        if word in COMMANDS:
            return word
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the full options of ``command`` (every command's with ``"all"``); the other commands are
    listed by name and help only, so that their modules (numpy, pandas, torch) are not imported."""
    from seqae import __version__

    parser = _Parser(prog=PROG, description=_DESCRIPTION, epilog=_EPILOG, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of errors")
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="CPU threads PyTorch uses while fitting and scoring (default: the estimators' "
                             "num_threads='auto': one per core to score, and to fit wide models; one thread to fit "
                             "small ones); 1 is often fastest on a machine busy with other work")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, summary) in COMMANDS.items():
        if command in (name, "all"):
            importlib.import_module(f"seqae.cli.{module}").add_parser(sub)
        else:
            sub.add_parser(name, help=summary, add_help=False)
    return parser


def _one_line(exc: BaseException) -> str:
    """The error as one line: OSError as 'path: reason', others as their message."""
    if isinstance(exc, OSError) and exc.strerror:
        where = exc.filename if exc.filename is not None else ""
        text = f"{where}: {exc.strerror}" if where else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
        if isinstance(exc, KeyError) and len(exc.args) == 1:
            text = str(exc.args[0])
    return " ".join(text.split())


def _format_warning(message, category, filename, lineno, file=None, line=None):
    print(f"{PROG}: warning: {' '.join(str(message).split())}", file=sys.stderr if file is None else file)


def _exit_code(exc: BaseException) -> int:
    from seqae.exceptions import InputError, ModelFileError, TrainingError

    if isinstance(exc, TrainingError):
        return 1
    if isinstance(exc, (InputError, ModelFileError, CLIError)):
        return 2
    if isinstance(exc, OSError):
        # A path that cannot be read is an input problem; one that cannot be written, a failure of the run.
        return 2 if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError)) else 1
    if isinstance(exc, ValueError):
        return 2  # bad parameter values (e.g. --window 1, an unknown --device)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``seqae`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv[: argv.index("--") if "--" in argv else len(argv)]
    try:
        parser = build_parser(_command_in(argv))
        try:
            args = parser.parse_args(argv)
            args.argv = argv          # what a launcher (seqae fit --distributed) starts again in each process
        except SystemExit as exc:  # --help and --version
            return int(exc.code or 0) if not isinstance(exc.code, str) else 2
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        debug = args.debug
        with warnings.catch_warnings():
            warnings.showwarning = _format_warning
            for noisy in (r".*does not have many workers.*", r".*TypedStorage is deprecated.*"):
                warnings.filterwarnings("ignore", message=noisy)
            if args.threads is None:
                return int(args.run(args) or 0)
            import torch

            threads = torch.get_num_threads()
            torch.set_num_threads(args.threads)
            try:
                return int(args.run(args) or 0)
            finally:
                torch.set_num_threads(threads)  # main() may be called in-process: leave the setting as found
    except _UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed early (e.g. piped into head): not an error worth a message.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stop Python's flush-at-exit complaint
        except OSError:
            pass
        return 1
    except Exception as exc:
        from seqae.exceptions import SeqaeError

        expected = isinstance(exc, (SeqaeError, OSError, ValueError))
        if debug or not expected:
            traceback.print_exc()
        if expected:
            print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        else:
            print(f"{PROG}: internal error ({type(exc).__name__}: {_one_line(exc)}); this is a bug in seqae, "
                  "please report it with the traceback above", file=sys.stderr)
        return _exit_code(exc)
