"""``seqae score-sequences``: one anomaly score per sequence of a collection (sequence-level anomalies)."""
from __future__ import annotations

import argparse
import copy

import numpy as np
import pandas as pd

from seqae.cli import _common
from seqae.cli._base import command_help
from seqae.cli._common import CLIError, HelpFormatter
from seqae.cli.embed import read_collection
from seqae.detection.sequences import SCORES

# The detector's own options (beside the autoencoder's): argparse dest = parameter name.
DETECTOR_OPTIONS = ("contamination", "score", "n_neighbors")

EPILOG = """\
A SequenceAnomalyDetector (an LSTM autoencoder; the score is, by default, the distance of a sequence's embedding
to its nearest training embeddings, or with --score reconstruction its mean squared reconstruction error in
standardised units; higher = more abnormal) is fitted on --train, or on INPUT itself when --train is not given,
or loaded from --model; then every sequence of INPUT is scored. Input formats as for 'seqae embed' (.ts, .npz,
long CSV/Parquet); --train is read with the same options as INPUT.

The output has one row per sequence of INPUT: 'id', 'label' (when the file has labels), 'score' and
'anomaly' (1 where the score exceeds the threshold set on the training sequences by --contamination).

examples:
  seqae score-sequences new.ts --train normal.ts -o scores.csv --save-model det.seqae
  seqae score-sequences more.ts --model det.seqae -o scores.csv
  seqae score-sequences sessions.csv --id-column session --time-column t --contamination 0.02 -o scores.csv
"""


def add_parser(sub) -> None:
    from seqae import SequenceAnomalyDetector

    p = sub.add_parser("score-sequences", help=command_help("score-sequences"),
                       description="Fit a sequence-level anomaly detector (or load one) and score every sequence "
                                   "of a collection.",
                       epilog=EPILOG, formatter_class=HelpFormatter)
    p.add_argument("input", metavar="INPUT", help="the sequences to score: .ts, .npz, or a long-format .csv/.parquet")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="scores file to write (.csv or .parquet)")
    p.add_argument("--train", metavar="FILE", help="fit on these sequences (default: on INPUT)")
    p.add_argument("--model", metavar="FILE", help="a detector saved by --save-model: score without fitting")
    p.add_argument("--save-model", metavar="FILE", help="save the fitted detector")
    grp = p.add_argument_group("input")
    grp.add_argument("--format", choices=("ts", "long", "npz"), help="input format (default: from the extension)")
    grp.add_argument("--id-column", metavar="C", help="long format: the column naming each row's sequence")
    grp.add_argument("--time-column", metavar="C", help="long format: orders the steps within a sequence")
    grp.add_argument("--label-column", metavar="C", help="long format: each sequence's label (copied to the output)")
    grp.add_argument("--feature-columns", type=_common.column_list, metavar="A,B",
                     help="long format: the value columns (default: all but id/time/label)")
    det = p.add_argument_group("detector")
    det.add_argument("--contamination", type=_common.contamination, metavar="F",
                     help="expected share of anomalies among the training sequences; sets the threshold "
                          f"(default: {SequenceAnomalyDetector().contamination})")
    det.add_argument("--score", choices=SCORES,
                     help="neighbors: distance of the embedding to the nearest training embeddings; "
                          "reconstruction: mean squared reconstruction error "
                          f"(default: {SequenceAnomalyDetector().score})")
    det.add_argument("--n-neighbors", type=_common.positive_int, metavar="K",
                     help="neighbours averaged by --score neighbors; --train needs more sequences than K "
                          f"(default: {SequenceAnomalyDetector().n_neighbors})")
    _common.add_embed_model_options(p)
    _common.add_output_options(p)
    p.set_defaults(run=run)


def _fit_options(args: argparse.Namespace) -> list[str]:
    given = [n for n in _common.model_params(args, detector=False, progress=False)
             if n not in ("verbose", "device", "num_threads")]
    return given + [n for n in DETECTOR_OPTIONS if getattr(args, n) is not None]


def run(args: argparse.Namespace) -> int:
    import seqae
    from seqae import SequenceAnomalyDetector
    from seqae.exceptions import ModelFileError
    from seqae.io import write_table

    out = _common.console(args)
    _common.table_kind(args.output, "output")
    _common.check_not_input(args.output, args.input, args.train)
    _common.check_writable(args.output, "output")
    if args.model and (args.train or args.save_model or _fit_options(args)):
        extra = (["--train"] if args.train else []) + (["--save-model"] if args.save_model else []) + \
            [f"--{n.replace('_', '-')}" for n in _fit_options(args)]
        raise CLIError(f"--model {args.model!r} scores without fitting: {', '.join(extra)} do not apply")
    if args.save_model:
        _common.check_writable(args.save_model, "--save-model")
    if args.model:
        det = seqae.load(args.model, device=args.device)
        if not isinstance(det, SequenceAnomalyDetector):
            raise ModelFileError(f"{args.model!r} holds a {type(det).__name__}, not a SequenceAnomalyDetector; "
                                 "'seqae score-sequences --model' needs a model from its own --save-model")
    else:
        params = _common.model_params(args, detector=False, progress=out.progress_bars)
        params.update({n: getattr(args, n) for n in DETECTOR_OPTIONS if getattr(args, n) is not None})
        det = SequenceAnomalyDetector(**params)
        _common.check_model(det)
    X, y, ids = read_collection(args)
    out.step(f"read {len(X)} sequences from {args.input}")
    if not args.model:
        if args.train:
            train_args = copy.copy(args)
            train_args.input = args.train
            X_train = read_collection(train_args)[0]
            out.step(f"read {len(X_train)} training sequences from {args.train}")
        else:
            X_train = X
        if det.score == "neighbors" and len(X_train) <= det.n_neighbors:
            raise CLIError(f"--n-neighbors {det.n_neighbors} needs more than {det.n_neighbors} training sequences, "
                           f"got {len(X_train)}: give more with --train, lower --n-neighbors, or use "
                           "--score reconstruction")
        _common.prepare_kernels(out, det.device)
        det.fit(X_train)
        ae = det.autoencoder_
        out.step(f"trained {ae.n_epochs_} epoch(s) in {ae.training_seconds_:.1f}s; threshold {det.threshold_:.4g}")
    scores = det.decision_function(X)
    frame = pd.DataFrame({"id": ids})
    if y is not None:
        frame["label"] = y
    frame["score"] = scores
    frame["anomaly"] = (scores > det.threshold_).astype(np.int64)
    write_table(frame, args.output)
    out.info(f"wrote {len(frame)} scores to {args.output}: {int(frame['anomaly'].sum())} above the threshold")
    if args.save_model:
        det.save(args.save_model)
        out.info(f"saved the detector to {args.save_model}")
    return 0
