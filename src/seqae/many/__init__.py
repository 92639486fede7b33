"""Many series or sequences in one call, on pandas in this process or on Dask, Spark or Ray through Fugue.

- :func:`detect_many`: one :class:`~seqae.AnomalyDetector` per series of a long table, fitted on each series'
  first part and scoring all of it;
- :func:`score_many`: one saved detector over many series;
- :func:`embed_many`: one saved :class:`~seqae.LSTMAutoencoder` over many sequences.

Each returns a :class:`ManyResult` (``scores``, ``events``, ``failures``, ``n_failed``). With ``output=`` (detect
and score), the workers write the results into a directory instead and a :class:`ManyOutput` (paths and counts)
comes back; :func:`read_output` reads such a directory. :data:`DASK_WORKER_CONFIG`: the Dask settings seqae's own
local clusters start their workers with (``dask.config.set(DASK_WORKER_CONFIG)`` before starting yours).
"""
from seqae.many._engine import DASK_WORKER_CONFIG
from seqae.many._output import ManyOutput, read_output
from seqae.many._result import ManyResult
from seqae.many.api import detect_many, embed_many, score_many

__all__ = ["DASK_WORKER_CONFIG", "ManyOutput", "ManyResult", "detect_many", "embed_many", "read_output",
           "score_many"]
