#!/usr/bin/env python
"""Read-outs of the same fitted models (issue #16): which pooled statistics of the encoder's per-step outputs
make the embedding, with training held fixed.

For each UEA set and seed, ``LSTMAutoencoder(random_state=seed)`` is fitted once on the train split; its
``transform`` is then read out with each variant below and scored by ``benchmarks/uea.py``'s protocol (SVM on
standardised embeddings, C by 5-fold CV on train, test accuracy of the SVM the CV chose). Prints one JSON line
per (set, seed, variant) and the mean per variant.

Variants (every one keeps the code and the last step and maximum of every layer):
``base``: segment means over 1, 2, 4 parts (the read-out before the standard deviation was added);
``std``: ``base`` + each unit's standard deviation over the real steps (the default since);
``min``: ``base`` + each unit's minimum; ``s8``, ``s16``: ``base`` + means over 8 (and 16) parts;
``std+min``; ``std+halves``, ``std+quarters``: ``std`` + the deviation within each half (and quarter);
``std+ppv``: ``std`` + each unit's share of real steps with a positive output (MiniRocket's "proportion of
positive values", with the LSTM's outputs in the place of its convolutions); ``std+ppv+mpv``: also the mean of
the positive outputs (MultiRocket's "mean of positive values"); ``std+ds2``, ``std+ds2+ds4``: ``std`` + the same
read-out of the encoder run again on each sequence averaged over blocks of 2 (and 4) steps, so that a unit's
fading memory spans two (four) times as much of the outline.

    PYTHONPATH=src python benchmarks/readout_ablation.py --threads 1          # ~25 min on one busy core
    PYTHONPATH=src python benchmarks/readout_ablation.py --threads 1 --variants std,std+min,std+halves,std+quarters
    PYTHONPATH=src python benchmarks/readout_ablation.py --threads 1 --variants std,std+ppv,std+ppv+mpv
    PYTHONPATH=src python benchmarks/readout_ablation.py --threads 1 --variants std,std+ds2,std+ds2+ds4
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pool(scales: tuple[int, ...] = (1, 2, 4), std: bool = False, minimum: bool = False, std_scales=(),
         ppv: bool = False, mpv: bool = False):
    """A read-out in the place of ``seqae.autoencoder.multiscale_pool``; the model's own ``std`` is ignored.
    ``std_scales``: standard deviations within each of k equal parts too, for each k given. ``ppv``: the share
    of real steps where each unit's output is above 0; ``mpv``: the mean of those outputs (0 where none is)."""
    from seqae.nn.encoder import masked_pool
    from seqae.nn.readout import multiscale_pool, segment_means

    def read_out(h, lengths, bidirectional=False, **_):
        parts = [multiscale_pool(h, lengths, bidirectional, scales=scales, std=std)]
        if minimum:
            parts.append(-masked_pool(-h, lengths, "max"))
        for k in std_scales:
            mean = segment_means(h, lengths, k)
            parts.append((segment_means(h * h, lengths, k) - mean * mean).clamp(min=0.0).sqrt())
        if ppv or mpv:
            share = segment_means((h > 0).to(h.dtype), lengths, 1)                          # (N, P)
            if ppv:
                parts.append(share)
            if mpv:
                parts.append(segment_means(h.clamp(min=0.0), lengths, 1) / share.clamp(min=1.0 / h.shape[1]))
        return torch.cat(parts, dim=-1)
    return read_out


VARIANTS = {"base": dict(), "std": dict(std=True), "min": dict(minimum=True), "s8": dict(scales=(1, 2, 4, 8)),
            "s16": dict(scales=(1, 2, 4, 8, 16)), "std+min": dict(std=True, minimum=True),
            "std+halves": dict(std=True, std_scales=(2,)), "std+quarters": dict(std=True, std_scales=(2, 4)),
            "std+ppv": dict(std=True, ppv=True), "std+ppv+mpv": dict(std=True, ppv=True, mpv=True),
            "std+ds2": dict(std=True), "std+ds2+ds4": dict(std=True)}
# Variants that also embed each sequence averaged over blocks of k steps, for each k given.
RATES = {"std+ds2": (2,), "std+ds2+ds4": (2, 4)}


def downsample(X, k: int):
    """Each (T, F) sequence averaged over consecutive blocks of k steps (the last block may be shorter)."""
    import numpy as np
    out = []
    for x in X:
        starts = np.arange(0, len(x), k)
        out.append(np.add.reduceat(x, starts, axis=0) / np.diff(np.append(starts, len(x)))[:, None])
    return out


def embed(model, X, rates: tuple[int, ...]):
    """The model's embedding of X, beside its embedding of X downsampled at each rate."""
    import numpy as np
    return np.concatenate([model.transform(X)] + [model.transform(downsample(X, k)) for k in rates], axis=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="ArrowHead,GunPoint,ItalyPowerDemand,JapaneseVowels,BasicMotions")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--variants", default="base,std,min,s8,s16", help=f"comma-separated, of {', '.join(VARIANTS)}")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    import seqae.autoencoder as autoencoder
    import uea
    from seqae import LSTMAutoencoder
    from seqae.io import load_uea

    chosen = collections.defaultdict(list)
    pools = {name: pool(**VARIANTS[name]) for name in args.variants.split(",")}
    for name in args.sets.split(","):
        train, test = load_uea(name, "train"), load_uea(name, "test")
        for seed in range(args.seeds):
            model = LSTMAutoencoder(random_state=seed, num_threads=args.threads).fit(train.X)
            for variant, read_out in pools.items():
                # The model's transform calls seqae.autoencoder.multiscale_pool: swapped for the variant.
                autoencoder.multiscale_pool = read_out
                rates = RATES.get(variant, ())
                scores = uea.svm_scores(embed(model, train.X, rates), train.y, embed(model, test.X, rates), test.y,
                                        False)
                result = uea.Result(set=name, method=variant, seed=seed)
                for key, value in scores.items():
                    setattr(result, key, value)
                chosen[(variant, name)].append(uea.chosen(result))
                print(json.dumps({"set": name, "seed": seed, "variant": variant, "chosen": uea.chosen(result),
                                  "linear": scores["linear"], "rbf": scores["rbf"]}), flush=True)
    sets = args.sets.split(",")
    print("| variant | " + " | ".join(sets) + " | mean |\n|---|" + "---|" * (len(sets) + 1))
    for variant in pools:
        means = [sum(chosen[(variant, s)]) / len(chosen[(variant, s)]) for s in sets]
        print(f"| {variant} | " + " | ".join(f"{m:.3f}" for m in means) + f" | {sum(means) / len(means):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
