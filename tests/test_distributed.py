"""Data-parallel training (training/distributed.py): 2 gloo processes on the CPU train the model one process
trains, to float tolerance; rank 0 writes the files; a run whose rank was killed resumes from its checkpoint."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from seqae import LSTMAutoencoder, load

# Crops and masked steps on (the defaults since #16): the rows path of batch_loss; the plain objective: the fused loss.
CASES = {
    "crops-masks": dict(min_crop=0.5, mask_fraction=0.25),
    "plain": dict(min_crop=1.0, mask_fraction=0.0),
}
COMMON = dict(hidden_size=16, latent_dim=4, epochs=4, batch_size=16, min_steps=None, patience=None,
              validation_fraction=0.0, embedding="latent", random_state=0, num_threads=1)


def collection() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(50):                      # 50 = 3 full batches of 16 and one of 2: shares of 1 and 1
        n = int(rng.integers(12, 40))
        t = np.arange(n)
        out.append(np.stack([np.sin(t / rng.uniform(2, 6)), np.cos(t / 3)], axis=1) + 0.05 * rng.standard_normal((n, 2)))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, folder: str, case: str, die_after: int | None) -> None:
    import datetime

    import torch.distributed as dist

    from seqae.training import distributed

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    if die_after is not None and rank == 1:
        # A rank killed mid-run (as by the OOM killer): it leaves without a word after that many steps.
        calls = []
        average = distributed.Communicator.average

        def dying(self, *args):
            calls.append(1)
            if len(calls) > die_after:
                os._exit(3)
            return average(self, *args)
        distributed.Communicator.average = dying
    ae = LSTMAutoencoder(**COMMON, **CASES[case])
    distributed.fit_distributed(ae, collection(), output=Path(folder) / "model.seqae",
                                checkpoint=Path(folder) / "run.ckpt")
    if rank == 0:
        (Path(folder) / "history.json").write_text(json.dumps(ae.history_))
    dist.destroy_process_group()


def _spawn(folder: Path, case: str, die_after: int | None = None) -> None:
    mp.spawn(_rank, args=(2, _free_port(), str(folder), case, die_after), nprocs=2, join=True)


def _one_process(case: str) -> LSTMAutoencoder:
    return LSTMAutoencoder(**COMMON, **CASES[case]).fit(collection())


@pytest.mark.parametrize("case", ["crops-masks"])    # "plain" runs in the resume test below
def test_two_gloo_processes_train_the_one_process_model(tmp_path, case):
    _spawn(tmp_path, case)
    single = _one_process(case)
    history = json.loads((tmp_path / "history.json").read_text())
    np.testing.assert_allclose(history["train_loss"], single.history_["train_loss"], rtol=1e-4)
    assert history["train_loss"][-1] < history["train_loss"][0]           # it did train
    model = load(tmp_path / "model.seqae")
    for (name, a), (_, b) in zip(model.module_.state_dict().items(), single.module_.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4, msg=name)
    X = collection()[:5]
    np.testing.assert_allclose(model.transform(X), single.transform(X), rtol=1e-3, atol=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json", "model.seqae", "run.ckpt"]


def test_a_run_whose_rank_was_killed_resumes_from_its_checkpoint(tmp_path):
    # 4 steps per epoch: rank 1 dies in the third epoch, after rank 0 checkpointed the second.
    with pytest.raises(Exception):
        _spawn(tmp_path, "plain", die_after=9)
    assert (tmp_path / "run.ckpt").exists() and not (tmp_path / "model.seqae").exists()
    from seqae.training.checkpoint import load_checkpoint

    assert load_checkpoint(tmp_path / "run.ckpt").epoch == 2
    _spawn(tmp_path, "plain")                                               # started again: resumes
    history = json.loads((tmp_path / "history.json").read_text())
    single = _one_process("plain")
    np.testing.assert_allclose(history["train_loss"], single.history_["train_loss"], rtol=1e-4)
    for (name, a), (_, b) in zip(load(tmp_path / "model.seqae").module_.state_dict().items(),
                                 single.module_.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4, msg=name)


def test_outside_torchrun_the_error_says_how_to_start(monkeypatch):
    from seqae.training.distributed import init_distributed

    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(RuntimeError, match="run under torchrun"):
        init_distributed()


def test_seqae_fit_distributed_launches_torchrun_and_saves_the_one_process_model(tmp_path, capsys):
    import pandas as pd

    from seqae.cli import main

    t = np.arange(1200)
    pd.DataFrame({"value": np.sin(t / 9) + 0.1 * np.random.default_rng(0).standard_normal(len(t))}).to_csv(
        tmp_path / "train.csv", index=False)
    common = ["--threads", "1", "fit", tmp_path / "train.csv", "--no-time-column", "--window", "16",
              "--hidden-size", "8", "--latent-dim", "4", "--epochs", "2", "--seed", "0"]
    assert main([str(a) for a in common + ["-o", tmp_path / "one.seqae"]]) == 0
    assert main([str(a) for a in common + ["-o", tmp_path / "two.seqae", "--distributed", "2",
                                           "--checkpoint", tmp_path / "fit.ckpt"]]) == 0
    assert "starting 2 training processes" in capsys.readouterr().err
    one, two = load(tmp_path / "one.seqae"), load(tmp_path / "two.seqae")
    assert two.threshold_ == pytest.approx(one.threshold_, rel=1e-4)
    for (name, a), (_, b) in zip(two.autoencoder_.module_.state_dict().items(),
                                 one.autoencoder_.module_.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4, msg=name)
