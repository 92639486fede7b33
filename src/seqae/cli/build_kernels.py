"""``seqae build-kernels``: build the fused CPU LSTM kernels now, for container images and CI, or to retry a
build that failed (seqae then uses torch's nn.LSTM and does not retry by itself)."""
from __future__ import annotations

import argparse

from seqae.cli._base import HelpFormatter, command_help


def add_parser(sub) -> None:
    p = sub.add_parser("build-kernels", help=command_help("build-kernels"),
                       description="Compile the fused CPU LSTM kernels for this installation (needs a C++ compiler "
                                   "and Python's headers; ninja comes with seqae), showing the compiler's output. "
                                   "Exit code 1 where the build fails; fits then use torch's nn.LSTM.",
                       formatter_class=HelpFormatter)
    p.add_argument("-q", "--quiet", action="store_true", help="do not show the compiler's output")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from seqae.nn.kernels import build_kernels

    status = build_kernels(verbose=not args.quiet)
    print(f"LSTM path: {status.path} ({status.reason})")
    print(f"kernel folder: {status.build_dir}")
    return 0 if status.path != "nn.LSTM" else 1
