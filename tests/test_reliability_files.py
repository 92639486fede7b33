"""Reliability of model files (issue #6): atomic saves, and ``load`` never runs code, never returns a broken
model, never raises anything but ModelFileError on a bad file; old files keep loading (tests/fixtures).
"""
from __future__ import annotations

import builtins
import errno
import json
import os
import pickle
import random
import stat
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load as st_load

import seqae
import seqae.tensorfile
from conftest import HalfWriter, disk_full

from seqae import LSTMAutoencoder, ModelFileError, SequenceAnomalyDetector, load
from seqae.tensorfile import dump_tensor_file
from seqae.training.checkpoint import load_checkpoint
from conftest import BEFORE_16  # the training and read-out of before issue #16

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = dict(hidden_size=8, latent_dim=4, epochs=2, batch_size=8, random_state=0, device="cpu", **BEFORE_16)


def _data(seed=0, n=8):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((int(rng.integers(5, 12)), 2)).astype(np.float32) for _ in range(n)]


PROBE = _data(seed=99, n=4)


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return LSTMAutoencoder(**SMALL).fit(_data())


@pytest.fixture(scope="module")
def model_bytes(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.seqae"
    model.save(path)
    return path.read_bytes()


def _outputs(est):
    if isinstance(est, SequenceAnomalyDetector):
        return est.decision_function(PROBE), est.predict(PROBE)
    return (est.transform(PROBE), est.reconstruction_error(PROBE),
            np.concatenate([r.ravel() for r in est.reconstruct(PROBE)]))


@pytest.fixture(scope="module")
def expected_outputs(model):
    return _outputs(model)


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    det = SequenceAnomalyDetector(**SMALL, contamination=0.2).fit(_data())
    path = tmp_path_factory.mktemp("detector") / "d.seqae"
    det.save(path)
    return det, path.read_bytes()


# --------------------------------------------------------------------------------------- safetensors surgery
def _split(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def _join(header: dict, body: bytes) -> bytes:
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def _edit_document(data: bytes, edit) -> bytes:
    """Rewrite the seqae JSON document inside the header, leaving the checksum as it was (a raw edit)."""
    header, body = _split(data)
    doc = json.loads(header["__metadata__"]["seqae"])
    edit(doc)
    header["__metadata__"]["seqae"] = json.dumps(doc)
    return _join(header, body)


def _lie_about_shape(data: bytes, name: str, shape: list[int]) -> bytes:
    """Give tensor ``name`` another shape in the header; offsets of every tensor recomputed so the file is
    consistent safetensors (the data of ``name`` is cut or zero-padded to the new size)."""
    header, body = _split(data)
    entries = sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
                     key=lambda kv: kv[1]["data_offsets"][0])
    new_body, pos = b"", 0
    for key, entry in entries:
        start, end = entry["data_offsets"]
        chunk = body[start:end]
        if key == name:
            itemsize = (end - start) // max(1, int(np.prod(entry["shape"])))
            size = int(np.prod(shape)) * itemsize
            chunk = chunk[:size] + b"\0" * max(0, size - len(chunk))
            entry["shape"] = shape
        entry["data_offsets"] = [pos, pos + len(chunk)]
        new_body += chunk
        pos += len(chunk)
    return _join(header, new_body)


def _craft(data: bytes, edit_doc=None, edit_tensors=None) -> bytes:
    """A file as a buggy or malicious writer would make it: edited content, but a valid checksum."""
    header, _ = _split(data)
    doc = json.loads(header["__metadata__"]["seqae"])
    tensors = st_load(data)
    if edit_doc:
        edit_doc(doc)
    if edit_tensors:
        edit_tensors(tensors)
    return dump_tensor_file(tensors, doc)


def _load_bytes(tmp_path: Path, data: bytes, name="m.seqae"):
    path = tmp_path / name
    path.write_bytes(data)
    return load(path)


# -------------------------------------------------------------------------------------------- atomic save
class _Faults:
    """Stands in for ``os`` inside ``seqae.tensorfile`` and makes one step of the write fail, for real."""

    def __init__(self, kind: str):
        self.kind, self.calls = kind, 0

    def __getattr__(self, name):
        return getattr(os, name)

    def fdopen(self, fd, *args, **kwargs):
        f = os.fdopen(fd, *args, **kwargs)
        if self.kind not in ("enospc-half-way", "ctrl-c-half-way"):
            return f
        return HalfWriter(f, KeyboardInterrupt if self.kind == "ctrl-c-half-way" else disk_full)

    def fsync(self, fd):
        self.calls += 1
        if self.kind == "fsync-eio" and self.calls == 1:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return os.fsync(fd)

    def replace(self, src, dst):
        if self.kind == "replace-eacces":
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        return os.replace(src, dst)


@pytest.mark.parametrize("kind", ["enospc-half-way", "ctrl-c-half-way", "fsync-eio", "replace-eacces"])
def test_failed_save_leaves_the_previous_file_intact_and_no_temporary(model, tmp_path, monkeypatch, kind,
                                                                      expected_outputs):
    path = tmp_path / "m.seqae"
    model.save(path)
    before = path.read_bytes()
    other = LSTMAutoencoder(**{**SMALL, "random_state": 1}).fit(_data())
    monkeypatch.setattr(seqae.tensorfile, "os", _Faults(kind))
    with pytest.raises((OSError, KeyboardInterrupt)) as info:
        other.save(path)
    monkeypatch.undo()
    if kind != "ctrl-c-half-way":
        assert info.value.errno in (errno.ENOSPC, errno.EIO, errno.EACCES)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.seqae"]
    assert all(np.array_equal(a, b) for a, b in zip(_outputs(load(path)), expected_outputs, strict=True))
    # A failed save into a new path leaves nothing at all.
    monkeypatch.setattr(seqae.tensorfile, "os", _Faults(kind))
    with pytest.raises((OSError, KeyboardInterrupt)):
        other.save(tmp_path / "new.seqae")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.seqae"]


def test_saved_file_has_ordinary_permissions(model, tmp_path):
    # A temporary file is created owner-only (0o600); the model file must not inherit that.
    (tmp_path / "plain").write_bytes(b"")
    model.save(tmp_path / "new.seqae")
    assert stat.S_IMODE((tmp_path / "new.seqae").stat().st_mode) == stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    os.chmod(tmp_path / "new.seqae", 0o640)
    model.save(tmp_path / "new.seqae")  # overwriting keeps the permissions the file had
    assert stat.S_IMODE((tmp_path / "new.seqae").stat().st_mode) == 0o640


# ----------------------------------------------------------------------------------------- hostile files
class _Payload:
    """Unpickling this creates ``marker``: proof that code from the file ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.exec, (f"open({self.marker!r}, 'w').close()",)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_file_is_refused_without_running_it(tmp_path, protocol):
    # The payload is live: plain unpickling does create its marker...
    pickle.loads(pickle.dumps(_Payload(tmp_path / "proof"), protocol=protocol))
    assert (tmp_path / "proof").exists()
    # ...but load() refuses the file and the marker never appears.
    marker = tmp_path / "marker"
    with pytest.raises(ModelFileError, match=r"not a seqae model file|truncated"):
        _load_bytes(tmp_path, pickle.dumps(_Payload(marker), protocol=protocol))
    assert not marker.exists()


def test_torch_save_file_is_refused_without_running_it(model, tmp_path):
    marker = tmp_path / "marker"
    torch.save({"state": model.module_.state_dict(), "payload": _Payload(marker)}, tmp_path / "m.pt")
    with pytest.raises(ModelFileError, match=r"not a seqae model file"):
        load(tmp_path / "m.pt")
    assert not marker.exists()


@pytest.mark.parametrize("content, pattern", [
    (None, r"does not exist"),
    (b"", r"only 0 bytes \(truncated or empty\)"),
    (b"seqae", r"only 5 bytes"),
    (b"a,b\n1,2\n" * 20, r"not a seqae model file"),
    (json.dumps({"format": "seqae-model"}).encode(), r"not a seqae model file"),
    (struct.pack("<Q", 2) + b"{}", r"no readable seqae header"),
    (struct.pack("<Q", 8) + b"[1, 2]  ", r"no readable seqae header"),
    (struct.pack("<Q", 4000) + b"[" * 4000, r"no readable seqae header"),  # nesting deep enough to recurse
    (struct.pack("<Q", 2**63) + b"{}", r"header claims"),
    (bytes(range(256)) * 8, r"not a seqae model file"),
])
def test_files_that_are_not_models(tmp_path, content, pattern):
    path = tmp_path / "m.seqae"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=pattern):
        load(path)


def test_directory_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match=r"cannot read"):
        load(tmp_path)


def test_truncated_at_every_cut_point(model_bytes, tmp_path):
    (header_len,) = struct.unpack("<Q", model_bytes[:8])
    cuts = set(range(0, len(model_bytes), 17)) | set(range(0, 24)) | set(range(len(model_bytes) - 24, len(model_bytes)))
    cuts |= set(range(8 + header_len - 8, 8 + header_len + 8))
    path = tmp_path / "m.seqae"
    for cut in sorted(cuts):
        path.write_bytes(model_bytes[:cut])
        with pytest.raises(ModelFileError, match=r"truncated|not a seqae model file|no readable seqae header"):
            load(path)


def test_flipped_bits_are_detected(model_bytes, expected_outputs, tmp_path):
    path = tmp_path / "m.seqae"
    loaded = 0
    for pos in range(0, len(model_bytes), 11):
        for mask in (0x01, 0x80):
            data = bytearray(model_bytes)
            data[pos] ^= mask
            path.write_bytes(bytes(data))
            try:
                est = load(path)
            except ModelFileError:
                continue
            # Only a harmless byte can change without an error (JSON whitespace padding, the checksum's key
            # name): then the model must be exactly the original one.
            loaded += 1
            assert all(np.array_equal(a, b) for a, b in zip(_outputs(est), expected_outputs, strict=True)), (pos, mask)
    assert loaded < 30


def test_a_flipped_bit_in_a_weight_gives_a_checksum_error(model_bytes, tmp_path):
    header, body = _split(model_bytes)
    start, end = header["module.decoder.head.weight"]["data_offsets"]
    data = bytearray(model_bytes)
    data[len(model_bytes) - len(body) + start + 3] ^= 0x40  # the exponent of a float32: 0.3 becomes ~1e38
    with pytest.raises(ModelFileError, match=r"corrupted: its checksum does not match its contents"):
        _load_bytes(tmp_path, bytes(data))


def _drop_digest(data: bytes) -> bytes:
    header, body = _split(data)
    del header["__metadata__"]["seqae_sha256"]
    return _join(header, body)


def test_file_without_checksum_still_loads(model_bytes, expected_outputs, tmp_path):
    # Files written before the checksum existed carry none; they load, with all the other checks.
    est = _load_bytes(tmp_path, _drop_digest(model_bytes))
    assert all(np.array_equal(a, b) for a, b in zip(_outputs(est), expected_outputs, strict=True))


@pytest.mark.parametrize("name, shape", [
    ("module.decoder.head.weight", [8, 2]),    # same size, transposed: offsets unchanged
    ("module.decoder.head.weight", [2, 4]),    # smaller: the following tensors move
    ("module.encoder.forward_layers.0.weight_ih_l0", [64, 2]),  # larger
    ("scaler.mean", [3]),
])
@pytest.mark.parametrize("checksum", ["stale", "none", "recomputed"])
def test_header_that_lies_about_shapes(model_bytes, tmp_path, name, shape, checksum):
    data = _lie_about_shape(model_bytes, name, shape)
    assert st_load(data)[name].shape == tuple(shape)  # a consistent safetensors file
    if checksum == "none":
        data = _lie_about_shape(_drop_digest(model_bytes), name, shape)
    elif checksum == "recomputed":
        data = _craft(data)
    pattern = r"checksum does not match" if checksum == "stale" else rf"tensor '{name}' has shape \({shape[0]},"
    with pytest.raises(ModelFileError, match=pattern):
        _load_bytes(tmp_path, data)


def _set(path, value):
    def edit(doc):
        d = doc
        for key in path[:-1]:
            d = d[key]
        if value is KeyError:
            del d[path[-1]]
        else:
            d[path[-1]] = value
    return edit


DOCUMENT_EDITS = [
    ("wrong-class", ["class"], "Pipeline", r"unknown estimator class 'Pipeline'"),
    ("class-not-a-string", ["class"], ["LSTMAutoencoder"], r"unknown estimator class"),
    ("no-class", ["class"], KeyError, r"unknown estimator class None"),
    ("newer-format", ["format_version"], 2, r"model format 2; this seqae \(.*\) reads format 1 and older: upgrade"),
    ("format-version-string", ["format_version"], "1", r"invalid format_version '1'"),
    ("format-version-bool", ["format_version"], True, r"invalid format_version True"),
    ("other-format", ["format"], "keras", r"not a seqae model file \(format 'keras'\)"),
    ("checkpoint-format", ["format"], "seqae-checkpoint", r"is a training checkpoint, not a model file"),
    ("unknown-param", ["params", "n_heads"], 4, r"unknown: \['n_heads'\]"),
    ("no-params", ["params"], None, r"no parameter table"),
    ("param-wrong-type", ["params", "hidden_size"], "8", r"invalid parameters .*hidden_size"),
    ("param-out-of-range", ["params", "dropout"], 1.5, r"invalid parameters .*dropout"),
    ("param-other-size", ["params", "latent_dim"], 5, r"has shape .* need shape"),
    ("param-huge-size", ["params", "hidden_size"], 10**7, r"has shape .* need shape"),
    ("param-bad-choice", ["params", "pooling"], "max", r"invalid parameters .*pooling"),
    ("param-cuda-device", ["params", "device"], "cuda:7", r"device='cpu'"),
    ("no-state", ["state"], KeyError, r"no fitted state"),
    ("state-missing-key", ["state", "best_epoch_"], KeyError, r"do not match the recorded model \(KeyError"),
    ("state-wrong-features", ["state", "n_features_in_"], 3, r"has shape .* need shape"),
    ("state-huge-features", ["state", "n_features_in_"], 10**9, r"has shape .* need shape"),
    ("state-features-string", ["state", "n_features_in_"], "2", r"invalid n_features_in_"),
    ("state-bad-int", ["state", "n_epochs_"], "many", r"do not match the recorded model \(ValueError"),
]


@pytest.mark.parametrize("path, value, pattern", [c[1:] for c in DOCUMENT_EDITS], ids=[c[0] for c in DOCUMENT_EDITS])
def test_documents_that_do_not_describe_a_loadable_model(model_bytes, tmp_path, path, value, pattern):
    if path[-1] == "device" and torch.cuda.is_available() and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    started = time.perf_counter()
    # Crafted with a valid checksum, so the checks on the content itself are what refuses it...
    with pytest.raises(ModelFileError, match=pattern):
        _load_bytes(tmp_path, _craft(model_bytes, edit_doc=_set(path, value)))
    assert time.perf_counter() - started < 10, "refusing a file must not build the model it describes"
    # ...and edited in place, the stale checksum refuses it (or the format checks, which come first).
    with pytest.raises(ModelFileError, match=rf"{pattern}|checksum does not match"):
        _load_bytes(tmp_path, _edit_document(model_bytes, _set(path, value)))


def test_model_saved_for_an_absent_device_loads_with_a_device_override(model_bytes, tmp_path, expected_outputs):
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    data = _craft(model_bytes, edit_doc=_set(["params", "device"], "cuda"))
    with pytest.raises(ModelFileError, match=r"CUDA is not available.*pass load\(path, device='cpu'\)"):
        _load_bytes(tmp_path, data)
    est = load(tmp_path / "m.seqae", device="cpu")
    assert all(np.array_equal(a, b) for a, b in zip(_outputs(est), expected_outputs, strict=True))


TENSOR_EDITS = [
    ("missing-weight", lambda t: t.pop("module.decoder.head.weight"), r"missing: \['module.decoder.head.weight'\]"),
    ("missing-scaler", lambda t: t.pop("scaler.scale"), r"missing: \['scaler.scale'\]"),
    ("extra-tensor", lambda t: t.update(evil=torch.zeros(3)), r"unexpected: \['evil'\]"),
    ("nan-weight", lambda t: t["module.decoder.head.bias"].__setitem__(0, float("nan")),
     r"'module.decoder.head.bias' holds NaN or inf"),
    ("inf-scale", lambda t: t["scaler.scale"].__setitem__(0, float("inf")), r"'scaler.scale' holds NaN or inf"),
    ("float64-weights", lambda t: t.update({k: v.double() for k, v in t.items() if k.startswith("module.")}),
     r"dtype float64 .* need .* dtype float32"),
    ("int-weights", lambda t: t.update({"module.decoder.head.bias": torch.zeros(2, dtype=torch.int64)}),
     r"dtype int64"),
    ("zero-scale", lambda t: t["scaler.scale"].zero_(), r"not positive"),
    ("complex-weight", lambda t: t.update({"module.decoder.head.bias": torch.zeros(2, dtype=torch.complex64)}),
     r"dtype complex64"),
]


@pytest.mark.parametrize("edit, pattern", [c[1:] for c in TENSOR_EDITS], ids=[c[0] for c in TENSOR_EDITS])
def test_tensors_that_do_not_fit_the_model(model_bytes, tmp_path, edit, pattern):
    with pytest.raises(ModelFileError, match=pattern):
        _load_bytes(tmp_path, _craft(model_bytes, edit_tensors=edit))


def test_checkpoint_and_model_files_are_not_confused(model_bytes, tmp_path):
    path = tmp_path / "m.seqae"
    path.write_bytes(model_bytes)
    with pytest.raises(ModelFileError, match=r"not a seqae checkpoint"):
        load_checkpoint(path)
    ckpt = tmp_path / "run.ckpt"
    LSTMAutoencoder(**{**SMALL, "epochs": 1}).fit(_data(), checkpoint=ckpt)
    with pytest.raises(ModelFileError, match=r"is a training checkpoint, not a model file"):
        load(ckpt)


# ------------------------------------------------------------------------------------------------- fuzzing
def _mutations(data: bytes, rng: random.Random):
    """~200 random corruptions: byte flips, insertions, deletions, truncations, duplicated or zeroed ranges,
    and JSON edits of the header (values replaced by other JSON values, keys dropped)."""
    header, _ = _split(data)
    (n,) = struct.unpack("<Q", data[:8])
    junk = [None, True, -1, 0, 1, 2**40, 1e300, "", "x", [], {}, [1, 2], {"a": 1}]
    for i in range(200):
        kind = ["flip", "flip-header", "insert", "delete", "truncate", "zero", "duplicate", "json"][i % 8]
        d = bytearray(data)
        if kind == "flip":
            d[rng.randrange(len(d))] ^= rng.randrange(1, 256)
        elif kind == "flip-header":
            d[rng.randrange(8 + n)] ^= 1 << rng.randrange(8)
        elif kind == "insert":
            at = rng.randrange(len(d) + 1)
            d[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        elif kind == "delete":
            at = rng.randrange(len(d))
            del d[at:at + rng.randrange(1, 9)]
        elif kind == "truncate":
            del d[rng.randrange(len(d)):]
        elif kind == "zero":
            at, size = rng.randrange(len(d)), rng.randrange(1, 64)
            d[at:at + size] = bytes(len(d[at:at + size]))
        elif kind == "duplicate":
            at, size = rng.randrange(len(d)), rng.randrange(1, 32)
            d[at:at] = d[at:at + size]
        else:  # edit one value of the seqae document or of the tensor table
            h = json.loads(json.dumps(header))
            if rng.random() < 0.5:
                doc = json.loads(h["__metadata__"]["seqae"])
                target = doc
                while True:
                    key = rng.choice(list(target)) if isinstance(target, dict) and target else None
                    if key is None or not isinstance(target[key], dict) or rng.random() < 0.4:
                        break
                    target = target[key]
                if key is not None:
                    if rng.random() < 0.2:
                        del target[key]
                    else:
                        target[key] = rng.choice(junk)
                h["__metadata__"]["seqae"] = json.dumps(doc)
            else:
                entry = h[rng.choice([k for k in h if k != "__metadata__"])]
                field = rng.choice(["dtype", "shape", "data_offsets"])
                entry[field] = rng.choice(junk + ["F64", "I8", "BOOL", [0, 0], [1], [10**6, 3]])
            d = bytearray(_join(h, data[8 + n:]))
        yield f"{i}:{kind}", bytes(d)


@pytest.mark.parametrize("kind", ["autoencoder", "detector"])
def test_fuzzed_model_files_load_to_the_same_model_or_raise_model_file_error(kind, model, model_bytes, detector,
                                                                           tmp_path):
    original, data = (model, model_bytes) if kind == "autoencoder" else detector
    expected = _outputs(original)
    rng = random.Random(20240606)
    path = tmp_path / "m.seqae"
    outcomes = {"refused": 0, "loaded": 0}
    for name, mutated in _mutations(data, rng):
        path.write_bytes(mutated)
        try:
            est = load(path)
        except ModelFileError:
            outcomes["refused"] += 1
            continue
        except Exception as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"mutation {name}: load raised {type(exc).__name__}: {exc}")
        outcomes["loaded"] += 1
        outs = _outputs(est)
        assert all(np.isfinite(o).all() for o in outs), f"mutation {name}: loaded a model that outputs NaN/inf"
        assert all(np.array_equal(a, b) for a, b in zip(outs, expected, strict=True)), \
            f"mutation {name}: loaded a different model without an error"
    assert outcomes["refused"] >= 150, outcomes


DETECTOR_EDITS = [
    ("huge-hidden-size", dict(edit_doc=_set(["params", "hidden_size"], 10**7)), r"has shape .* need shape"),
    ("huge-features", dict(edit_doc=_set(["state", "autoencoder", "n_features_in_"], 10**9)), r"has shape .* need"),
    ("bad-ae-param", dict(edit_doc=_set(["params", "dropout"], 2.0)), r"dropout"),
    ("no-ae-state", dict(edit_doc=_set(["state", "autoencoder"], KeyError)), r"no autoencoder state"),
    ("nan-score", dict(edit_tensors=lambda t: t["decision_scores_"].__setitem__(0, float("nan"))),
     r"'decision_scores_' holds NaN"),
    ("2d-scores", dict(edit_tensors=lambda t: t.update(decision_scores_=t["decision_scores_"][:, None])),
     r"'decision_scores_' has shape \(\d+, 1\)"),
    ("missing-scores", dict(edit_tensors=lambda t: t.pop("decision_scores_")), r"missing: \['decision_scores_'\]"),
    ("ae-weight-missing", dict(edit_tensors=lambda t: t.pop("ae.module.latent.linear.bias")),
     r"missing: \['ae.module.latent.linear.bias'\]"),
]


@pytest.mark.parametrize("edit, pattern", [c[1:] for c in DETECTOR_EDITS], ids=[c[0] for c in DETECTOR_EDITS])
def test_detector_files_that_do_not_describe_a_loadable_detector(detector, tmp_path, edit, pattern):
    started = time.perf_counter()
    with pytest.raises(ModelFileError, match=pattern):
        _load_bytes(tmp_path, _craft(detector[1], **edit))
    assert time.perf_counter() - started < 10


# ---------------------------------------------------------------------------------------- version fixtures
def _fixture_files():
    return sorted(FIXTURES.glob("model_v*.seqae"))


def test_a_fixture_of_this_version_exists():
    names = [p.name for p in _fixture_files()]
    assert f"model_v{seqae.__version__}.seqae" in names, (
        f"no fixture for seqae {seqae.__version__}: run tools/make_fixture_model.py")


@pytest.mark.parametrize("path", _fixture_files(), ids=lambda p: p.name)
def test_model_files_of_every_version_keep_loading_to_the_same_outputs(path, tmp_path):
    assert path.stat().st_size < 100_000
    expected = json.loads(path.with_suffix(".expected.json").read_text())
    est = load(path)
    assert type(est).__name__ == expected["class"]
    assert {k: est.get_params()[k] for k in expected["params"]} == expected["params"]
    for name, value in expected["attributes"].items():
        assert getattr(est, name) == pytest.approx(value, rel=1e-6), name
    if expected["input_is_list"]:
        X = [np.asarray(x, dtype=np.float64) for x in expected["input"]]
    else:
        X = np.asarray(expected["input"], dtype=np.float64)
    for method, want in expected["outputs"].items():
        got = getattr(est, method)(X)
        for g, w in (zip(got, want, strict=True) if isinstance(got, list) else [(got, want)]):
            np.testing.assert_allclose(g, np.asarray(w), rtol=0, atol=1e-5, err_msg=f"{path.name}: {method}")
    # Re-saved by this version, it loads to the same model again.
    est.save(tmp_path / "resaved.seqae")
    method = next(iter(expected["outputs"]))
    np.testing.assert_array_equal(getattr(load(tmp_path / "resaved.seqae"), method)(X), getattr(est, method)(X))
