"""AnomalyDetector(repair_training=True): a second fit on the training series with the first fit's events repaired."""
import numpy as np
import pytest

from seqae import AnomalyDetector, load
from seqae.preprocessing.series_validation import repaired

FAST = dict(epochs=8, hidden_size=16, latent_dim=8, max_train_windows=512, num_threads=1, random_state=0)


def _series_with_a_bump(n=1500, at=900, length=30):
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(n) / 8.0) + 0.1 * rng.standard_normal(n)
    x[at:at + length] += 3.0
    return x, slice(at, at + length)


def test_repaired_draws_a_line_over_each_widened_event_and_keeps_the_input():
    values = np.arange(10, dtype=np.float64)[:, None] ** 2          # (10, 1)
    before = values.copy()
    out = repaired(values, np.array([[4, 4]]), widen=1)
    np.testing.assert_array_equal(values, before)                   # a copy
    np.testing.assert_allclose(out[3:6, 0], np.linspace(4.0, 36.0, 5)[1:4])   # between 2**2 and 6**2
    np.testing.assert_array_equal(out[[0, 1, 2, 6, 7, 8, 9]], values[[0, 1, 2, 6, 7, 8, 9]])
    # at an end: the value at its other edge; the whole series: left as it was
    np.testing.assert_array_equal(repaired(values, np.array([[0, 1]]), widen=0)[:2, 0], [4.0, 4.0])
    np.testing.assert_array_equal(repaired(values, np.array([[0, 9]]), widen=0), values)


def test_a_training_anomaly_scores_higher_after_the_repair():
    x, bump = _series_with_a_bump(n=2000, at=1200)
    # the default model: one small enough to learn little of the bump shows little of the repair
    plain = AnomalyDetector(num_threads=1, random_state=0).fit(x)
    repair = AnomalyDetector(num_threads=1, random_state=0, repair_training=True).fit(x)

    def contrast(det):
        s = det.decision_function(x)
        return s[bump].mean() / np.median(s)

    # the first fit learnt some of the bump; the second never saw it
    assert contrast(repair) > 2 * contrast(plain)
    # PyOD's training scores and labels are those of the series as given: the bump is flagged in labels_
    np.testing.assert_allclose(repair.decision_scores_, repair.decision_function(x), rtol=0.05, atol=1e-6)
    assert repair.labels_[bump].all()


def test_without_repair_nothing_changes_and_the_parameter_is_checked():
    x, _ = _series_with_a_bump()
    a = AnomalyDetector(**FAST).fit(x)
    b = AnomalyDetector(**FAST, repair_training=False).fit(x)
    np.testing.assert_array_equal(a.decision_function(x), b.decision_function(x))
    with pytest.raises(ValueError, match="repair_training"):
        AnomalyDetector(repair_training="yes").fit(x)


def test_repair_checkpoints_the_second_fit_beside_the_first_and_saves(tmp_path):
    x, _ = _series_with_a_bump()
    ckpt = tmp_path / "fit.ckpt"
    det = AnomalyDetector(**FAST, repair_training=True).fit(x, checkpoint=ckpt)
    assert ckpt.exists() and (tmp_path / "fit.ckpt-repaired").exists()
    again = AnomalyDetector(**FAST, repair_training=True).fit(x, checkpoint=ckpt)    # both resume
    np.testing.assert_array_equal(det.decision_function(x), again.decision_function(x))
    det.save(tmp_path / "d.seqae")
    loaded = load(tmp_path / "d.seqae")
    assert loaded.repair_training is True
    np.testing.assert_array_equal(loaded.decision_function(x), det.decision_function(x))


def test_repaired_events_are_the_first_fits_events_and_survive_a_save(tmp_path):
    x, bump = _series_with_a_bump()
    det = AnomalyDetector(**FAST, repair_training=True).fit(x)
    events = det.repaired_events_
    assert events.ndim == 2 and events.shape[1] == 2 and len(events)
    assert ((events[:, 0] < bump.stop) & (events[:, 1] >= bump.start)).any()      # the bump was repaired
    det.save(tmp_path / "d.seqae")
    np.testing.assert_array_equal(load(tmp_path / "d.seqae").repaired_events_, events)
    assert len(AnomalyDetector(**FAST).fit(x).repaired_events_) == 0
