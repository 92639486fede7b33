"""Building and finding the fused CPU kernels (``csrc/``), and saying which LSTM path runs and why.

The kernels are compiled with torch's ``cpp_extension.load`` on first use (about 30 to 60 s, once per machine and
torch installation) into a folder under ``$TORCH_EXTENSIONS_DIR`` (default ``~/.cache/torch_extensions``) named
after the kernel and the torch installation. The build needs a C++ compiler, Python's headers and the ``ninja``
build tool; ``ninja`` comes with seqae as a Python package, whose binary is put on ``PATH`` for the build when
none is there (torch looks for it on ``PATH`` only).

Where the build fails, the reason is written beside it (``BUILD_FAILED``) and every later process of the same
installation uses ``nn.LSTM`` at once, with one line of warning, instead of failing the build again on every run;
``seqae build-kernels`` (or :func:`build_kernels`) tries again and prints the compiler's output.
``SEQAE_FUSED_LSTM=0`` switches the kernels off.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

_CSRC = Path(__file__).with_name("csrc")
# The kernel, the autoencoder's fused loss on it (used by fused_loss.py), and their Python bindings.
_SOURCES = [str(_CSRC / name)
            for name in ("lstm_cpu.cpp", "lstm_avx512.cpp", "lstm_avx512_forward.cpp", "lstm_avx512_backward.cpp",
                         "row_products_avx512.cpp", "autoencoder_loss.cpp", "bindings.cpp")]
# The file, in the build folder, that remembers a failed build (its reason, as JSON).
BUILD_FAILED = "seqae-build-failed.json"
RETRY_HINT = "run 'seqae build-kernels' to try again and see the compiler's output"
# torch's loader holds the file ``lock`` in the build folder while one process builds, and every other process
# sleeps until it is gone. A build killed half-way leaves it behind, and then every later fit waits for ever
# without a word. A build takes about a minute, so a lock older than this is such a leftover.
STALE_LOCK_S = 900
_log = logging.getLogger("seqae")


@dataclass(frozen=True)
class KernelStatus:
    """Which LSTM runs on the CPU, and why."""

    path: str          # "fused AVX-512 kernels", "fused portable kernels" or "nn.LSTM"
    reason: str        # why that path: built, switched off, not built yet, or the build's error
    build_dir: Path    # where the kernels are (or would be) built


def switched_off() -> bool:
    """``SEQAE_FUSED_LSTM=0`` (or false/no/off) in the environment."""
    return os.environ.get("SEQAE_FUSED_LSTM", "1").strip().lower() in ("0", "false", "no", "off")


def _capability() -> str:
    return torch.backends.cpu.get_cpu_capability().lower()            # "avx2", "avx512" or "default"


def _name() -> str:
    return f"seqae_lstm_cpu_{_capability()}"


def build_dir() -> Path:
    """The kernels' build folder: one per torch installation and seqae checkout (version, Python, and where each
    lies: torch rebuilds an extension whose include paths or source paths changed, so two environments, or two
    checkouts of seqae run with one torch, sharing a folder would rebuild it in turn), under torch's extension
    root ($TORCH_EXTENSIONS_DIR or its default)."""
    from torch.utils import cpp_extension

    root = os.environ.get("TORCH_EXTENSIONS_DIR") or cpp_extension.get_default_build_root()
    places = f"{Path(torch.__file__).resolve().parent}|{Path(__file__).resolve().parent}"
    where = hashlib.sha256(places.encode()).hexdigest()[:8]
    py = f"py{sys.version_info.major}{sys.version_info.minor}"
    return Path(root) / f"{_name()}-torch{torch.__version__}-{py}-{where}"


def _compiler_flags(capability: str) -> tuple[list[str], list[str]]:
    """Compiler and linker flags of the kernel for torch's CPU capability ("avx2", "avx512" or "default")."""
    # Vector flags only where torch itself found the instructions, so a cached build never meets a CPU
    # without them; -fno-trapping-math lets the compiler turn the clamps in the gate loop into vector blends.
    flags = ["-O3", "-fno-trapping-math", "-fno-math-errno"]
    if capability in ("avx2", "avx512"):
        flags += ["-mavx2", "-mfma"]
    if capability == "avx512":
        # The steps and weight gradients in 512-bit registers (csrc/lstm_avx512*.cpp); torch reports "avx512"
        # only where the CPU has AVX-512 F, BW, VL and DQ.
        flags += ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq"]
    ldflags = []
    if sys.platform.startswith("linux") and torch.backends.openmp.is_available():
        # The kernel splits a batch's rows over torch's threads (at::parallel_for, OpenMP). It links
        # libgomp.so.1 by name, and the dynamic loader hands it the copy torch has already loaded (same
        # soname), so one OpenMP runtime and one thread pool serve both. Without OpenMP it runs on one thread.
        flags.append("-fopenmp")
        ldflags.append("-fopenmp")
    return flags, ldflags


@contextlib.contextmanager
def _ninja_on_path():
    """torch finds ``ninja`` on PATH only; a console script run without activating its environment does not have
    the environment's ``bin`` there. Put the ``ninja`` package's binary on PATH for the build where none is."""
    if shutil.which("ninja") is not None:
        yield
        return
    try:
        import ninja
        bin_dir = ninja.BIN_DIR
    except (ImportError, AttributeError):
        yield                           # torch then says that ninja is missing, and that becomes the reason
        return
    previous = os.environ.get("PATH", "")
    os.environ["PATH"] = bin_dir + os.pathsep + previous
    try:
        yield
    finally:
        os.environ["PATH"] = previous


def _reason(exc: BaseException) -> str:
    """The line of a failed build that says why (torch's message holds every command line ninja ran)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    telling = [line for line in lines if re.search(r"error|not found|no such file|fatal", line, re.IGNORECASE)
               and not line.startswith(("[", "FAILED:", "Error building extension"))]
    return (telling[0] if telling else lines[-1])[:300]


def _remembered_failure(build: Path) -> str | None:
    """The reason of an earlier failed build of this installation, or None."""
    try:
        return str(json.loads((build / BUILD_FAILED).read_text())["reason"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remember_failure(build: Path, reason: str) -> None:
    """Write the reason atomically (a half-written file would read as no failure and retry, which is harmless)."""
    try:
        build.mkdir(parents=True, exist_ok=True)
        tmp = build / f".{BUILD_FAILED}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"reason": reason, "torch": torch.__version__, "python": sys.version.split()[0],
                                   "cxx": os.environ.get("CXX", "c++")}))
        os.replace(tmp, build / BUILD_FAILED)
    except OSError:
        pass                            # an unwritable cache: the next process tries the build again


def _clear_stale_lock(build: Path) -> bool:
    """Remove torch's build lock where it is older than ``STALE_LOCK_S`` (left by a killed build), saying so; say
    that this process waits where a younger one is there. True where one was removed."""
    lock = build / "lock"
    try:
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return False
    if age < STALE_LOCK_S:
        _log.warning("seqae: waiting for another process's build of the fused CPU LSTM kernel (%s exists; "
                     "delete it if no build is running)", lock)
        return False
    with contextlib.suppress(FileNotFoundError):
        lock.unlink()
    _log.warning("seqae: removed %s, left %.0f minutes ago by a build that did not finish; building again",
                 lock, age / 60)
    return True


def _load(build: Path, verbose: bool):
    flags, ldflags = _compiler_flags(_capability())
    from torch.utils import cpp_extension

    build.mkdir(parents=True, exist_ok=True)
    _clear_stale_lock(build)
    # torch's compiler check logs a many-line banner ("!! WARNING !!") for a compiler it does not know; the
    # build's own outcome is what seqae reports, in one line (``seqae build-kernels`` shows everything).
    torch_log = logging.getLogger("torch.utils.cpp_extension")
    level = torch_log.level
    if not verbose:
        torch_log.setLevel(logging.ERROR)
    try:
        with _ninja_on_path(), warnings.catch_warnings():
            if not verbose:
                warnings.simplefilter("ignore")
            return cpp_extension.load(name=_name(), sources=_SOURCES, extra_cflags=flags, extra_ldflags=ldflags,
                                      build_directory=str(build), verbose=verbose)
    finally:
        torch_log.setLevel(level)


@functools.cache
def extension():
    """The compiled kernel module, or None where it is switched off or cannot be built (warned once per process;
    a failed build is remembered for the installation, see the module's docstring)."""
    if switched_off():
        return None
    build = build_dir()
    remembered = _remembered_failure(build)
    if remembered is not None:
        warnings.warn(f"the fused CPU LSTM kernel did not build on this installation earlier ({remembered}); "
                      f"using torch's nn.LSTM, which is several times slower; {RETRY_HINT}", RuntimeWarning,
                      stacklevel=3)
        return None
    try:
        if not any(build.glob(f"{_name()}*.so")):
            # Once per machine (logging's default handler prints warnings): the first fit would otherwise pause
            # for half a minute without a word.
            _log.warning("seqae: building the fused CPU LSTM kernel for this machine (once, under a minute; "
                         "'seqae build-kernels' does it ahead of time)")
        return _load(build, verbose=False)
    except (OSError, RuntimeError, ImportError, ValueError, SystemExit) as exc:
        # No compiler, no ninja, a failed build or an unloadable library: the model still runs, on torch's kernel.
        # (torch's loader ends with SystemExit where a compiler is missing altogether.)
        reason = _reason(exc)
        _remember_failure(build, reason)
        warnings.warn(f"the fused CPU LSTM kernel could not be built ({reason}); using torch's nn.LSTM, which is "
                      f"several times slower; {RETRY_HINT}. Set SEQAE_FUSED_LSTM=0 to silence this.",
                      RuntimeWarning, stacklevel=3)
        return None


def path_name() -> str:
    """The name of the kernel path this CPU takes where the kernels run."""
    return "fused AVX-512 kernels" if _capability() == "avx512" else "fused portable kernels"


def kernel_status() -> KernelStatus:
    """Which LSTM path a CPU fit would take now, without building anything."""
    build = build_dir()
    if switched_off():
        return KernelStatus("nn.LSTM", "switched off by SEQAE_FUSED_LSTM=0", build)
    if extension.cache_info().currsize:              # this process already decided
        if extension() is not None:
            return KernelStatus(path_name(), f"built for torch's CPU capability '{_capability()}'", build)
        remembered = _remembered_failure(build)
        return KernelStatus("nn.LSTM", f"the build failed: {remembered or 'see the warning above'}", build)
    remembered = _remembered_failure(build)
    if remembered is not None:
        return KernelStatus("nn.LSTM", f"the build failed: {remembered}; {RETRY_HINT}", build)
    if any(build.glob(f"{_name()}*.so")):
        return KernelStatus(path_name(), f"built for torch's CPU capability '{_capability()}'", build)
    return KernelStatus(path_name(), "not built yet: it builds at the first fit (under a minute), or run "
                                      "'seqae build-kernels'", build)


def build_kernels(verbose: bool = True) -> KernelStatus:
    """Build the kernels now (again where an earlier build failed), for images and CI. Returns the status; where
    the build fails, the status says why (the compiler's output was printed with ``verbose``)."""
    build = build_dir()
    if switched_off():
        return KernelStatus("nn.LSTM", "switched off by SEQAE_FUSED_LSTM=0; nothing built", build)
    with contextlib.suppress(FileNotFoundError):
        (build / BUILD_FAILED).unlink()
    extension.cache_clear()
    try:
        module = _load(build, verbose=verbose)
    except (OSError, RuntimeError, ImportError, ValueError, SystemExit) as exc:
        reason = _reason(exc)
        _remember_failure(build, reason)
        return KernelStatus("nn.LSTM", f"the build failed: {reason}", build)
    del module
    # The process that built them uses them from now on (torch's loader finds the build up to date: a lookup).
    extension.cache_clear()
    if extension() is None:
        return kernel_status()
    return KernelStatus(path_name(), f"built for torch's CPU capability '{_capability()}'", build)
