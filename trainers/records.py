"""The warehouse rows a training or evaluation worker writes: super-nets, checkpoints.

Each write is its own short transaction on a freshly opened engine, so a DuckDB file is
locked only for the moment of the write (other processes can read it in between) and a
PostgreSQL warehouse sees every state change at once.
"""

from __future__ import annotations

import platform
import socket

import sqlalchemy as sa
import torch

import wsdb
from wsdb.warehouse.db import warehouse
from wsdb.base.errors import WsdbError
from wsdb.warehouse.catalog import store_architectures
from wsdb.warehouse.schema import ArchitectureWeight, Checkpoint, DerivedArchitecture, EdgeWeight, RunSeeds, Supernet, utcnow
from wsdb.trainers.seeds import Seeds


def code_version() -> str:
    return f"wsdb {wsdb.__version__}; torch {torch.__version__}; python {platform.python_version()}"


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def register_supernet(url: str, supernet_id: str, space: str, subspace: str, name: str | None,
                      config_json: str, seed: int, device: torch.device, data_dir: str | None = None,
                      seeds: Seeds | None = None) -> None:
    with warehouse(url) as engine, engine.begin() as connection:
        connection.execute(sa.insert(Supernet), [{
            "id": supernet_id, "search_space": space, "subspace": subspace, "name": name,
            "config_json": config_json, "seed": seed, "status": "running", "origin": "trained",
            "code_version": code_version(), "host": socket.gethostname(), "device": describe_device(device),
            "created_at": utcnow(), "started_at": utcnow(), "data_dir": data_dir,
        }])
        connection.execute(sa.insert(RunSeeds), [(seeds or Seeds.of(seed)).row(supernet_id)])


def seeds_of(connection: sa.Connection, supernet_id: str, seed: int | None) -> Seeds:
    """A trained super-net's seeds; `seed` for all three where none were recorded (older runs)."""
    row = connection.execute(sa.select(RunSeeds.init_seed, RunSeeds.sampling_seed, RunSeeds.data_seed)
                             .where(RunSeeds.supernet_id == supernet_id)).first()
    return Seeds(*[seed or 0] * 3) if row is None else Seeds(*row)  # as stored, not re-checked


def run_summary(url: str, supernet_id: str) -> dict:
    """A trained super-net's id, status, checkpoints and training seconds (for the CLI)."""
    with warehouse(url, read_only=True) as engine, engine.connect() as connection:
        row = connection.execute(sa.text(
            "SELECT s.id, s.name, s.status, s.training_seconds, COUNT(c.id) AS checkpoints FROM supernets s "
            "LEFT JOIN checkpoints c ON c.supernet_id = s.id WHERE s.id = :id "
            "GROUP BY s.id, s.name, s.status, s.training_seconds"), {"id": supernet_id}).one()
    return dict(row._mapping)


def update_supernet(url: str, supernet_id: str, **values) -> None:
    with warehouse(url) as engine, engine.begin() as connection:
        connection.execute(sa.update(Supernet).where(Supernet.id == supernet_id).values(**values))


def claim_supernet(url: str, row, **values) -> None:
    """Mark a super-net running for this process, only if nobody changed its row since `row`
    was read: of two processes resuming it at once, exactly one goes on."""
    table = Supernet.__table__
    with warehouse(url) as engine, engine.begin() as connection:
        claimed = connection.execute(
            sa.update(table).where(table.c.id == row.id, table.c.status == row.status,
                                   _same(table.c.started_at, row.started_at), _same(table.c.host, row.host))
            .values(status="running", error=None, started_at=utcnow(), **values)
        ).rowcount
    if claimed != 1:
        raise WsdbError(f"super-net {row.id} was taken by another process just now (it resumed or changed it): "
                        "nothing was done here")


def _same(column, value):
    return column.is_(None) if value is None else column == value


def add_checkpoint(url: str, checkpoint_id: str, supernet_id: str, label: str, epoch: int, step: int,
                   uri: str, sha256: str, size: int, search: dict | None = None) -> None:
    """The checkpoint's row; with `search` (a differentiable method's state: `theta` rows of
    (edge, operation, weight), pc-darts' `beta` rows of (edge, weight), the `derived` canonical architecture, the `method` name) its
    architecture weights and derived architecture too, in the same transaction."""
    with warehouse(url) as engine, engine.begin() as connection:
        add_checkpoint_row(connection, checkpoint_id, supernet_id, label, epoch, step, uri, sha256, size)
        if search is not None:
            connection.execute(sa.insert(ArchitectureWeight), [
                {"checkpoint_id": checkpoint_id, "edge": edge, "operation": op, "weight": weight}
                for edge, op, weight in search["theta"]])
            if search["beta"]:
                connection.execute(sa.insert(EdgeWeight), [
                    {"checkpoint_id": checkpoint_id, "edge": edge, "weight": weight} for edge, weight in search["beta"]])
            ids, _, _ = store_architectures(connection, [search["derived"]])
            connection.execute(sa.insert(DerivedArchitecture), [{
                "checkpoint_id": checkpoint_id, "architecture_id": ids[search["derived"].canonical_key],
                "method": search["method"], "training_seconds": search["training_seconds"]}])


def add_checkpoint_row(connection: sa.Connection, checkpoint_id: str, supernet_id: str, label: str,
                       epoch: int | None, step: int, uri: str | None = None, sha256: str | None = None,
                       size: int | None = None) -> None:
    """A checkpoint's row (file-less when uri is None: the per-step scores of evaluate_last_steps)."""
    exists = connection.execute(sa.select(Checkpoint.id).where(
        Checkpoint.supernet_id == supernet_id, Checkpoint.label == label)).first()
    if exists is not None:
        raise WsdbError(f"super-net {supernet_id} already has checkpoint {label}: another process is training "
                        "it too; this run stops without writing it")
    connection.execute(sa.insert(Checkpoint), [{
        "id": checkpoint_id, "supernet_id": supernet_id, "label": label, "epoch": epoch, "step": step,
        "uri": uri, "sha256": sha256, "size_bytes": size, "created_at": utcnow(),
    }])


def has_checkpoint(url: str, supernet_id: str, label: str) -> bool:
    with warehouse(url, read_only=True) as engine, engine.connect() as connection:
        return connection.execute(sa.select(Checkpoint.id).where(
            Checkpoint.supernet_id == supernet_id, Checkpoint.label == label)).first() is not None


def checkpoints_of(connection: sa.Connection, supernet_id: str) -> list[sa.Row]:
    """The super-net's checkpoints that have a file, oldest first."""
    table = Checkpoint.__table__
    return connection.execute(
        sa.select(table).where(table.c.supernet_id == supernet_id, table.c.uri.is_not(None))
        .order_by(table.c.epoch, table.c.step)
    ).all()
