"""The persistence registry (issue #19 item 2): each estimator registers itself with the file format, the format
imports no estimator, and every estimator the package exports saves and loads, also in a process that never
imported the estimator's module (``import seqae`` is lazy)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import seqae
from seqae import persistence
from seqae.exceptions import ModelFileError
from seqae.tensorfile import load_tensor_file, save_tensor_file

SRC = Path(seqae.__file__).parent
TINY = dict(hidden_size=4, latent_dim=2, epochs=1, batch_size=4, random_state=0, device="cpu")
ESTIMATORS = ("LSTMAutoencoder", "AnomalyDetector", "SequenceAnomalyDetector", "ConcatPooling")


def _collection():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((n, 2)) for n in range(5, 13)]


def _fitted(name):
    if name == "LSTMAutoencoder":
        return seqae.LSTMAutoencoder(**TINY).fit(_collection()), _collection(), "transform"
    if name == "SequenceAnomalyDetector":
        return seqae.SequenceAnomalyDetector(**TINY).fit(_collection()), _collection(), "decision_function"
    if name == "AnomalyDetector":
        x = np.sin(np.arange(80) / 3.0)[:, None]
        return seqae.AnomalyDetector(**TINY, window=8, stride=4).fit(x), x, "decision_function"
    models = [seqae.LSTMAutoencoder(**TINY), seqae.LSTMAutoencoder(**{**TINY, "random_state": 1})]
    return seqae.ConcatPooling(models, outputs=("latent", "max")).fit(_collection()), _collection(), "transform"


def test_persistence_imports_no_estimator_module():
    tree = ast.parse((SRC / "persistence.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | \
        {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    estimator_modules = {"seqae.autoencoder", "seqae.detection", "seqae.detection.series",
                         "seqae.detection.sequences", "seqae.detection.base", "seqae.embedding"}
    assert not imported & estimator_modules, imported & estimator_modules
    code = ("import sys, seqae.persistence; "
            "print(sorted(m for m in sys.modules if m in %r))" % sorted(estimator_modules))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_exported_estimator_is_registered_under_its_public_name():
    for name in ESTIMATORS:
        cls = getattr(seqae, name)
        assert persistence.registered()[name] is cls
        assert seqae._LAZY[name] in cls.__module__          # load's fallback for files without a module


@pytest.mark.parametrize("name", ESTIMATORS)
def test_every_exported_estimator_saves_and_loads_to_the_same_outputs(name, tmp_path):
    est, X, method = _fitted(name)
    path = tmp_path / f"{name}.seqae"
    est.save(path)
    loaded = seqae.load(path)
    assert type(loaded) is type(est)
    assert repr(loaded.get_params(deep=False)) == repr(est.get_params(deep=False))
    np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(est, method)(X))


def test_load_finds_the_class_when_its_module_was_never_imported(tmp_path):
    est, X, _ = _fitted("ConcatPooling")
    path = tmp_path / "pooling.seqae"
    est.save(path)
    np.save(tmp_path / "want.npy", est.transform(X))
    np.save(tmp_path / "x.npy", np.array(X, dtype=object), allow_pickle=True)
    code = (
        "import sys, numpy as np, seqae\n"
        "assert 'seqae.embedding' not in sys.modules\n"
        f"m = seqae.load({str(path)!r})\n"
        "assert type(m).__name__ == 'ConcatPooling' and type(m).__module__ == 'seqae.embedding'\n"
        f"X = list(np.load({str(tmp_path / 'x.npy')!r}, allow_pickle=True))\n"
        f"np.testing.assert_array_equal(m.transform(X), np.load({str(tmp_path / 'want.npy')!r}))\n"
        "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "ok", proc.stderr[-2000:]


def _doc(cls_name, module):
    return {"format": persistence.FORMAT, "format_version": 1, "seqae_version": seqae.__version__,
            "class": cls_name, "module": module, "params": {}, "state": {}}


@pytest.mark.parametrize("cls_name, module", [
    ("path", "os"),                                  # outside the package: never imported
    ("LSTMAutoencoder", "seqae.embedding"),          # the class is registered, but not from that module
    ("LSTMAutoencoder", "seqae.no_such_module"),
    ("Thing", "seqae..autoencoder"),
])
def test_a_file_naming_a_module_outside_seqae_or_a_wrong_one_is_refused(tmp_path, cls_name, module):
    path = tmp_path / "m.seqae"
    save_tensor_file(path, {"x": torch.zeros(1)}, _doc(cls_name, module))
    with pytest.raises(ModelFileError, match="unknown estimator class"):
        seqae.load(path)


def test_saving_an_unregistered_estimator_says_what_can_be_saved(tmp_path):
    from sklearn.preprocessing import StandardScaler
    with pytest.raises(TypeError, match="cannot save a StandardScaler"):
        persistence.save(StandardScaler(), tmp_path / "x.seqae")


def test_register_refuses_a_class_without_state_methods():
    class NoState:
        def get_params(self, deep=True):
            return {}
    with pytest.raises(TypeError, match="no _get_state"):
        persistence.register(NoState)


def test_the_file_records_the_estimators_module(tmp_path):
    est, _, _ = _fitted("AnomalyDetector")
    est.save(tmp_path / "d.seqae")
    _, doc = load_tensor_file(tmp_path / "d.seqae", what="seqae model file")
    assert (doc["class"], doc["module"]) == ("AnomalyDetector", "seqae.detection.series")
