"""``seqae info``: versions, device, threads, and which LSTM path runs and why (for bug reports and slow runs)."""
from __future__ import annotations

import argparse
import platform

from seqae.cli._base import HelpFormatter, command_help


def add_parser(sub) -> None:
    p = sub.add_parser("info", help=command_help("info"),
                       description="Print versions, the device, CPU threads, and which LSTM path a fit takes "
                                   "(fused AVX-512 kernels, fused portable kernels, or torch's nn.LSTM) and why. "
                                   "Builds nothing.", formatter_class=HelpFormatter)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy
    import pandas
    import sklearn
    import torch

    from seqae import __version__
    from seqae._params import resolve_device
    from seqae.nn.kernels import kernel_status

    status = kernel_status()
    device = resolve_device("auto")
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "none"
    rows = [
        ("seqae", __version__),
        ("python", platform.python_version()),
        ("torch", torch.__version__),
        ("numpy", numpy.__version__),
        ("pandas", pandas.__version__),
        ("scikit-learn", sklearn.__version__),
        ("device (auto)", f"{device.type}; GPU: {gpu}"),
        ("CPU threads", f"{torch.get_num_threads()} (torch's intra-op setting; --threads N changes it)"),
        ("CPU capability", torch.backends.cpu.get_cpu_capability()),
        ("LSTM path (CPU)", status.path),
        ("why", status.reason),
        ("kernel folder", str(status.build_dir)),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0
