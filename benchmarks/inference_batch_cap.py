"""Speed and memory of scoring a 1,000,000-point series at stride 1 for one inference batch cap (rows x steps).

Why the cap in ``seqae._runtime.INFERENCE_STEPS`` is what it is (issue #5). One cap per process, since the
memory figure is the growth of this process's peak RSS while scoring::

    for cap in 262144 65536 32768; do .venv/bin/python benchmarks/inference_batch_cap.py $cap; done

The model is that of perf.py's case L (window 100, hidden 32, latent 32, one epoch on the first 20,000 points).
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cap", type=int, help="rows x steps per inference batch")
    args = p.parse_args()
    import seqae._runtime as runtime
    from seqae.detection.series import AnomalyDetector
    runtime.INFERENCE_STEPS = args.cap     # a benchmark knob, not an API: the library's value is the chosen one
    rng = np.random.default_rng(0)
    series = (np.sin(np.arange(1_000_000) / 10) + 0.1 * rng.standard_normal(1_000_000)).astype(np.float32)
    det = AnomalyDetector(window=100, stride=100, hidden_size=32, latent_dim=32, batch_size=64, epochs=1,
                          max_train_windows=1024, random_state=0, device="cpu", validation_fraction=0.0,
                          patience=None).fit(series[:20000])
    det.decision_function(series)                      # warm-up at stride 100
    before, start = peak_rss_mb(), time.perf_counter()
    det.set_params(stride=1).decision_function(series)
    print(f"cap {args.cap}: {1e6 / (time.perf_counter() - start):,.0f} points/s at stride 1, "
          f"peak RSS grew {peak_rss_mb() - before:.0f} MB")


if __name__ == "__main__":
    main()
