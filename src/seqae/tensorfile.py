"""One file = safetensors tensors + a JSON document in the safetensors header; written atomically.

Used by model files (``persistence``) and training checkpoints (``training.checkpoint``). Reading never
unpickles: the header is parsed as JSON here and the tensors by the ``safetensors`` library, which checks
that every tensor's offsets lie inside the file; a SHA-256 digest of the document and the tensors, stored in
the header, catches any other damage (a flipped bit in a weight would otherwise load as a model that outputs
NaN or inf).
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as _load_tensors
from safetensors.torch import save as _save_tensors

from seqae.exceptions import ModelFileError

_METADATA_KEY = "seqae"
# SHA-256 over the document and every tensor's name, dtype, shape and bytes: a damaged or edited file is refused
# instead of loading weights that output NaN or a different model. Files written before it existed have no such
# key and are read without this check (the other checks still apply).
_DIGEST_KEY = "seqae_sha256"
# safetensors itself refuses headers over 100 MB; ours are a few KB, so anything far larger is corruption.
_MAX_HEADER_BYTES = 100_000_000


def _default_mode() -> int:
    """Permissions a newly created file gets (0o666 minus the umask), as ``open`` would give it."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)  # no portable way to read it without setting it
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort; not possible on every platform)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes to ``path`` via a temporary file in the same folder and ``os.replace``.

    A crash or a full disk half-way leaves the previous file at ``path`` untouched and no temporary file behind.
    The file gets the permissions of the file it replaces, or the usual ones (0o666 minus the umask) when new,
    not the owner-only permissions of a temporary file.
    """
    path = Path(path)
    folder = path.parent  # Path("m.seqae").parent is Path(".")
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = _default_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        # Also on KeyboardInterrupt: never leave a half-written temporary behind.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(folder)


def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().to("cpu").contiguous()
    if t.numel() == 0:
        return b""
    return t.reshape(-1).view(torch.uint8).numpy().tobytes()


def _digest(tensors: dict[str, torch.Tensor], document_json: str) -> str:
    h = hashlib.sha256(b"seqae-tensorfile-digest-1\0")
    h.update(document_json.encode("utf-8"))
    for name in sorted(tensors):
        t = tensors[name]
        # Name, dtype and shape fix the length of the bytes that follow, so the framing is unambiguous.
        h.update(b"\0" + json.dumps([name, str(t.dtype), list(t.shape)]).encode("utf-8") + b"\0")
        h.update(_tensor_bytes(t))
    return h.hexdigest()


def dump_tensor_file(tensors: dict[str, torch.Tensor], document: dict[str, Any]) -> bytes:
    """Serialise tensors and a JSON-able document to safetensors bytes."""
    # safetensors wants contiguous CPU tensors that do not share memory.
    flat = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    document_json = json.dumps(document, allow_nan=False)
    return _save_tensors(flat, metadata={_METADATA_KEY: document_json, _DIGEST_KEY: _digest(flat, document_json)})


def save_tensor_file(path: str | os.PathLike, tensors: dict[str, torch.Tensor], document: dict[str, Any]) -> None:
    write_atomic(path, dump_tensor_file(tensors, document))


def _data_bytes_needed(header: dict) -> int | None:
    """End of the last tensor according to the header, or None if the header is not well-formed (safetensors
    then reports what is wrong with it)."""
    ends = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
            return None
        ends.append(offsets[1])
    return max(ends, default=0)


def load_tensor_file(path: str | os.PathLike, what: str = "seqae file",
                     check_document: Callable[[dict], None] | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a file written by :func:`save_tensor_file`.

    Parameters
    ----------
    path : path to the file
    what : str
        What the file should be, for messages.
    check_document : callable, optional
        Called with the JSON document before the tensors are read and the checksum verified, so that, for
        example, a file from a newer format is refused with "upgrade" rather than reported as corrupted.

    Raises
    ------
    ModelFileError
        Missing, unreadable, truncated or corrupted file (checksum mismatch), or a safetensors file without a
        seqae document.
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
        metadata = header["__metadata__"]
        document_json = metadata[_METADATA_KEY]
        if not isinstance(document_json, str):
            raise TypeError("the seqae document is not a string")
        document = json.loads(document_json)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError, RecursionError):
        # ValueError includes JSONDecodeError and over-long integers; RecursionError: absurdly deep nesting.
        raise ModelFileError(f"{str(path)!r} is not a {what}: no readable seqae header "
                             "(a pickle, another format, or a corrupted file)") from None
    if not isinstance(document, dict):
        raise ModelFileError(f"{str(path)!r}: the seqae header is not a JSON object")
    if check_document is not None:
        check_document(document)
    stored, needed = len(data) - 8 - header_len, _data_bytes_needed(header)
    if needed is not None and stored < needed:
        raise ModelFileError(f"{str(path)!r} is truncated: its header describes {needed} bytes of tensors but the "
                             f"file holds {stored}")
    try:
        tensors = _load_tensors(data)
    except Exception as exc:  # noqa: BLE001 - whatever the parser trips over in a damaged file, it is damaged
        kind = "SafetensorError" if isinstance(exc, SafetensorError) else type(exc).__name__
        raise ModelFileError(f"{str(path)!r} is corrupted: its tensors cannot be read "
                             f"({kind}: {str(exc).splitlines()[0][:300] if str(exc) else ''})") from None
    expected = metadata.get(_DIGEST_KEY)
    if expected is not None and expected != _digest(tensors, document_json):
        raise ModelFileError(f"{str(path)!r} is corrupted: its checksum does not match its contents "
                             "(the file was damaged or edited after it was written)")
    return tensors, document
