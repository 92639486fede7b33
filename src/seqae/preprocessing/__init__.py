"""Data preparation: validation, scaling, windows, padding and length-grouped batching (numpy and torch, no models).

Reading and writing files is :mod:`seqae.io`; what comes out of it, or any array or DataFrame, is checked and
prepared here: :func:`check_sequences` for collections, :func:`check_series` for one time series.
"""
from seqae.preprocessing.batching import PaddedBatch, length_grouped_batches, pad_sequences
from seqae.preprocessing.scaling import FeatureScaler
from seqae.preprocessing.series_validation import SeriesInput, check_series
from seqae.preprocessing.validation import SequenceInput, check_sequences

__all__ = [
    "FeatureScaler",
    "PaddedBatch",
    "SequenceInput",
    "SeriesInput",
    "check_sequences",
    "check_series",
    "length_grouped_batches",
    "pad_sequences",
]
