"""Training and evaluation workers end to end: `wsdb run-supernet`, `wsdb evaluate`, the
warehouse rows they leave, exact resume, refused checkpoints, dataset formats."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
import torch

from conftest import run_cli
from wsdb.warehouse.catalog import store_architectures
from wsdb.warehouse.db import init_database, warehouse
from wsdb.base.errors import WsdbError
from wsdb.warehouse.populate import populate
from wsdb.spaces import nb101 as nb101_space
from wsdb.trainers.checkpoints import load_checkpoint
from wsdb.trainers.config import make_config
from wsdb.trainers.data import load_dataset
from wsdb.trainers.evaluate import evaluate_supernet
from wsdb.trainers.spaces import training_space
from wsdb.trainers.train import RunOptions, resume_supernet, run_supernet

TINY = ["--dataset", "synthetic", "--synthetic-images", "256", "--epochs", "2", "--batch-size", "32", "--channels", "4",
        "--cells", "1", "--quiet"]


def _rows(url: str, sql: str, **params) -> list[dict]:
    with warehouse(url) as engine, engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(sa.text(sql), params)]


def _store_nb101_classes(url: str, count: int) -> None:
    """A few NB101 classes (a test cannot afford `spaces populate nb101`)."""
    space, rng = training_space("nb101"), np.random.default_rng(0)
    archs = [nb101_space.canonicalize(*space.random_cell(rng, "FULL")) for _ in range(count)]
    with warehouse(url) as engine, engine.begin() as connection:
        store_architectures(connection, archs)


def _file_of(uri: str) -> Path:
    assert uri.startswith("file://")
    return Path(uri[len("file://"):])


@pytest.mark.parametrize("space, backend", [("nb101", "duckdb"), pytest.param("nb201", "postgresql", marks=pytest.mark.postgres),
                                            ("ws64", "duckdb")])
def test_train_and_evaluate_each_space_end_to_end(space, backend, tmp_path, request):
    """run-supernet and evaluate as a user runs them; nb201's case writes to PostgreSQL."""
    db = str(tmp_path / "w.duckdb") if backend == "duckdb" else request.getfixturevalue("postgres_url")
    url = f"duckdb:///{db}" if backend == "duckdb" else db
    init_database(url)
    if space == "nb101":
        _store_nb101_classes(url, 40)
    else:
        with warehouse(url) as engine, engine.begin() as connection:
            populate(connection, space)
    result = run_cli("run-supernet", "--space", space, *TINY, "--name", f"{space}-net", "--seed", "3",
                     "--checkpoint-dir", str(tmp_path / "ck"), "--db", db, "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "finished" and record["checkpoints"] == 2

    (net,) = _rows(url, "SELECT * FROM supernets")
    config = json.loads(net["config_json"])
    assert net["origin"] == "trained" and net["seed"] == 3 and net["host"] and net["device"].startswith("cpu")
    assert config["dataset"] == "synthetic" and config["space"] == space and "seed" not in config
    checkpoints = _rows(url, "SELECT * FROM checkpoints ORDER BY epoch")
    assert [c["label"] for c in checkpoints] == ["epoch-1", "epoch-2"]
    for c in checkpoints:
        payload = _file_of(c["uri"]).read_bytes()
        assert hashlib.sha256(payload).hexdigest() == c["sha256"] and len(payload) == c["size_bytes"]

    result = run_cli("evaluate", "--supernet", f"{space}-net", "--protocol", "no-ft", "--n", "10",
                     "--db", db, "--quiet", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["scored"] == 10
    for protocol in ("bns-ft:2", "ft:2"):  # in-process: the same code without another interpreter start
        assert evaluate_supernet(url, f"{space}-net", protocol, n=10, progress=False).scored == 10
    scores = _rows(url, "SELECT protocol_id, metric, COUNT(*) AS n, MIN(value) AS low, MAX(value) AS high, "
                        "MIN(elapsed_seconds) AS t FROM proxy_scores GROUP BY protocol_id, metric ORDER BY protocol_id, metric")
    assert [(s["protocol_id"], s["metric"], s["n"]) for s in scores] == [
        (p, m, 10) for p in ("bns-ft:2", "ft:2", "no-ft") for m in ("validation_accuracy", "validation_loss")]
    assert all(s["t"] > 0 for s in scores)
    assert all(0 <= s["low"] <= s["high"] <= 1 for s in scores if s["metric"] == "validation_accuracy")
    assert {r["checkpoint_id"] for r in _rows(url, "SELECT DISTINCT checkpoint_id FROM proxy_scores")} == {
        checkpoints[-1]["id"]}

    # Scoring what is scored is a no-op.
    again = evaluate_supernet(url, f"{space}-net", "ft:2", n=10, progress=False)
    assert again.scored == 0 and again.skipped == 10
    assert sum(s["n"] for s in _rows(url, "SELECT COUNT(*) AS n FROM proxy_scores")) == 60


def test_predictions_go_to_an_hdf5_file_with_its_checksum(tmp_path):
    import h5py

    db = str(tmp_path / "w.duckdb")
    url = f"duckdb:///{db}"
    init_database(url)
    with warehouse(url) as engine, engine.begin() as connection:
        populate(connection, "ws64")
    assert run_cli("run-supernet", "--space", "ws64", *TINY, "--epochs", "1", "--name", "n",
                   "--checkpoint-dir", str(tmp_path / "ck"), "--db", db).returncode == 0
    result = run_cli("evaluate", "--supernet", "n", "--protocol", "bns-ft:1", "--n", "5", "--save-predictions",
                     "--checkpoint", "all", "--db", db, "--quiet")
    assert result.returncode == 0, result.stderr
    (row,) = _rows(url, "SELECT * FROM prediction_files")
    path = _file_of(row["uri"])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]
    scores = {r["architecture_id"]: r["value"] for r in _rows(
        url, "SELECT architecture_id, value FROM proxy_scores WHERE metric = 'validation_accuracy'")}
    with h5py.File(path) as f:
        ids, labels, predictions = f["architecture_ids"][:], f["labels"][:], f["predictions"][:]
        assert f["losses"].shape == predictions.shape == (5, row["images"])
    for arch, prediction in zip(ids, predictions):  # the file agrees with the stored accuracy
        assert abs((prediction == labels).mean() - scores[int(arch)]) < 1e-6


def _final_state(url: str, supernet_id: str) -> dict:
    (newest,) = _rows(url, "SELECT uri, sha256 FROM checkpoints WHERE supernet_id = :s ORDER BY epoch DESC LIMIT 1",
                      s=supernet_id)
    return load_checkpoint(newest["uri"], newest["sha256"], "test")


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    init_database(url)
    config = make_config({"space": "nb101", "dataset": "synthetic", "synthetic_images": 96, "epochs": 3,
                          "batch_size": 32, "initial_channels": 4, "cells_per_stack": 1, "architectures_per_batch": 2})
    options = RunOptions(checkpoint_dir=str(tmp_path / "ck"), progress=False)
    straight = run_supernet(url, config, seed=11, options=options)
    options.stop_after_epochs = 1
    interrupted = run_supernet(url, config, seed=11, options=options)
    assert _rows(url, "SELECT status FROM supernets WHERE id = :s", s=interrupted)[0]["status"] == "stopped"
    resume_supernet(url, interrupted, RunOptions(checkpoint_dir=str(tmp_path / "ck"), progress=False, stop_after_epochs=1))
    resume_supernet(url, interrupted, RunOptions(checkpoint_dir=str(tmp_path / "ck"), progress=False))
    a, b = _final_state(url, straight), _final_state(url, interrupted)
    assert a["epoch"] == b["epoch"] == 3 and a["step"] == b["step"]
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    for name, state in a["optimizer"].items():
        for key, tensor in state.items():
            assert torch.equal(tensor, b["optimizer"][name][key]), (name, key)
    assert a["sampler_rng"] == b["sampler_rng"] and torch.equal(a["data_rng"], b["data_rng"])
    statuses = {r["id"]: r["status"] for r in _rows(url, "SELECT id, status FROM supernets")}
    assert statuses == {straight: "finished", interrupted: "finished"}
    with pytest.raises(WsdbError, match="finished"):
        resume_supernet(url, interrupted, options)


def test_a_damaged_checkpoint_is_refused_on_resume(tmp_path):
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    init_database(url)
    config = make_config({"space": "nb201", "dataset": "synthetic", "synthetic_images": 32, "epochs": 2,
                          "batch_size": 32, "initial_channels": 4, "cells_per_stack": 1})
    options = RunOptions(checkpoint_dir=str(tmp_path / "ck"), progress=False, stop_after_epochs=1)
    supernet = run_supernet(url, config, seed=0, options=options)
    (row,) = _rows(url, "SELECT uri FROM checkpoints")
    path = _file_of(row["uri"])
    payload = bytearray(path.read_bytes())
    payload[len(payload) // 2] ^= 0xFF
    path.write_bytes(bytes(payload))
    with pytest.raises(WsdbError, match="sha256"):
        resume_supernet(url, supernet, options)


def test_a_run_that_cannot_start_registers_nothing_and_a_failing_one_is_marked_failed(tmp_path, monkeypatch):
    """Data that is not there, a checkpoint folder that cannot be made: one line, no super-net
    row (a nameless `failed` row was left); a run that fails while training is marked failed."""
    db = str(tmp_path / "w.duckdb")
    url = f"duckdb:///{db}"
    init_database(url)
    (tmp_path / "a-file").write_text("x")
    for args, message in ((["--dataset", "npz", "--data-dir", str(tmp_path / "none.npz")], "none.npz"),
                          (["--dataset", "synthetic", "--checkpoint-dir", str(tmp_path / "a-file" / "ck")],
                           "--checkpoint-dir")):
        result = run_cli("run-supernet", "--space", "nb201", *args, "--epochs", "1", "--db", db, "--quiet")
        assert result.returncode == 1 and result.stderr.strip().count("\n") == 0, result.stderr
        assert message in result.stderr
    assert _rows(url, "SELECT COUNT(*) AS n FROM supernets") == [{"n": 0}]
    from wsdb.trainers import train

    def broken_epoch(self):
        raise RuntimeError("the GPU fell off the bus")

    monkeypatch.setattr(train.Trainer, "train_epoch", broken_epoch)
    config = make_config({"space": "nb201", "dataset": "synthetic", "synthetic_images": 32, "epochs": 1,
                          "batch_size": 32, "initial_channels": 4, "cells_per_stack": 1})
    with pytest.raises(RuntimeError):
        run_supernet(url, config, options=RunOptions(checkpoint_dir=str(tmp_path / "ck"), progress=False))
    (row,) = _rows(url, "SELECT status, error FROM supernets")
    assert row["status"] == "failed" and "fell off the bus" in row["error"]


def _trained_ws64(url: str, checkpoints: Path) -> None:
    """A warehouse holding the 64 ws64 classes and one tiny ws64 super-net "net", trained a step."""
    init_database(url)
    config = make_config({"space": "ws64", "dataset": "synthetic", "synthetic_images": 32, "epochs": 1,
                          "batch_size": 16, "initial_channels": 4, "cells_per_stack": 1})
    with warehouse(url) as engine, engine.begin() as connection:
        populate(connection, "ws64")
    run_supernet(url, config, name="net", options=RunOptions(checkpoint_dir=str(checkpoints), progress=False))


def test_an_interrupted_evaluation_keeps_every_architecture_it_scored(tmp_path):
    """The scores written before an interrupt are those of every architecture finished: a rerun
    loses at most the one in progress (scores were flushed every 25)."""
    from wsdb.trainers.runtime import RunInterrupted

    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    _trained_ws64(url, tmp_path / "ck")
    asked = []

    def keep_going() -> bool:
        asked.append(1)
        return len(asked) <= 4  # the fifth architecture is interrupted

    with pytest.raises(RunInterrupted):
        evaluate_supernet(url, "net", "no-ft", n=10, progress=False, keep_going=keep_going)
    assert _rows(url, "SELECT COUNT(DISTINCT architecture_id) AS n FROM proxy_scores") == [{"n": 4}]
    assert evaluate_supernet(url, "net", "no-ft", n=10, progress=False).scored == 6  # the rest, on rerun


def test_an_evaluation_that_cannot_start_writes_no_sample(tmp_path):
    """A super-net whose checkpoint file is gone: one line, and no sample or protocol written."""
    db = tmp_path / "w.duckdb"
    url = f"duckdb:///{db}"
    _trained_ws64(url, tmp_path / "ck")
    before = _rows(url, "SELECT (SELECT COUNT(*) FROM architecture_samples) AS samples, "
                        "(SELECT COUNT(*) FROM evaluation_protocols) AS protocols")
    for path in (tmp_path / "ck").rglob("*.pt"):
        path.unlink()
    result = run_cli("evaluate", "--supernet", "net", "--protocol", "bns-ft:3", "--n", "5", "--db", str(db))
    assert result.returncode == 1 and "cannot read" in result.stderr and result.stderr.count("\n") == 1
    assert _rows(url, "SELECT (SELECT COUNT(*) FROM architecture_samples) AS samples, "
                      "(SELECT COUNT(*) FROM evaluation_protocols) AS protocols") == before


def test_bad_options_are_one_line_errors(tmp_path):
    db = str(tmp_path / "w.duckdb")
    init_database(f"duckdb:///{db}")
    for args, message in (
        (["run-supernet", "--space", "nb101", "--sampler", "greedy"], "sampler must be one of"),
        (["run-supernet", "--space", "nb201", "--subspace", "A3"], "no sub-space"),
        (["run-supernet", "--space", "nb101", "--sampler", "random-a", *TINY], "populate nb101"),
        (["evaluate", "--supernet", "nope", "--n", "3"], "no super-net"),
        (["evaluate", "--supernet", "nope", "--protocol", "bns:4", "--n", "3"], "--protocol"),
    ):
        result = run_cli(*args, "--db", db)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
        assert result.stderr.strip().count("\n") == 0


def test_config_file_and_options(tmp_path):
    config_file = tmp_path / "run.yaml"
    config_file.write_text("space: ws64\nsampler: fairnas\nepochs: 1\nbatch_size: 16\ninitial_channels: 4\n"
                           "cells_per_stack: 1\ndataset: synthetic\nsynthetic_images: 32\nnode_merge: sum\n")
    db = str(tmp_path / "w.duckdb")
    init_database(f"duckdb:///{db}")
    result = run_cli("run-supernet", "--config", str(config_file), "--lr", "0.05", "--db", db, "--quiet",
                     "--checkpoint-dir", str(tmp_path / "ck"))
    assert result.returncode == 0, result.stderr
    (row,) = _rows(f"duckdb:///{db}", "SELECT config_json FROM supernets")
    config = json.loads(row["config_json"])
    assert config["sampler"] == "fairnas" and config["node_merge"] == "sum" and config["learning_rate"] == 0.05
    assert config["weight_decay"] == 1e-3 and config["bn_momentum"] == 0.4  # seed 004 defaults for ws64
    bad = tmp_path / "bad.yaml"
    bad.write_text("space: ws64\nlearning_rat: 0.1\n")
    result = run_cli("run-supernet", "--config", str(bad), "--db", db)
    assert result.returncode == 1 and "learning_rat" in result.stderr


def _write_cifar10(folder: Path, per_batch: int) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"batch_label": name, "labels": rng.integers(0, 10, per_batch).tolist(),
                 "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8), "filenames": ["x.png"] * per_batch}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


def test_cifar10_batches_give_the_nb101_split(tmp_path):
    _write_cifar10(tmp_path / "cifar-10-batches-py", per_batch=20)
    data = load_dataset("cifar10", tmp_path, torch.device("cpu"))
    assert len(data.train) == 80 and len(data.valid) == 20 and data.num_classes == 10
    assert data.train.images.dtype == torch.uint8 and data.train.images.shape[1:] == (3, 32, 32)
    raw = pickle.loads((tmp_path / "cifar-10-batches-py" / "data_batch_5").read_bytes())
    assert torch.equal(data.valid.images[3].flatten(), torch.from_numpy(raw["data"][3]))
    x, y = data.training_batch(torch.arange(8), torch.Generator().manual_seed(0))
    assert x.shape == (8, 3, 32, 32) and x.is_contiguous(memory_format=torch.channels_last)
    # A pickle that reaches for anything beyond numpy and builtins is refused, never run.
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(pickle.dumps({"data": Path("x")}))
    with pytest.raises(WsdbError, match="unsafe pickle"):
        load_dataset("cifar10", tmp_path, torch.device("cpu"))


def test_augmentation_is_a_padded_crop_and_flip():
    data = load_dataset("synthetic", None, torch.device("cpu"), synthetic_images=16)
    images = data.train.images[:4]
    out = data.augment(images, torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    for i in range(4):  # every output is some 32x32 window of the padded image, maybe mirrored
        windows = [padded[i, :, r:r + 32, c:c + 32] for r in range(9) for c in range(9)]
        assert any(torch.equal(out[i], w) or torch.equal(out[i], w.flip(-1)) for w in windows)


def test_real_cifar10_images_smoke_run(shared_data, tmp_path):
    """A short run on the 10,000 real CIFAR-10 images of ../shared (npz), evaluated with BNS-FT."""
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    init_database(url)
    with warehouse(url) as engine, engine.begin() as connection:
        populate(connection, "nb201")
    npz = shared_data / "cifar10" / "cifar10_test_from_jpeg.npz"
    config = make_config({"space": "nb201", "dataset": "npz", "train_portion": 0.05, "epochs": 1, "batch_size": 64,
                          "initial_channels": 4, "cells_per_stack": 1})
    options = RunOptions(checkpoint_dir=str(tmp_path / "ck"), data_dir=str(npz), progress=False)
    supernet = run_supernet(url, config, seed=0, options=options)
    summary = evaluate_supernet(url, supernet, "bns-ft:2", n=3, data_dir=str(npz), progress=False)
    assert summary.scored == 3
    (row,) = _rows(url, "SELECT COUNT(*) AS n, MIN(value) AS low FROM proxy_scores WHERE metric = 'validation_accuracy'")
    assert row["n"] == 3 and row["low"] >= 0
