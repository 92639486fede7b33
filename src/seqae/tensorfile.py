"""One file = safetensors tensors + a JSON document in the safetensors header; written atomically.

Used by model files (``persistence``) and training checkpoints (``training.checkpoint``). Reading never
unpickles: the header is parsed as JSON here and the tensors by the ``safetensors`` library, which checks
that every tensor's offsets lie inside the file.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as _load_tensors
from safetensors.torch import save as _save_tensors

from seqae.exceptions import ModelFileError

_METADATA_KEY = "seqae"
# safetensors itself refuses headers over 100 MB; ours are a few KB, so anything far larger is corruption.
_MAX_HEADER_BYTES = 100_000_000


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes to ``path`` via a temporary file in the same folder and ``os.replace``.

    A crash or a full disk half-way leaves the previous file at ``path`` untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Also on KeyboardInterrupt: never leave a half-written temporary behind.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def dump_tensor_file(tensors: dict[str, torch.Tensor], document: dict[str, Any]) -> bytes:
    """Serialise tensors and a JSON-able document to safetensors bytes."""
    # safetensors wants contiguous CPU tensors that do not share memory.
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    return _save_tensors(flat, metadata={_METADATA_KEY: json.dumps(document, allow_nan=False)})


def save_tensor_file(path: str | os.PathLike, tensors: dict[str, torch.Tensor], document: dict[str, Any]) -> None:
    write_atomic(path, dump_tensor_file(tensors, document))


def load_tensor_file(path: str | os.PathLike, what: str = "seqae file") -> tuple[dict[str, torch.Tensor], dict]:
    """Read a file written by :func:`save_tensor_file`.

    Raises
    ------
    ModelFileError
        Missing, unreadable, truncated or corrupted file, or a safetensors file without a seqae document.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{what} {str(path)!r} does not exist") from None
    except (IsADirectoryError, PermissionError, OSError) as exc:
        raise ModelFileError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}") from None
    if len(data) < 8:
        raise ModelFileError(f"{str(path)!r} is not a {what}: only {len(data)} bytes (truncated or empty)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > min(len(data) - 8, _MAX_HEADER_BYTES):
        raise ModelFileError(f"{str(path)!r} is not a {what}: its header claims {header_len} bytes but the file "
                             f"has {len(data)} (truncated, or not a safetensors file)")
    try:
        header = json.loads(data[8:8 + header_len].decode("utf-8"))
        document = json.loads(header["__metadata__"][_METADATA_KEY])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        raise ModelFileError(f"{str(path)!r} is not a {what}: no readable seqae header "
                             "(a pickle, another format, or a corrupted file)") from None
    if not isinstance(document, dict):
        raise ModelFileError(f"{str(path)!r}: the seqae header is not a JSON object")
    try:
        tensors = _load_tensors(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{str(path)!r} is corrupted: its tensors cannot be read ({exc})") from None
    return tensors, document
