"""Data preparation: validation, scaling, windows, padding and length-grouped batching (numpy and torch, no models).

Reading and writing files is :mod:`seqae.io`; what comes out of it, or any array or DataFrame, is checked and
prepared here: :func:`check_sequences` for collections, :func:`check_series` for one time series.

The names below load with their module on first use: batching needs torch, and a reader that only wants the
checks' limits (:mod:`seqae.io`) should not wait for it.
"""
from importlib import import_module

# name -> the module under seqae.preprocessing that defines it
_HOMES = {
    "FeatureScaler": "scaling",
    "PaddedBatch": "batching",
    "SequenceInput": "validation",
    "SeriesInput": "series_validation",
    "check_sequences": "validation",
    "check_series": "series_validation",
    "length_grouped_batches": "batching",
    "pad_sequences": "batching",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # once loaded, a plain attribute (and one a test may patch)
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
