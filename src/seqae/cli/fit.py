"""``seqae fit``: fit an anomaly detector on a series and save it for ``seqae score``."""
from __future__ import annotations

import argparse

from seqae.cli import _common
from seqae.cli._base import command_help, positive_int
from seqae.cli._common import CLIError, HelpFormatter
from seqae.cli.detect import check_series, fit_detector
from seqae.detection.series import training_rows
from seqae.exceptions import TrainingError

EPILOG = """\
The saved model file (safetensors weights plus a JSON header; loading it never runs code) holds the
detector and its threshold; 'seqae score MODEL INPUT' applies it to new data. With the same data,
options and --seed, 'seqae fit' + 'seqae score' give exactly the scores of 'seqae detect' on CPU.

examples:
  seqae fit normal.csv --time-column timestamp -o model.seqae
  seqae fit data.parquet --columns cpu,memory --train-fraction 0.5 --window 32 --seed 0 -o model.seqae \\
      --plot loss.png
  seqae --threads 1 fit big.parquet --distributed 2 --checkpoint fit.ckpt -o model.seqae   # 2 processes
"""


def add_parser(sub) -> None:
    p = sub.add_parser("fit", help=command_help("fit"),
                       description="Fit an LSTM-autoencoder anomaly detector on a time series (CSV or Parquet) "
                                   "and save it to one file.",
                       epilog=EPILOG, formatter_class=HelpFormatter)
    p.add_argument("input", metavar="INPUT",
                   help="the training series: a CSV (.csv, or compressed: .csv.gz, .bz2, .zip, .xz) or Parquet "
                        "(.parquet, .pq) file")
    p.add_argument("-o", "--output", metavar="MODEL", required=True, help="model file to write (e.g. model.seqae)")
    _common.add_series_input(p)
    p.add_argument_group("training data").add_argument(
        "--train-fraction", type=_common.fraction, metavar="F",
        help="train on the first F of the rows only (default: 1, all of them)")
    p.add_argument_group("other outputs").add_argument(
        "--plot", metavar="FILE.png", help="plot of the training and validation loss per epoch")
    par = p.add_argument_group("data-parallel training")
    par.add_argument("--distributed", type=positive_int, metavar="N",
                     help="train on N processes of this machine (torchrun, gloo on CPU, NCCL on GPUs), each "
                          "computing its share of every batch; the model equals a one-process fit to float "
                          "tolerance. Give each process its threads with --threads")
    par.add_argument("--checkpoint", metavar="FILE",
                     help="save the training state after every epoch and resume from it when it exists (with "
                          "--distributed, a process that dies restarts the run from it, up to 3 times)")
    _common.add_detector_options(p)
    _common.add_output_options(p)
    p.set_defaults(run=run)


def _launch(args: argparse.Namespace) -> int:
    """Start this same command on --distributed N processes under torchrun and wait for them."""
    import subprocess
    import sys

    restarts = "3" if args.checkpoint else "0"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={args.distributed}",
               f"--max-restarts={restarts}", "-m", "seqae", *args.argv]
    _common.console(args).step(f"starting {args.distributed} training processes: torchrun --standalone "
                               f"--nproc-per-node={args.distributed} --max-restarts={restarts} -m seqae ...")
    code = subprocess.run(command).returncode
    if code != 0:
        raise TrainingError(f"the distributed training failed (torchrun exit code {code}; its output above says "
                            "why)")
    return 0


def run(args: argparse.Namespace) -> int:
    import contextlib
    import os

    from seqae import AnomalyDetector
    from seqae.plotting import plot_history

    if args.distributed is not None and "RANK" not in os.environ:
        return _launch(args)
    parallel = contextlib.nullcontext(None)
    if args.distributed is not None:     # one of the processes torchrun started
        from seqae.training.distributed import data_parallel

        parallel = data_parallel()
        if int(os.environ["RANK"]) != 0:
            args.quiet, args.verbose, args.plot = True, False, None     # rank 0 talks and writes
    out = _common.console(args)
    _common.check_not_input(args.output, args.input)
    if args.checkpoint:
        _common.check_not_input(args.checkpoint, args.input, args.output)
    _common.check_writable(args.output, "output")
    if args.plot:
        if not args.plot.lower().endswith(".png"):
            raise CLIError(f"--plot {args.plot!r}: plots are written as PNG; use a .png name")
        _common.check_writable(args.plot, "--plot")
    detector = AnomalyDetector(**_common.model_params(args, detector=True, progress=out.progress_bars))
    _common.check_model(detector, args)
    series = _common.read_series(args.input, _common.time_choice(args), args.columns, out)
    frac = args.train_fraction if args.train_fraction is not None else 1.0
    n_train = training_rows(len(series), frac)
    train = series.iloc[:n_train]
    what = args.input if n_train == len(series) else f"the training part (the first {frac:g} of {len(series)} rows)"
    check_series(train, detector.missing, detector.window, args.input, "use a smaller --window or a longer series",
                 what=what)
    out.step(f"read {len(series)} rows x {series.shape[1]} column(s) from {args.input}; training on "
             f"{n_train} rows")
    with parallel as comm:
        fit_detector(detector, train, out, checkpoint=args.checkpoint)
        if comm is None or comm.writes:
            detector.save(args.output)
        if comm is not None:
            comm.barrier()
    n_flagged = int(detector.labels_.sum())
    out.info(f"saved the detector to {args.output} (columns: {', '.join(detector.feature_names_in_)}; "
             f"threshold {detector.threshold_:.4g}, {n_flagged} of {n_train} training rows above it)")
    if args.plot:
        ae = detector.autoencoder_
        plot_history(ae.history_, args.plot, best_epoch=ae.best_epoch_)
        out.info(f"wrote the loss plot to {args.plot}")
    return 0
