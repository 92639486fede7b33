"""Data preparation: validation, scaling, padding and length-grouped batching (numpy and torch, no models)."""
from seqae.preprocessing.batching import PaddedBatch, length_grouped_batches, pad_sequences
from seqae.preprocessing.scaling import FeatureScaler
from seqae.preprocessing.validation import SequenceInput, check_sequences

__all__ = [
    "FeatureScaler",
    "PaddedBatch",
    "SequenceInput",
    "check_sequences",
    "length_grouped_batches",
    "pad_sequences",
]
