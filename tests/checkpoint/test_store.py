"""Checkpoints: verified, atomic, versioned; weights-only loading."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from blobrl.checkpoint import FORMAT_VERSION, CheckpointError, CheckpointStore, atomic, load_weights
from blobrl.checkpoint.store import iteration_file, sidecar


class Thing:
    """Not a tensor or plain type: loading it would need unpickling."""


def full_payload() -> dict:
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.ones(2, 4)).sum().backward()
    opt.step()
    rng = np.random.default_rng(5)
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "elo_history": [[1, 0.0], [2, 35.5]],
        "loss_history": np.array([1.0, 0.5], np.float32),
        "config": {"run": {"name": "t"}, "replay": {"capacity": 100}},
        "rng": {
            "numpy": rng.bit_generator.state,
            "python": random.Random(3).getstate(),
            "torch": torch.get_rng_state(),
        },
        "counters": {"games": np.int64(12), "steps": 40},
    }


def write_raw(store: CheckpointStore, iteration: int, data: dict):
    """A checkpoint file as some other blobrl version would have written it."""
    store.dir.mkdir(parents=True, exist_ok=True)
    path = store.dir / iteration_file(iteration)
    torch.save(data, path)
    sidecar(path).write_text(f"{atomic.sha256_file(path)}  {path.name}\n")
    return path


def test_save_and_load_round_trip_with_weights_only(tmp_path):
    store = CheckpointStore(tmp_path)
    payload = full_payload()
    path = store.save(3, payload)
    assert path == tmp_path / "checkpoints" / "iter_000003.pt"
    ckpt = store.load()
    assert ckpt.iteration == 3 and ckpt.format_version == FORMAT_VERSION
    for k, v in payload["model"].items():
        assert torch.equal(ckpt.payload["model"][k], v)
    assert ckpt.payload["optimizer"]["state"][0]["step"] == 1
    assert torch.equal(ckpt.payload["loss_history"], torch.tensor([1.0, 0.5]))
    assert ckpt.payload["counters"] == {"games": 12, "steps": 40}
    gen = np.random.default_rng()
    gen.bit_generator.state = ckpt.payload["rng"]["numpy"]
    assert gen.random() == np.random.default_rng(5).random()
    random.Random().setstate(ckpt.payload["rng"]["python"])
    latest = json.loads((store.dir / "latest.json").read_text())
    assert latest["file"] == "iter_000003.pt" and latest["sha256"] == atomic.sha256_file(path)
    # Loaded with weights_only: a plain torch.load(weights_only=True) reads it too.
    torch.load(path, weights_only=True)


def test_latest_is_the_newest_save(tmp_path):
    store = CheckpointStore(tmp_path)
    for it in (1, 2, 3):
        store.save(it, {"n": it})
    assert store.load().payload == {"n": 3}
    assert store.load(store.dir / iteration_file(1)).payload == {"n": 1}


def test_a_flipped_byte_is_refused_as_checksum_mismatch(tmp_path):
    store = CheckpointStore(tmp_path)
    path = store.save(1, full_payload())
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"iter_000001\.pt: checksum mismatch"):
        store.load()


def test_a_checkpoint_without_its_checksum_is_refused(tmp_path):
    store = CheckpointStore(tmp_path)
    path = store.save(1, {"n": 1})
    sidecar(path).unlink()
    with pytest.raises(CheckpointError, match="no checksum file"):
        store.load(path)


def test_a_newer_format_is_refused(tmp_path):
    store = CheckpointStore(tmp_path)
    future = FORMAT_VERSION + 1
    write_raw(store, 4, {"format_version": future, "iteration": 4, "payload": {}})
    with pytest.raises(
        CheckpointError, match=rf"newer blobrl \(format {future} > {FORMAT_VERSION}\)"
    ):
        store.load()


def test_format_0_is_migrated(tmp_path):
    store = CheckpointStore(tmp_path)
    weights = {"w": torch.arange(3.0)}
    write_raw(store, 9, {"iter": 9, "model": weights, "elo_history": [10.0]})
    ckpt = store.load()
    assert ckpt.format_version == 0 and ckpt.iteration == 9
    assert set(ckpt.payload) == {"model", "elo_history", "rating_edges"}
    assert torch.equal(ckpt.payload["model"]["w"], weights["w"])
    model, meta = load_weights(store.dir / iteration_file(9))
    assert meta == {"iteration": 9} and torch.equal(model["w"], weights["w"])


def test_format_1_keeps_its_k32_elo_aside_and_has_no_rating_edges(tmp_path):
    store = CheckpointStore(tmp_path)
    entry = {"iteration": 1, "elo": 1016.0, "share": 0.6, "promoted": True}
    payload = {"elo_history": [entry], "best_elo": 1016.0, "games_played": 5}
    write_raw(store, 1, {"format_version": 1, "iteration": 1, "payload": payload})
    ckpt = store.load()
    assert ckpt.format_version == 1 and ckpt.payload["rating_edges"] == []
    assert ckpt.payload["elo_history"] == [
        {"iteration": 1, "elo": None, "ci95": None, "elo_k32": 1016.0, "share": 0.6,
         "promoted": True}
    ]  # fmt: skip
    assert ckpt.payload["best_elo_k32"] == 1016.0 and "best_elo" not in ckpt.payload
    assert ckpt.payload["games_played"] == 5


def test_pickled_objects_are_refused_on_save_and_load(tmp_path):
    store = CheckpointStore(tmp_path)
    with pytest.raises(CheckpointError, match=r"payload\['extra'\]\[0\]: Thing cannot be stored"):
        store.save(1, {"extra": [Thing()]})
    write_raw(store, 2, {"format_version": 1, "iteration": 2, "payload": {"x": Thing()}})
    with pytest.raises(CheckpointError, match="cannot be read"):
        store.load()


def test_crash_between_temp_write_and_rename_keeps_the_old_latest(tmp_path, monkeypatch):
    store = CheckpointStore(tmp_path)
    store.save(1, {"n": 1})
    latest_before = (store.dir / "latest.json").read_bytes()
    real_commit = atomic.commit

    def crash_on_checkpoint(tmp, path):
        if path.suffix == ".pt":
            raise KeyboardInterrupt("simulated crash")
        real_commit(tmp, path)

    monkeypatch.setattr(atomic, "commit", crash_on_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        store.save(2, {"n": 2})
    monkeypatch.undo()
    # What a real crash leaves behind: the temporary file of the unfinished save.
    (store.dir / ".iter_000002.pt.999.tmp").write_bytes(b"partial")
    assert store.iterations() == [1]
    assert (store.dir / "latest.json").read_bytes() == latest_before
    assert store.load().payload == {"n": 1}
    store.save(2, {"n": 2})
    assert store.load().payload == {"n": 2}


def test_best_model_is_saved_separately_with_meta(tmp_path):
    store = CheckpointStore(tmp_path)
    weights = {"w": torch.ones(2)}
    path = store.save_best(7, weights, {"elo": 120.0})
    assert path.name == "best_model.pt" and store.best_iteration() == 7
    best = store.load_best()
    assert best.iteration == 7 and best.payload["meta"] == {"elo": 120.0}
    model, meta = load_weights(path)
    assert torch.equal(model["w"], weights["w"]) and meta == {"elo": 120.0, "iteration": 7}


def test_best_iteration_survives_pruning(tmp_path):
    store = CheckpointStore(tmp_path)
    for it in range(1, 41):
        store.save(it, {"n": it})
        if it == 3:
            store.save_best(3, {"w": torch.zeros(1)})
    assert 3 in store.iterations() and 1 not in store.iterations()


def test_low_disk_is_warned(tmp_path, caplog):
    store = CheckpointStore(tmp_path, min_free_disk_gb=1e12)
    store.save(1, {"n": 1})
    assert store.disk_low()
    assert "min_free_disk_gb" in caplog.text
