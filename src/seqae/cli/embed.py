"""``seqae embed``: fit an LSTM autoencoder on a collection of sequences (or load a saved one) and write one
embedding per sequence."""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from seqae.cli import _common
from seqae.cli._base import command_help
from seqae.cli._common import CLIError, HelpFormatter

EPILOG = """\
Input formats (by extension unless --format is given):
  ts    .ts files of the UEA/UCR archive (sktime/aeon format); class labels are read from the file
  npz   .npz with X (n, T, F) or X_0, X_1, ... (one (T_i, F) array each), optional y and ids
  long  CSV/Parquet, one row per (sequence, step): --id-column names the sequence, optional --time-column
        orders the steps, --label-column gives each sequence's label, --feature-columns the values
        (default: every other column)

Sequences may have different lengths. The output has one row per sequence: 'id', 'label' (when known),
'z0' .. 'z{k-1}' (the embedding: the latent code, then the encoder's pooled outputs, see LSTMAutoencoder's
'embedding') and 'reconstruction_error' (mean squared error of the sequence in standardised units; high =
unusual). With --model, a model saved by --save-model embeds INPUT without training (new sequences must have
the features it was fitted on).

examples:
  seqae embed JapaneseVowels_TRAIN.ts -o embeddings.csv --plot embedding.png
  seqae embed events.csv --id-column session --time-column t --label-column outcome \\
      --latent-dim 8 --epochs 30 -o embeddings.parquet --save-model ae.seqae
  seqae embed JapaneseVowels_TRAIN.ts -o train.csv --save-model ae.seqae
  seqae embed JapaneseVowels_TEST.ts -o test.csv --model ae.seqae
"""


def add_parser(sub) -> None:
    p = sub.add_parser("embed", help=command_help("embed"),
                       description="Fit an LSTM autoencoder on a collection of (variable-length) sequences and "
                                   "write one fixed-length embedding per sequence.",
                       epilog=EPILOG, formatter_class=HelpFormatter)
    p.add_argument("input", metavar="INPUT", help="the sequences: .ts, .npz, or a long-format .csv/.parquet")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="embeddings file to write (.csv or .parquet)")
    grp = p.add_argument_group("input")
    grp.add_argument("--format", choices=("ts", "long", "npz"), help="input format (default: from the extension)")
    grp.add_argument("--id-column", metavar="C", help="long format: the column naming each row's sequence")
    grp.add_argument("--time-column", metavar="C", help="long format: orders the steps within a sequence")
    grp.add_argument("--label-column", metavar="C", help="long format: each sequence's label")
    grp.add_argument("--feature-columns", type=_common.column_list, metavar="A,B",
                     help="long format: the value columns (default: all but id/time/label)")
    outs = p.add_argument_group("other outputs")
    outs.add_argument("--plot", metavar="FILE.png",
                      help="2-D projection of the embeddings (PCA, or UMAP when installed), coloured by label")
    outs.add_argument("--save-model", metavar="FILE", help="save the fitted autoencoder")
    p.add_argument("--model", metavar="FILE",
                   help="embed with this saved autoencoder (from --save-model) instead of fitting one; "
                        "the model options below do not apply")
    _common.add_embed_model_options(p)
    _common.add_output_options(p)
    p.set_defaults(run=run)


def _format(args: argparse.Namespace) -> str:
    from seqae.io.tabular import CSV_SUFFIXES, PARQUET_SUFFIXES

    if args.format:
        return args.format
    name = args.input.lower()
    if name.endswith(".ts"):
        return "ts"
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(CSV_SUFFIXES + PARQUET_SUFFIXES):
        return "long"
    raise CLIError(f"{args.input!r}: cannot tell the format from the extension; pass --format ts, long or npz")


def read_collection(args: argparse.Namespace):
    from seqae.io import read_long_table, read_npz, read_ts

    fmt = _format(args)
    long_only = [f"--{n.replace('_', '-')}" for n in ("time_column", "label_column", "feature_columns")
                 if getattr(args, n) is not None]
    if fmt != "long" and (long_only or args.id_column):
        raise CLIError(f"{', '.join(long_only + (['--id-column'] if args.id_column else []))} apply to the long "
                       f"format only; {args.input!r} is read as {fmt}")
    if fmt == "ts":
        return read_ts(args.input)
    if fmt == "npz":
        return read_npz(args.input)
    if args.id_column is None:
        raise CLIError("the long format needs --id-column (the column that names each row's sequence)")
    return read_long_table(args.input, args.id_column, time_column=args.time_column,
                           feature_columns=args.feature_columns, label_column=args.label_column)


def load_autoencoder(path: str, device: str | None):
    """The LSTMAutoencoder saved in ``path`` (a SequenceAnomalyDetector's own autoencoder is accepted too)."""
    import seqae
    from seqae import LSTMAutoencoder, SequenceAnomalyDetector
    from seqae.exceptions import ModelFileError

    model = seqae.load(path, device=device)
    if isinstance(model, SequenceAnomalyDetector):
        model = model.autoencoder_
    if not isinstance(model, LSTMAutoencoder):
        raise ModelFileError(f"{path!r} holds a {type(model).__name__}, not an LSTMAutoencoder; 'seqae embed --model' "
                             "needs a model from 'seqae embed --save-model'")
    return model


def run(args: argparse.Namespace) -> int:
    from seqae import LSTMAutoencoder
    from seqae.io import write_table
    from seqae.plotting import plot_embedding

    out = _common.console(args)
    _common.table_kind(args.output, "output")
    _common.check_not_input(args.output, args.input)
    _common.check_writable(args.output, "output")
    if args.plot:
        if not args.plot.lower().endswith(".png"):
            raise CLIError(f"--plot {args.plot!r}: plots are written as PNG; use a .png name")
        _common.check_writable(args.plot, "--plot")
    if args.save_model:
        if args.model:
            raise CLIError("--save-model and --model: the model is already saved; pass one of them")
        _common.check_writable(args.save_model, "--save-model")
    if args.model:
        given = [name for name in _common.model_params(args, detector=False, progress=False)
                 if name not in ("verbose", "device", "num_threads")]
        if given:
            raise CLIError(f"--model {args.model!r}: model options ({', '.join(given)}) apply when fitting; "
                           "the saved model keeps its own")
        ae = load_autoencoder(args.model, args.device)
        X, y, ids = read_collection(args)
        out.step(f"read {len(X)} sequences from {args.input}; embedding with {args.model}")
    else:
        ae = LSTMAutoencoder(**_common.model_params(args, detector=False, progress=out.progress_bars))
        _common.check_model(ae)
        X, y, ids = read_collection(args)
        lengths = np.array([len(x) for x in X])
        out.step(f"read {len(X)} sequences from {args.input}: {X[0].shape[1]} feature(s), lengths "
                 f"{lengths.min()}..{lengths.max()}" + ("" if y is None else f", {len(pd.unique(y))} distinct labels"))
        p = ae.get_params()
        out.step(f"training: hidden {p['hidden_size']}, latent {p['latent_dim']}, up to {p['epochs']} epochs "
                 f"(at least {p['min_steps']} steps)" if p["min_steps"] else
                 f"training: hidden {p['hidden_size']}, latent {p['latent_dim']}, up to {p['epochs']} epochs")
        _common.prepare_kernels(out, p["device"])
        ae.fit(X)
        out.step(f"trained {ae.n_epochs_} epoch(s) in {ae.training_seconds_:.1f}s "
                 f"({ae.stop_reason_.replace('_', ' ')}; kept epoch {ae.best_epoch_})")
    Z = ae.transform(X)
    errors = ae.reconstruction_error(X)
    # Built in one piece: the default embedding has hundreds of columns, inserted one by one pandas warns.
    columns = {"id": ids, **({} if y is None else {"label": y}), **{f"z{j}": Z[:, j] for j in range(Z.shape[1])},
               "reconstruction_error": errors}
    frame = pd.DataFrame(columns)
    write_table(frame, args.output)
    out.info(f"wrote {len(frame)} embeddings of size {Z.shape[1]} to {args.output} "
             f"(reconstruction error: median {np.median(errors):.4g}, max {errors.max():.4g})")
    if args.plot:
        plot_embedding(Z, y, args.plot)
        out.info(f"wrote the plot to {args.plot}")
    if args.save_model:
        ae.save(args.save_model)
        out.info(f"saved the autoencoder to {args.save_model}")
    return 0
