"""``seqae export``: write a saved model's scoring graph as ONNX, for serving without seqae."""
from __future__ import annotations

import argparse

from seqae.cli._base import CLIError, HelpFormatter, command_help, int_at_least

EPILOG = """\
The graph takes 'windows' (N, T, F) float64 raw values (standardised inside, in float64, as seqae does) and
'mask' (N, T) bool, True at each row's real steps (which come first; variable lengths go through the mask),
and returns 'reconstruction_error' (N, T, F) (and 'forecast_error' for a model fitted with forecasting):
squared errors per step and feature in
standardised units, 0 at masked steps. A detector's settings (window, threshold, ...) are in the file's
metadata. Needs the onnx extra: pip install "seqae[onnx]".

examples:
  seqae export model.seqae model.onnx
  seqae export ae.seqae ae.onnx --opset 18
"""


def add_parser(sub) -> None:
    p = sub.add_parser("export", help=command_help("export"),
                       description="Export the scoring graph of a model saved by 'seqae fit', 'seqae detect "
                                   "--save-model' or 'seqae embed --save-model' to an ONNX file.",
                       epilog=EPILOG, formatter_class=HelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a model file (.seqae)")
    p.add_argument("output", metavar="OUTPUT", help="the ONNX file to write (.onnx)")
    p.add_argument("--opset", type=int_at_least(13), default=17, help="ONNX opset version")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import seqae
    from seqae.cli._common import check_not_input, check_writable

    if not str(args.output).lower().endswith(".onnx"):
        raise CLIError(f"OUTPUT {args.output!r}: name the ONNX file with the .onnx extension")
    check_not_input(args.output, args.model)
    check_writable(args.output, "OUTPUT")
    try:
        from seqae.export import to_onnx
        import onnx  # noqa: F401
    except ImportError:
        raise CLIError('seqae export needs the onnx package: pip install "seqae[onnx]"') from None
    model = seqae.load(args.model, device="cpu")
    to_onnx(model, args.output, opset=args.opset)
    print(f"wrote {args.output} (inputs: windows, mask; outputs: per-step squared errors)")
    return 0
