"""Start-up time of the command line and of ``import seqae`` (issue #18's targets: ``seqae --help`` under 0.3 s,
``import seqae`` under 1 s, medians of 5 runs in fresh processes).

    python benchmarks/startup.py            # writes benchmarks/results/startup.md
"""
from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "startup.md"


def _seconds(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    script = shutil.which("seqae", path=str(Path(sys.executable).parent)) or "seqae"
    cases = [
        ("`seqae --help`", [script, "--help"], 0.3),
        ("`seqae --version`", [script, "--version"], 0.3),
        ("`python -c 'import seqae'`", [sys.executable, "-c", "import seqae"], 1.0),
        ("`python -c 'import seqae; seqae.AnomalyDetector'` (torch, for comparison)",
         [sys.executable, "-c", "import seqae; seqae.AnomalyDetector"], None),
        ("`python -c 'pass'` (the interpreter alone)", [sys.executable, "-c", "pass"], None),
    ]
    _seconds(cases[0][1], 1)                                 # warm the file cache
    rows = []
    for name, command, target in cases:
        times = _seconds(command, args.runs)
        med = statistics.median(times)
        verdict = "" if target is None else ("met" if med < target else "missed")
        rows.append(f"| {name} | {med:.3f} | {min(times):.3f} | {max(times):.3f} | "
                    f"{'' if target is None else f'< {target:g} s, {verdict}'} |")
        print(rows[-1])
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=Path(__file__).parent).stdout.strip()
    text = (f"# Start-up time\n\nMade by `python benchmarks/startup.py --runs {args.runs}` ({stamp}, git {git}, "
            f"{os.cpu_count()} cores); seconds per fresh process, median / min / max of {args.runs}.\n\n"
            "| command | median | min | max | target |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
