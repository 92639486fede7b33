"""SequenceAnomalyDetector's score="neighbors": the distance, leave-one-out training scores, persistence."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from seqae import SequenceAnomalyDetector, load
from seqae.datasets import make_sine_collection
from seqae.detection.neighbors import knn_distance

SMALL = dict(hidden_size=8, latent_dim=4, epochs=2, min_steps=30, random_state=0, num_threads=1)


def test_knn_distance_matches_brute_force():
    rng = np.random.default_rng(0)
    ref, q = rng.normal(size=(50, 7)), rng.normal(size=(2100, 7))  # more queries than one block
    d = cdist(q, ref)
    for k in (1, 3):
        np.testing.assert_allclose(knn_distance(ref, q, k), np.sort(d, axis=1)[:, :k].mean(axis=1), rtol=1e-9)


def test_leave_one_out_excludes_only_the_row_itself():
    ref = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0]])   # a duplicate still counts as a neighbour
    assert knn_distance(ref, ref, 1, leave_one_out=True).tolist() == [0.0, 0.0, 5.0]
    with pytest.raises(ValueError, match="n_neighbors=3 needs at least 4"):
        knn_distance(ref, ref, 3, leave_one_out=True)


def test_a_sequence_unlike_the_training_ones_scores_higher():
    X = make_sine_collection(40, random_state=0)
    det = SequenceAnomalyDetector(**SMALL).fit(X)
    assert det.decision_scores_.shape == (40,) and np.all(det.decision_scores_ > 0)  # not scored against itself
    odd = [np.full((len(X[0]), X[0].shape[1]), 5.0)]                                   # flat, far from every sine
    assert det.decision_function(odd)[0] > det.decision_scores_.max()
    assert det.predict(odd).tolist() == [1]


def test_neighbors_state_saves_and_loads(tmp_path):
    X = make_sine_collection(30, random_state=1)
    det = SequenceAnomalyDetector(n_neighbors=2, **SMALL).fit(X)
    det.save(tmp_path / "d.seqae")
    back = load(tmp_path / "d.seqae")
    assert back.score == "neighbors" and back.reference_embeddings_.shape == det.reference_embeddings_.shape
    np.testing.assert_array_equal(back.decision_function(X[:6]), det.decision_function(X[:6]))


def test_reconstruction_score_is_the_mean_error_and_saves_no_embeddings(tmp_path):
    X = make_sine_collection(30, random_state=2)
    det = SequenceAnomalyDetector(score="reconstruction", **SMALL).fit(X)
    np.testing.assert_allclose(det.decision_function(X), det.autoencoder_.reconstruction_error(X), rtol=1e-6)
    det.save(tmp_path / "r.seqae")
    back = load(tmp_path / "r.seqae")
    assert back.score == "reconstruction" and not hasattr(back, "reference_embeddings_")


def test_too_few_sequences_for_the_neighbours_is_a_clear_error():
    X = make_sine_collection(3, random_state=0)
    with pytest.raises(ValueError, match="n_neighbors=3 needs more than 3 training sequences"):
        SequenceAnomalyDetector(n_neighbors=3, **SMALL).fit(X)
    with pytest.raises(ValueError, match="score must be one of"):
        SequenceAnomalyDetector(score="knn", **SMALL).fit(make_sine_collection(10, random_state=0))
