"""The sktime/aeon ``.ts`` format of the UEA/UCR classification archive: a header of ``@`` tags, then one case per
line (channels separated by ``:``, values by ``,``, the label last)."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from seqae.exceptions import DataFileError
from seqae.io._files import as_path, check_missing, decode_utf8, read_bytes
from seqae.io.collection import SequenceCollection
from seqae.preprocessing.validation import FLOAT32_MAX

_TS_BOOL_TAGS = ("@timestamps", "@missing", "@univariate", "@equallength", "@targetlabel")
_TS_INT_TAGS = ("@dimensions", "@dimension", "@serieslength")


def _parse_ts_values(text: str, path: Path, lineno: int, channel: int, missing: str) -> np.ndarray:
    """Parse one channel ``"1.0,2.5,?"`` into float64, missing values (``?`` or NaN) as NaN."""
    tokens = text.split(",")
    values = np.empty(len(tokens), dtype=np.float64)
    where = f"{path}, line {lineno}, channel {channel}"
    for j, raw_token in enumerate(tokens):
        token = raw_token.strip()
        if token == "?":
            value = math.nan
        else:
            try:
                value = float(token)
            except ValueError:
                shown = token if len(token) <= 40 else token[:40] + "..."
                raise DataFileError(f"{where}, value {j + 1}: {shown!r} is not a number") from None
            if math.isinf(value) or abs(value) > FLOAT32_MAX:
                raise DataFileError(f"{where}, value {j + 1}: {token!r} is infinite or too large for float32 "
                                    f"(|x| > {FLOAT32_MAX:.4g})")
        if math.isnan(value) and missing == "raise":
            raise DataFileError(f"{where}, value {j + 1}: missing value {token!r}; pass missing='nan' to keep "
                                "missing values as NaN")
        values[j] = value
    return values


def read_ts(path: str | os.PathLike, *, missing: str = "raise") -> SequenceCollection:
    """Read a file in the sktime/aeon ``.ts`` format (the UEA/UCR archive format).

    The header (lines starting with ``@``, before ``@data``) may give ``@problemName``, ``@timeStamps``,
    ``@missing``, ``@univariate``, ``@dimensions``, ``@equalLength``, ``@seriesLength``, ``@classLabel`` and
    ``@targetLabel``; tag names are case-insensitive and unknown tags are ignored (newer writers add some).
    After ``@data`` comes one case per line: channels separated by ``:``, values within a channel by ``,``,
    and the class label (or regression target) last when the header declares one. Lines starting with ``#``
    and blank lines are skipped anywhere.

    The declared header is enforced: the channel count must agree with ``@dimensions``/``@univariate`` and
    be the same on every line, lengths must agree with ``@equalLength``/``@seriesLength``, and each class
    label must be one of the declared ones. Within one case all channels must have the same length (a case
    becomes one ``(T, F)`` array). Timestamped files (``@timeStamps true``) are not supported.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.ts`` file (UTF-8).
    missing : {"raise", "nan"}, default "raise"
        What to do with missing values (``?``, or a literal NaN): raise a :class:`DataFileError` naming the
        line, or keep them as NaN.

    Returns
    -------
    SequenceCollection
        ``X[i]`` float32 of shape ``(T_i, F)``; ``y`` an object array of ``str`` class labels, a float64
        array of regression targets (``@targetLabel true``), or ``None``; ``ids`` is ``arange(n)``.

    Raises
    ------
    DataFileError
        If the file is missing, unreadable, empty or malformed; the message names the file and the line.
    InputError
        For an invalid argument.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "tiny.ts"
    >>> _ = p.write_text("@problemName tiny\\n@classLabel true a b\\n@data\\n1,2,3:4,5,6:a\\n7,8:9,10:b\\n")
    >>> X, y, ids = read_ts(p)
    >>> [x.shape for x in X], list(y)
    ([(3, 2), (2, 2)], ['a', 'b'])
    """
    path = as_path(path)
    missing = check_missing(missing)
    text = decode_utf8(read_bytes(path), path)
    if not text.strip():
        raise DataFileError(f"{path}: the file is empty")

    header: dict[str, Any] = {}
    header_line: dict[str, int] = {}
    labels: list[str] | None = None
    in_data = False
    data_line = 0
    X: list[np.ndarray] = []
    y: list[Any] = []
    n_channels: int | None = None
    channels_from = ""
    first_length: tuple[int, int] | None = None  # (length, line) of the first case, for @equalLength

    # Split on "\n" only (not str.splitlines, which also splits on rare control characters) so that line
    # numbers match what an editor shows.
    for lineno, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            if in_data:
                raise DataFileError(f"{path}, line {lineno}: header tag {line.split()[0]!r} after @data "
                                    f"(line {data_line})")
            parts = line.split(None, 1)
            tag, value = parts[0].lower(), (parts[1].strip() if len(parts) > 1 else "")
            if tag == "@data":
                in_data, data_line = True, lineno
                if header.get("@classlabel") and header.get("@targetlabel"):
                    raise DataFileError(f"{path}, line {lineno}: the header declares both @classLabel true and "
                                        "@targetLabel true")
                if header.get("@timestamps"):
                    raise DataFileError(f"{path}, line {header_line['@timestamps']}: timestamped .ts files "
                                        "(@timeStamps true) are not supported")
                dims = header.get("@dimensions", header.get("@dimension"))
                if header.get("@univariate") is True:
                    if dims is not None and dims != 1:
                        raise DataFileError(f"{path}: the header declares @univariate true but @dimensions {dims}")
                    n_channels, channels_from = 1, f"@univariate true (line {header_line['@univariate']})"
                elif dims is not None:
                    tag_name = "@dimensions" if "@dimensions" in header else "@dimension"
                    n_channels, channels_from = dims, f"{tag_name} {dims} (line {header_line[tag_name]})"
                continue
            if tag in header:
                raise DataFileError(f"{path}, line {lineno}: {parts[0]} given twice (first on line "
                                    f"{header_line[tag]})")
            if tag in _TS_BOOL_TAGS:
                if value.lower() not in ("true", "false"):
                    raise DataFileError(f"{path}, line {lineno}: {parts[0]} must be true or false, got {value!r}")
                header[tag] = value.lower() == "true"
            elif tag in _TS_INT_TAGS:
                if not value.isdigit() or int(value) < 1:  # isdigit: no sign, no spaces, no decimals
                    raise DataFileError(f"{path}, line {lineno}: {parts[0]} must be a positive integer, "
                                        f"got {value!r}")
                header[tag] = int(value)
            elif tag == "@classlabel":
                words = value.split()
                if not words or words[0].lower() not in ("true", "false"):
                    raise DataFileError(f"{path}, line {lineno}: @classLabel must be 'true <labels...>' or "
                                        f"'false', got {value!r}")
                header[tag] = words[0].lower() == "true"
                if header[tag]:
                    labels = words[1:]
                    if not labels:
                        raise DataFileError(f"{path}, line {lineno}: @classLabel true lists no labels")
                elif len(words) > 1:
                    raise DataFileError(f"{path}, line {lineno}: @classLabel false cannot list labels")
            else:
                header[tag] = value  # @problemName and tags unknown to us: kept, not used
            header_line[tag] = lineno
            continue

        if not in_data:
            raise DataFileError(f"{path}, line {lineno}: data before the @data line (is @data missing?)")

        # --- one case
        parts = line.split(":")
        label: Any = None
        if header.get("@classlabel") or header.get("@targetlabel"):
            if len(parts) < 2:
                raise DataFileError(f"{path}, line {lineno}: expected the channels followed by ':<label>', "
                                    "found no ':'")
            label_text = parts.pop().strip()
            if header.get("@classlabel"):
                assert labels is not None
                if label_text not in labels:
                    shown = " ".join(labels[:20]) + (" ..." if len(labels) > 20 else "")
                    raise DataFileError(f"{path}, line {lineno}: class label {label_text!r} is not one of the "
                                        f"declared labels ({shown}, line {header_line['@classlabel']})")
                label = label_text
            else:
                try:
                    label = float(label_text)
                except ValueError:
                    raise DataFileError(f"{path}, line {lineno}: target {label_text!r} is not a number") from None
                if not math.isfinite(label):
                    raise DataFileError(f"{path}, line {lineno}: target {label_text!r} is not finite")
        if n_channels is None:
            n_channels, channels_from = len(parts), f"the first case (line {lineno})"
        elif len(parts) != n_channels:
            raise DataFileError(f"{path}, line {lineno}: {len(parts)} channel(s), expected {n_channels} as set by "
                                f"{channels_from}")
        channels = []
        for c, part in enumerate(parts, start=1):
            if not part.strip():
                raise DataFileError(f"{path}, line {lineno}, channel {c}: no values")
            channels.append(_parse_ts_values(part, path, lineno, c, missing))
        lengths = {ch.size for ch in channels}
        if len(lengths) > 1:
            raise DataFileError(f"{path}, line {lineno}: the channels have different lengths "
                                f"({', '.join(str(ch.size) for ch in channels)})")
        length = channels[0].size
        if header.get("@equallength"):
            expected = header.get("@serieslength")
            if expected is not None and length != expected:
                raise DataFileError(f"{path}, line {lineno}: length {length}, but @seriesLength is {expected} "
                                    f"(line {header_line['@serieslength']})")
            if first_length is not None and length != first_length[0]:
                raise DataFileError(f"{path}, line {lineno}: length {length} differs from {first_length[0]} on "
                                    f"line {first_length[1]} although @equalLength is true")
        if first_length is None:
            first_length = (length, lineno)
        X.append(np.stack(channels, axis=1).astype(np.float32))
        y.append(label)

    if not in_data:
        raise DataFileError(f"{path}: no @data line, so no cases (is this a .ts file?)")
    if not X:
        raise DataFileError(f"{path}, line {data_line}: no cases after @data")
    if header.get("@classlabel"):
        y_arr: np.ndarray | None = np.array(y, dtype=object)
    elif header.get("@targetlabel"):
        y_arr = np.array(y, dtype=np.float64)
    else:
        y_arr = None
    return SequenceCollection(X, y_arr, np.arange(len(X), dtype=np.int64))
