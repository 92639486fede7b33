"""The errors seqae raises on purpose.

Every error a user can cause (bad data, a bad file, a model that diverged) is one of these, so that callers
(the CLI above all) can tell "the input is wrong" from "seqae has a bug". Each subclasses the builtin a user
would expect (``ValueError`` for bad values, ``RuntimeError`` for a failed run), so ``except ValueError`` still works.
"""


class SeqaeError(Exception):
    """Base class of all errors seqae raises on purpose."""


class InputError(SeqaeError, ValueError):
    """The data given is unusable: wrong shape, NaN, too short, wrong number of features, and so on."""


class DataFileError(InputError):
    """A data file (CSV, Parquet, .ts, .npz) cannot be read; the message names the file and, where known, the line."""


class MissingColumnError(DataFileError):
    """A table lacks columns it was asked for. ``missing`` names them; ``others`` are the table's remaining
    columns (neither asked for nor the time column), so that a caller can say what the file has instead."""

    def __init__(self, message: str, missing: list, others: list):
        super().__init__(message)
        self.missing = list(missing)
        self.others = list(others)


class MissingValueError(InputError):
    """A series holds missing values (NaN) where none are allowed. ``column`` is the column of the first one,
    ``position`` its row (0-based) and ``count`` how many there are in all, so that a caller can say where in its
    own words (the CLI counts rows from 1 and names its option)."""

    def __init__(self, message: str, column, position: int, count: int):
        super().__init__(message)
        self.column = column
        self.position = int(position)
        self.count = int(count)


class SeriesTooShortError(InputError):
    """A series has fewer points (``length``) than the model needs (``min_length``, the window)."""

    def __init__(self, message: str, length: int, min_length: int):
        super().__init__(message)
        self.length = int(length)
        self.min_length = int(min_length)


class ModelFileError(SeqaeError, ValueError):
    """A model file is missing, truncated, corrupted, not a seqae model, or from an incompatible version."""


class TrainingError(SeqaeError, RuntimeError):
    """Training could not produce a usable model (for example the loss was non-finite from the first epoch)."""
