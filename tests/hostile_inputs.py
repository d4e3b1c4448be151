"""Replay hostile inputs against a throwaway warehouse and report how each was handled.

    python tests/hostile_inputs.py [--keep DIR]

Each attack runs one `wsdb` command (in-process, through wsdb.cli.run) with a malicious,
corrupt or malformed input: SQL that escapes the read-only sandbox, pickles that execute
code or hold absurd values, decompression bombs, truncated and empty files, CSV rows with
extra fields, bad URLs, warehouses of a newer schema, nonsense options. An attack counts
as handled when
  - the exit status is the expected one (1 for errors, 2 for usage errors),
  - stderr is exactly one line (usage errors: typer's usage block) with the expected text,
    and no traceback and no "internal error",
  - the warehouse is unchanged: the row count and a content hash of every table,
  - no file appeared that the attack tried to write, and files it tried to change did not.
The report is one JSON line: attacks tried, handled, failures (with what went wrong). The
exit status is the number of failures (0: all handled). tests/test_hostile_inputs.py runs
it in the default test suite.
"""

from __future__ import annotations

import base64
import bz2
import contextlib
import hashlib
import io
import json
import os
import pickle
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np


@dataclass
class Attack:
    name: str
    args: list[str]  # {db}, {dir} and {other} are replaced
    expect: str  # text the error line must contain
    status: int = 1
    setup: Callable[[Path], None] | None = None
    absent: list[str] = field(default_factory=list)  # files (relative to dir) that must not appear
    unchanged: list[str] = field(default_factory=list)  # DuckDB files (relative to dir) that must not change
    kept: list[str] = field(default_factory=list)  # other files (relative to dir) whose bytes must not change


# --- hostile files ------------------------------------------------------------------------

ARCH = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"  # index 0

def _nats_record(accuracy: float = 91.5, drop: str | None = None) -> dict:
    run = {"epochs": 2, "train_acc1es": {0: 50.0, 1: 60.0}, "train_losses": {0: 1.5, 1: 1.2},
           "train_times": {0: 10.0, 1: 10.0}, "params": 0.8, "eval_acc1es": {"x-valid@0": 40.0, "x-valid@1": accuracy,
           "ori-test@1": 90.0}, "eval_losses": {"x-valid@1": 0.5, "ori-test@1": 0.5}}
    if drop:
        del run[drop]
    return {"200": {"arch_index": 0, "arch_str": ARCH, "all_results": {("cifar10-valid", 777): run}}}


def _write_bz2_pickle(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bz2.compress(pickle.dumps(value)))


class _RunsCode:
    """A pickle that calls os.system while loading (it must never be executed)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _to_share_entries(proxy: float = 0.9, accuracy: float = 0.93, broken: bool = False) -> list:
    matrix = np.array([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=np.int8)
    ops = ["input", "conv3x3-bn-relu", "maxpool3x3", "output"]
    runs = [{f"{point}_{field}": value for point in ("halfway", "final")
             for field, value in (("training_time", 100.0 + k), ("train_accuracy", 0.9), ("validation_accuracy",
                                  accuracy), ("test_accuracy", 0.92))} for k in range(3)]
    fixed = {"module_adjacency": matrix, "module_operations": ops, "trainable_parameters": 1000}
    entry = {"full_metrics": (fixed, {108: runs}), "bench_metrics": runs, "architecture": None,
             "proxy_metrics": {"final_validation_accuracy": proxy}}
    if broken:
        del entry["bench_metrics"]
    return [entry]


def _to_share_tree(root: Path, entries) -> None:
    path = root / "baseline_ft_bn" / "full" / "0" / "eval_results.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(entries))


def _nb101_payload(validation: float = 0.93, seconds: float = 1000.0, module_hash: str | None = None) -> bytes:
    from wsdb.ingest.nb101_metrics import ModelMetrics
    from wsdb.spaces import nb101

    matrix = [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    ops = ["input", "conv3x3-bn-relu", "maxpool3x3", "output"]
    metrics = ModelMetrics()
    metrics.trainable_parameters = 1000
    metrics.evaluation_data.add(current_epoch=108, training_time=seconds, train_accuracy=0.9,
                                validation_accuracy=validation, test_accuracy=0.92)
    key = module_hash or nb101.canonicalize(matrix, ops).canonical_key
    return json.dumps([key, 108, "".join(str(v) for row in matrix for v in row), ",".join(ops),
                       base64.b64encode(metrics.SerializeToString()).decode()]).encode()


def _tfrecord(path: Path, payloads: list[bytes]) -> None:
    from wsdb.ingest.tfrecord import frame_record

    path.write_bytes(b"".join(frame_record(p) for p in payloads))


def _write(name: str, text: str) -> Callable[[Path], None]:
    return lambda d: (d / name).write_text(text)


def _bomb(d: Path) -> None:
    compressor = bz2.BZ2Compressor(9)
    chunk = bytes(1 << 20)
    data = b"".join(compressor.compress(chunk) for _ in range(100)) + compressor.flush()  # 100 MiB of zeros
    (d / "bomb").mkdir()
    (d / "bomb" / "000000.pickle.pbz2").write_bytes(data)


def _newer_schema(d: Path) -> None:
    shutil.copy(d / "warehouse.duckdb", d / "newer.duckdb")
    with duckdb.connect(str(d / "newer.duckdb")) as con:
        con.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")


def _other_warehouse(d: Path) -> None:
    shutil.copy(d / "warehouse.duckdb", d / "other.duckdb")


def resign(bundle: Path, out: Path, tables=None, manifest=None, members=None, drop=None, deflate: bool = False
           ) -> Path:
    """`bundle` rewritten as another lab could send it: tables edited (`tables`: name ->
    function of an Arrow table), members dropped (`drop`: a test of the member's name) and
    added (`members`: name -> bytes), the manifest re-signed to match (sha256, bytes, rows), then
    edited (`manifest`: a function of the dict)."""
    import zipfile

    import pyarrow.parquet as pq

    with zipfile.ZipFile(bundle) as archive:
        listed = json.loads(archive.read("manifest.json"))
        files = {n: archive.read(n) for n in listed["files"] if not (drop and drop(n))}
    for table, edit in (tables or {}).items():
        sink = io.BytesIO()
        pq.write_table(edit(pq.read_table(io.BytesIO(files[f"tables/{table}.parquet"]))), sink)
        files[f"tables/{table}.parquet"] = sink.getvalue()
    files.update(members or {})
    listed["files"] = {n: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                           **({"rows": pq.read_table(io.BytesIO(data)).num_rows} if n.startswith("tables/") else {})}
                       for n, data in files.items()}
    if manifest:
        listed = manifest(listed)
    compression = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        archive.writestr("manifest.json", json.dumps(listed))
        for member, data in files.items():
            archive.writestr(member, data)
    return out


def _bundle(d: Path, **edits) -> None:
    """A bundle of the attack's warehouse, exported by wsdb, then rewritten by `resign`."""
    from wsdb.cli import run

    exported = d / "exported.wsdb"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        if run(["bundle", "export", "--out", str(exported), "--all", "--with-ground-truth",
                "--db", str(d / "warehouse.duckdb")]) != 0:
            raise RuntimeError("could not export the attack's bundle")
    resign(exported, d / "b.wsdb", **edits)
    exported.unlink()


def _set(column: str, value, row: int = 0):
    """An edit of one cell of a bundled table."""
    import pyarrow as pa

    def edit(table):
        cells = table.column(column).to_pylist()
        cells[row] = value
        return table.set_column(table.column_names.index(column), column, pa.array(cells, table.schema.field(column).type))
    return edit


SCORES_HEADER = "arch_str,synflow_score\n"

ATTACKS = [
    # read-only SQL is a sandbox: no other file is read or written, one statement, no writes
    Attack("sql: ATTACH another warehouse read-write and delete from it",
           ["sql", "ATTACH '{dir}/other.duckdb' AS o (READ_ONLY false); DELETE FROM o.subspaces", "--db", "{db}"],
           "2 SQL statements", setup=_other_warehouse, unchanged=["other.duckdb"]),
    Attack("sql: ATTACH alone", ["sql", "ATTACH '{dir}/other.duckdb' AS o (READ_ONLY false)", "--db", "{db}"],
           "ATTACH statements are refused", setup=_other_warehouse, unchanged=["other.duckdb"]),
    Attack("sql: COPY a result to any path", ["sql", "COPY (SELECT 42) TO '{dir}/stolen.csv'", "--db", "{db}"],
           "COPY statements are refused", absent=["stolen.csv"]),
    Attack("sql: a table function reads any file", ["sql", "SELECT * FROM read_text('/etc/passwd')", "--db", "{db}"],
           "file system operations are disabled"),
    Attack("sql: read_csv of a file", ["sql", "SELECT * FROM read_csv('{dir}/evil.csv')", "--db", "{db}"],
           "file system operations are disabled", setup=_write("evil.csv", "a,b\n1,2\n")),
    Attack("sql: a file name as a table", ["sql", "SELECT * FROM '{dir}/other.duckdb'", "--db", "{db}"],
           "file system operations are disabled", setup=_other_warehouse),
    Attack("sql: glob the file system", ["sql", "SELECT * FROM glob('/etc/*')", "--db", "{db}"],
           "file system operations are disabled"),
    Attack("sql: install an extension from the network", ["sql", "INSTALL httpfs", "--db", "{db}"],
           "INSTALL statements are refused"),
    Attack("sql: load an extension", ["sql", "LOAD httpfs", "--db", "{db}"], "LOAD statements are refused"),
    Attack("sql: turn the sandbox off", ["sql", "SET enable_external_access = true", "--db", "{db}"],
           "SET statements are refused"),
    Attack("sql: a hidden second statement", ["sql", "SELECT 1; DROP TABLE subspaces", "--db", "{db}"],
           "2 SQL statements"),
    Attack("sql: a write without --write", ["sql", "DELETE FROM supernets", "--db", "{db}"],
           "DELETE statements are refused"),
    Attack("sql: EXPORT DATABASE", ["sql", "EXPORT DATABASE '{dir}/exported'", "--db", "{db}"],
           "EXPORT statements are refused", absent=["exported"]),
    Attack("sql --write: a script that fails halfway is rolled back",
           ["sql", "--write", "DELETE FROM supernets; INSERT INTO no_such_table VALUES (1)", "--db", "{db}"],
           "nothing was changed"),
    Attack("sql --write: a COMMIT inside the script", ["sql", "--write", "DELETE FROM supernets; COMMIT; SELECT 1/0",
                                                      "--db", "{db}"], "COMMIT is refused"),
    Attack("sql --write: a ROLLBACK inside the script", ["sql", "--write", "DELETE FROM supernets; ROLLBACK",
                                                        "--db", "{db}"], "ROLLBACK is refused"),
    Attack("sql: --csv into a missing folder", ["sql", "SELECT 1", "--csv", "{dir}/missing/x.csv", "--db", "{db}"],
           "folder"),
    # an output never overwrites the warehouse, another database or an input; odd targets are one line
    Attack("sql: --parquet over the warehouse", ["sql", "SELECT 1", "--parquet", "{db}", "--db", "{db}"],
           "refusing to write Parquet over"),
    Attack("sql: --csv over the warehouse", ["sql", "SELECT 1", "--csv", "{db}", "--db", "{db}"],
           "refusing to write CSV over"),
    Attack("export: --csv over another warehouse", ["export", "supernets", "--csv", "{dir}/other.duckdb", "--db", "{db}"],
           "it is a database file", setup=_other_warehouse, unchanged=["other.duckdb"]),
    Attack("query: --csv over the SQL file it runs", ["query", "{dir}/q.sql", "--csv", "{dir}/q.sql", "--db", "{db}"],
           "this command reads it", setup=_write("q.sql", "-- One row.\nSELECT 1 AS one\n"), kept=["q.sql"]),
    Attack("plot: --out over the warehouse", ["plot", "scatter", "--supernet", "zhang2020/trajectory", "--out", "{db}",
                                              "--db", "{db}"], "refusing to write plot over"),
    Attack("sql: --csv to a folder", ["sql", "SELECT 1", "--csv", "{dir}", "--db", "{db}"], "it is a folder"),
    Attack("report html: --out a folder", ["report", "html", "--out", "{dir}", "--db", "{db}"], "it is a folder"),
    Attack("sql: --csv to a FIFO", ["sql", "SELECT 1", "--csv", "{dir}/pipe", "--db", "{db}"], "not a regular file",
           setup=lambda d: os.mkfifo(d / "pipe")),
    Attack("sql: --csv where nothing can be written", ["sql", "SELECT 1", "--csv", "/proc/wsdb-out.csv", "--db", "{db}"],
           "cannot write"),
    Attack("query: a SQL file of two statements", ["query", "{dir}/two.sql", "--db", "{db}"], "2 SQL statements",
           setup=_write("two.sql", "-- Two statements.\nSELECT 1;\nDELETE FROM supernets;\n")),
    Attack("query: a SQL file that copies out", ["query", "{dir}/copy.sql", "--db", "{db}"],
           "COPY statements are refused", absent=["out.csv"],
           setup=lambda d: (d / "copy.sql").write_text(f"-- Copies.\nCOPY (SELECT 1) TO '{d}/out.csv'\n")),
    Attack("query: an unknown parameter", ["query", "correlation", "--param", "nope=1", "--db", "{db}"],
           "has no parameter nope"),
    # NAS-Bench-201 / NATS files
    Attack("nats: an accuracy of 5000 %", ["ingest", "nasbench201", "{dir}/nats", "--db", "{db}"],
           "validation_accuracy = 50.0 is not a fraction",
           setup=lambda d: _write_bz2_pickle(d / "nats" / "000000.pickle.pbz2", _nats_record(5000.0))),
    Attack("nats: a run without 'epochs'", ["ingest", "nasbench201", "{dir}/nats", "--db", "{db}"],
           "not a NAS-Bench-201 training run",
           setup=lambda d: _write_bz2_pickle(d / "nats" / "000000.pickle.pbz2", _nats_record(drop="epochs"))),
    Attack("nats: a pickle that runs code", ["ingest", "nasbench201", "{dir}/nats", "--db", "{db}"],
           "unsafe pickle", absent=["pwned"],
           setup=lambda d: _write_bz2_pickle(d / "nats" / "000000.pickle.pbz2", _RunsCode(d / "pwned"))),
    Attack("nats: not bz2", ["ingest", "nasbench201", "{dir}/nats", "--db", "{db}"], "not a bz2 file",
           setup=lambda d: (d / "nats").mkdir() or (d / "nats" / "000000.pickle.pbz2").write_bytes(b"plain")),
    Attack("nats: a decompression bomb", ["ingest", "nasbench201", "{dir}/bomb", "--db", "{db}"],
           "expands to more than 64 MiB", setup=_bomb),
    Attack("nats: a folder without files", ["ingest", "nasbench201", "{dir}/emptydir", "--db", "{db}"],
           "no NNNNNN.pickle.pbz2 files", setup=lambda d: (d / "emptydir").mkdir()),
    Attack("nats: a .pth without --trust", ["ingest", "nasbench201", "{dir}/bench.pth", "--db", "{db}"],
           "pass --trust", setup=_write("bench.pth", "not read")),
    # Pourchot et al. pickles
    Attack("to-share: a proxy accuracy of 42.0", ["ingest", "to-share", "{dir}/share", "--db", "{db}"],
           "final_validation_accuracy = 42.0 is not a fraction",
           setup=lambda d: _to_share_tree(d / "share", _to_share_entries(proxy=42.0))),
    Attack("to-share: a NaN ground truth", ["ingest", "to-share", "{dir}/share", "--db", "{db}"],
           "validation_accuracy = nan is not a fraction",
           setup=lambda d: _to_share_tree(d / "share", _to_share_entries(accuracy=float("nan")))),
    Attack("to-share: entries without bench_metrics", ["ingest", "to-share", "{dir}/share", "--db", "{db}"],
           "not a result dict", setup=lambda d: _to_share_tree(d / "share", _to_share_entries(broken=True))),
    Attack("to-share: a pickle that runs code", ["ingest", "to-share", "{dir}/share", "--db", "{db}"],
           "unsafe pickle", absent=["pwned"],
           setup=lambda d: _to_share_tree(d / "share", [_RunsCode(d / "pwned")])),
    Attack("to-share: not a pickle", ["ingest", "to-share", "{dir}/share", "--db", "{db}"], "not a readable pickle",
           setup=lambda d: (d / "share/baseline_ft_bn/full/0").mkdir(parents=True)
           or (d / "share/baseline_ft_bn/full/0/eval_results.pkl").write_bytes(b"\x80\x04junk")),
    # CSV tables
    Attack("nb201-table: nan", ["ingest", "nb201-table", "{dir}/t.csv", "--db", "{db}"], "not a finite number",
           setup=_write("t.csv", f"arch_index,arch_str,val_acc_200ep_cifar100\n0,{ARCH},nan\n")),
    Attack("nb201-table: 150 %", ["ingest", "nb201-table", "{dir}/t.csv", "--db", "{db}"], "outside [0, 100]",
           setup=_write("t.csv", f"arch_index,arch_str,val_acc_200ep_cifar100\n0,{ARCH},150\n")),
    Attack("nb201-table: a row with an extra field", ["ingest", "nb201-table", "{dir}/t.csv", "--db", "{db}"],
           "line 2: 4 fields, the header has 3",
           setup=_write("t.csv", f"arch_index,arch_str,val_acc_200ep_cifar100\n0,{ARCH},71.2,9\n")),
    Attack("nb201-table: only a header", ["ingest", "nb201-table", "{dir}/t.csv", "--db", "{db}"],
           "only a header, no rows", setup=_write("t.csv", "arch_index,arch_str,val_acc_200ep_cifar100\n")),
    Attack("nb201-table: an empty file", ["ingest", "nb201-table", "{dir}/t.csv", "--db", "{db}"], "empty file",
           setup=_write("t.csv", "")),
    Attack("scores: a JSON adjacency that is not a list",
           ["ingest", "scores", "{dir}/s.csv", "--space", "nb101", "--dataset", "cifar10", "--db", "{db}"],
           "is not a list of rows", setup=_write("s.csv", 'adjacency,operations,synflow\n"[5]","[""input"",""output""]",1.0\n')),
    Attack("scores: NaN", ["ingest", "scores", "{dir}/s.csv", "--space", "nb201", "--dataset", "cifar10", "--db", "{db}"],
           "NaN is refused", setup=_write("s.csv", f"{SCORES_HEADER}{ARCH},nan\n")),
    Attack("scores: an extra field", ["ingest", "scores", "{dir}/s.csv", "--space", "nb201", "--dataset", "cifar10",
                                      "--db", "{db}"], "3 fields, the header has 2",
           setup=_write("s.csv", f"{SCORES_HEADER}{ARCH},1.0,2.0\n")),
    Attack("scores: an unknown space", ["ingest", "scores", "{dir}/s.csv", "--space", "nb999", "--db", "{db}"],
           "--space must be one of", setup=_write("s.csv", f"{SCORES_HEADER}{ARCH},1.0\n")),
    Attack("ws64: a NaN mean", ["ingest", "ws64", "--from", "{dir}/w.csv", "--db", "{db}"], "not a finite number",
           setup=_write("w.csv", "label,gt_acc_mean,gt_acc_std\n111,nan,0.01\n")),
    Attack("ws64-trajectory: an accuracy of 1.5", ["ingest", "ws64-trajectory", "{dir}/t.csv", "--db", "{db}"],
           "outside [0, 1]", setup=_write("t.csv", "step,arch_index,supernet_val_acc\n1,0,1.5\n")),
    Attack("ws64-trajectory: a missing file", ["ingest", "ws64-trajectory", "{dir}/none.csv", "--db", "{db}"],
           "no such file"),
    # NAS-Bench-101 TFRecord files
    Attack("nasbench101: an empty file", ["ingest", "nasbench101", "{dir}/e.tfrecord", "--db", "{db}"],
           "empty file", setup=_write("e.tfrecord", "")),
    Attack("nasbench101: a truncated file", ["ingest", "nasbench101", "{dir}/t.tfrecord", "--db", "{db}"],
           "truncated", setup=lambda d: _tfrecord(d / "t.tfrecord", [_nb101_payload()])
           or (d / "t.tfrecord").write_bytes((d / "t.tfrecord").read_bytes()[:-7])),
    Attack("nasbench101: a validation accuracy of 2.0", ["ingest", "nasbench101", "{dir}/v.tfrecord", "--db", "{db}"],
           "validation_accuracy = 2.0 is not a fraction",
           setup=lambda d: _tfrecord(d / "v.tfrecord", [_nb101_payload(validation=2.0)])),
    Attack("nasbench101: a negative training time", ["ingest", "nasbench101", "{dir}/v.tfrecord", "--db", "{db}"],
           "training_seconds = -5.0 is not",
           setup=lambda d: _tfrecord(d / "v.tfrecord", [_nb101_payload(seconds=-5.0)])),
    Attack("nasbench101: a module hash that is not its cell's", ["ingest", "nasbench101", "{dir}/h.tfrecord",
                                                                  "--db", "{db}"], "record 1 (byte offset",
           setup=lambda d: _tfrecord(d / "h.tfrecord", [_nb101_payload(), _nb101_payload(module_hash="0" * 32)])),
    Attack("nasbench101: --workers 0", ["ingest", "nasbench101", "{dir}/x.tfrecord", "--workers", "0", "--db", "{db}"],
           "--workers", status=2),
    Attack("nasbench101: --batch-records -1", ["ingest", "nasbench101", "{dir}/x.tfrecord", "--batch-records", "-1",
                                               "--db", "{db}"], "--batch-records", status=2),
    Attack("nasbench101: a directory", ["ingest", "nasbench101", "{dir}", "--db", "{db}"], "is a directory"),
    # warehouses and URLs
    Attack("--db: a mysql:// URL", ["summary", "--db", "mysql://root@localhost/wsdb"], "not mysql"),
    Attack("--db: an unreadable URL", ["summary", "--db", "postgresql+psycopg://[::1"], "cannot read database URL"),
    Attack("--db: a file that is not a warehouse", ["summary", "--db", "{dir}/fake.duckdb"], "cannot open",
           setup=_write("fake.duckdb", "this is not a database")),
    Attack("--db: a missing warehouse", ["summary", "--db", "{dir}/missing.duckdb"], "no warehouse at",
           absent=["missing.duckdb"]),
    Attack("a warehouse of a newer wsdb", ["summary", "--db", "{dir}/newer.duckdb"], "written by a newer wsdb",
           setup=_newer_schema, unchanged=["newer.duckdb"]),
    Attack("db upgrade of a newer warehouse", ["db", "upgrade", "--db", "{dir}/newer.duckdb"],
           "written by a newer wsdb", setup=_newer_schema, unchanged=["newer.duckdb"]),
    Attack("analyses on a newer warehouse", ["sql", "SELECT 1", "--db", "{dir}/newer.duckdb"],
           "written by a newer wsdb", setup=_newer_schema, unchanged=["newer.duckdb"]),
    Attack("pull from a missing source", ["pull", "--from", "{dir}/missing.duckdb", "--to", "{dir}/target.duckdb"],
           "no warehouse at", absent=["target.duckdb", "missing.duckdb"]),
    Attack("init in a missing folder", ["init", "--db", "{dir}/no/such/folder/w.duckdb"], "does not exist"),
    # commands given things that do not exist
    Attack("resume an imported super-net", ["run-supernet", "--resume", "zhang2020/trajectory", "--db", "{db}"],
           "was imported, not trained here"),
    Attack("resume an unknown super-net", ["run-supernet", "--resume", "nope", "--db", "{db}"], "no super-net"),
    Attack("evaluate an unknown super-net", ["evaluate", "--supernet", "nope", "--n", "5", "--db", "{db}"],
           "no super-net"),
    Attack("plot an unknown super-net", ["plot", "scatter", "--supernet", "nope", "--out", "{dir}/p.png", "--db", "{db}"],
           "nope", absent=["p.png"]),
    Attack("arch show: a bad matrix", ["arch", "show", "--space", "nb101", "--matrix", "[[0,1],[1,0]]", "--ops",
                                       "input,output"], "not strictly upper-triangular"),
    Attack("spaces populate: an unknown space", ["spaces", "populate", "nb999", "--db", "{db}"], "unknown search space"),
    Attack("simulate: zero runs", ["simulate", "--space", "nb101", "--algorithm", "rs", "--runs", "0", "--db", "{db}"],
           "--runs", status=2),
    Attack("export: an unknown table", ["export", "nope", "--csv", "{dir}/x.csv", "--db", "{db}"], "no table or view",
           absent=["x.csv"]),
    Attack("report: an unknown interval", ["report", "table1", "--ci", "bogus", "--db", "{db}"], "--ci must be one of"),
    Attack("submit: an unknown configuration key", ["submit", "train", "--name", "x", "--set", "space=nb201",
                                                    "--set", "epoch=3", "--db", "{db}"], "epoch"),
    Attack("jobs show: an unknown job", ["jobs", "show", "ffffff", "--db", "{db}"], "ffffff"),
    Attack("jobs retry: a short id", ["jobs", "retry", "ffff", "--db", "{db}"], "at least 6 characters"),
    Attack("jobs cancel: nothing named", ["jobs", "cancel", "--db", "{db}"], "give job ids or --sweep"),
    Attack("jobs: an unknown status", ["jobs", "--status", "bogus", "--db", "{db}"], "expected one of"),
    Attack("jobs sweeps: a mysql URL", ["jobs", "sweeps", "--db", "mysql://x/y"], "not mysql"),
    Attack("worker: an unknown launcher", ["worker", "--launch", "bogus", "--db", "{db}"], "expected one of"),
    Attack("submit evaluate: an unknown sweep", ["submit", "evaluate", "--sweep", "nope", "--db", "{db}"],
           "sweep 'nope' has no training jobs"),
    Attack("train-standalone: a genotype built to run code", ["train-standalone", "--recipe", "darts-cifar10",
                                                               "--genotype", "Genotype(normal=__import__('os').system('id'))",
                                                               "--db", "{db}"], "no normal=[...] list"),
    Attack("train-standalone: a million epochs", ["train-standalone", "--recipe", "ws64-200", "--label", "111", "--set",
                                                  "epochs=1000000", "--db", "{db}"], "epochs must be in"),
    Attack("train-standalone: a recipe of another space", ["train-standalone", "--recipe", "nb201-200", "--space",
                                                           "ws64", "--label", "111", "--db", "{db}"],
           "trains nb201 architectures"),
    Attack("recipes show: an unknown recipe", ["recipes", "show", "nope"], "unknown recipe"),
    Attack("submit standalone: an override the recipe lacks", ["submit", "standalone", "--recipe", "ws64-200", "--n",
                                                               "2", "--set", "lr=1", "--db", "{db}"],
           "'lr' is not a setting"),
    Attack("submit standalone: a seed past 2^31 (no sample drawn)", ["submit", "standalone", "--recipe", "ws64-200",
                                                                      "--n", "2", "--seeds", "3000000000", "--db", "{db}"],
           "seed must be a whole number in [0, 2^31)"),
    Attack("train-standalone: --space against the recipe (no sample drawn)", ["train-standalone", "--recipe",
                                                                               "ws64-200", "--space", "nb201", "--n",
                                                                               "2", "--db", "{db}"],
           "not --space nb201"),
    Attack("db status: a missing warehouse", ["db", "status", "--db", "{dir}/none.duckdb"], "no warehouse at",
           absent=["none.duckdb"]),
    Attack("spaces list: two output formats", ["spaces", "list", "--json", "--csv", "-"], "choose one of"),
    Attack("report table2: a bad --top-k", ["report", "table2", "--top-k", "x", "--db", "{db}"], "--top-k takes"),
    Attack("plot regret: a bad --top-k", ["plot", "regret", "--top-k", "0", "--out", "{dir}/r.png", "--db", "{db}"],
           "--top-k takes", absent=["r.png"]),
    Attack("plot correlation: an unknown interval", ["plot", "correlation", "--ci", "x", "--out", "{dir}/c.png",
                                                     "--db", "{db}"], "--ci must be one of", absent=["c.png"]),
    Attack("demo: over an existing warehouse", ["demo", "--db", "{db}", "--out", "{dir}"], "exists"),
    Attack("arch show: an unknown space", ["arch", "show", "--space", "nb999", "--label", "111"], "unknown search space"),
    # sub-spaces: names, parents and parameters that do not exist
    Attack("spaces define: an unknown name", ["spaces", "define", "NOPE", "--db", "{db}"], "no sub-space 'NOPE'"),
    Attack("spaces define: an unknown parent", ["spaces", "define", "random/nope/2/0", "--db", "{db}"],
           "parent 'nope'"),
    Attack("spaces define: k below 1", ["spaces", "define", "random/nb201/0/1", "--db", "{db}"],
           "k must be a whole number >= 1"),
    Attack("spaces define: best by a benchmark not held", ["spaces", "define",
                                                           "best/nb201/4/nasbench201/cifar100/test_accuracy",
                                                           "--db", "{db}"], "no ground truth of benchmark"),
    Attack("spaces define: an ambiguous parent", ["spaces", "define", "random/FULL/2/0", "--db", "{db}"],
           "name the search space"),
    Attack("spaces define: a member list with a bad line", ["spaces", "define", "mine", "--space", "ws64", "--members",
                                                            "{dir}/members.txt", "--db", "{db}"], "members.txt:2",
           setup=lambda d: (d / "members.txt").write_text("111\n999\n")),
    Attack("spaces show: undefined derived name", ["spaces", "show", "random/nb201/4/0", "--db", "{db}"],
           "wsdb spaces define random/nb201/4/0"),
    Attack("run-supernet: an undefined sub-space", ["run-supernet", "--space", "nb201", "--subspace", "random/nb201/4/0",
                                                    "--dataset", "synthetic", "--db", "{db}"], "is not defined"),
    Attack("report subspaces: nothing derived", ["report", "subspaces", "--db", "{db}"], "no derived sub-space"),
    Attack("bundle export: nothing selected", ["bundle", "export", "--out", "{dir}/b.wsdb", "--db", "{db}"],
           "the selection matches nothing", absent=["b.wsdb"]),
    Attack("bundle export: an unknown super-net", ["bundle", "export", "--out", "{dir}/b.wsdb", "--supernet", "nope",
                                                    "--db", "{db}"], "no super-net", absent=["b.wsdb"]),
    Attack("bundle import: not a bundle", ["bundle", "import", "{dir}/x.wsdb", "--db", "{db}"],
           "not a readable wsdb bundle", setup=lambda d: (d / "x.wsdb").write_bytes(b"PK\x03\x04 garbage")),
    Attack("bundle import: a zip without manifest", ["bundle", "import", "{dir}/m.wsdb", "--db", "{db}"],
           "no manifest.json", setup=lambda d: __import__("zipfile").ZipFile(d / "m.wsdb", "w").close()),
    Attack("bundle show: a missing bundle", ["bundle", "show", "{dir}/none.wsdb"], "no such bundle"),
    # bundles from another lab are untrusted: paths, planted files, values, manifests, bounds
    Attack("bundle import: a checkpoint label that climbs out of --checkpoint-dir",
           ["bundle", "import", "{dir}/b.wsdb", "--checkpoint-dir", "{dir}/ck", "--db", "{db}"], "label",
           setup=lambda d: _bundle(d, tables={"checkpoints": _set("label", "../../../escaped")}),
           absent=["escaped.pt", "ck"]),
    Attack("bundle import: a checkpoint file named with ../",
           ["bundle", "import", "{dir}/b.wsdb", "--checkpoint-dir", "{dir}/ck", "--db", "{db}"],
           "is not a file a bundle holds", absent=["ck", "x.pt"],
           setup=lambda d: _bundle(d, members={"checkpoints/../../x.pt": b"payload"})),
    Attack("bundle import: an absolute super-net id", ["bundle", "import", "{dir}/b.wsdb", "--db", "{db}"],
           "a 32-character hex id", setup=lambda d: _bundle(d, tables={"checkpoints": _set("supernet_id", "/etc")})),
    Attack("bundle import: an accuracy of 42.0", ["bundle", "import", "{dir}/b.wsdb", "--db", "{db}"],
           "validation_accuracy = 42.0 is not a fraction",
           setup=lambda d: _bundle(d, tables={"ground_truth_results": _set("validation_accuracy", 42.0)})),
    Attack("bundle import: a NaN proxy score", ["bundle", "import", "{dir}/b.wsdb", "--db", "{db}"],
           "validation_accuracy value = nan", setup=lambda d: _bundle(d, tables={"proxy_scores": _set("value", float("nan"))})),
    Attack("bundle import: a negative parameter count", ["bundle", "import", "{dir}/b.wsdb", "--db", "{db}"],
           "trainable_parameters = -5", setup=lambda d: _bundle(d, tables={"architectures": _set("trainable_parameters", -5)})),
    Attack("bundle import: a configuration that is not JSON", ["bundle", "import", "{dir}/b.wsdb", "--db", "{db}"],
           "is not a JSON object", setup=lambda d: _bundle(d, tables={"supernets": _set("config_json", "{not json")})),
    Attack("bundle import: an architecture reference of -1", ["bundle", "import", "{dir}/b.wsdb", "--db", "{db}"],
           "architecture_ref = -1", setup=lambda d: _bundle(d, tables={"proxy_scores": _set("architecture_ref", -1)})),
    Attack("bundle import: format version 0", ["bundle", "import", "{dir}/b.wsdb", "--db", "{db}"],
           "format_version 0 is not", setup=lambda d: _bundle(d, manifest=lambda m: {**m, "format_version": 0})),
    Attack("bundle import: format version true", ["bundle", "import", "{dir}/b.wsdb", "--db", "{db}"],
           "format_version True is not", setup=lambda d: _bundle(d, manifest=lambda m: {**m, "format_version": True})),
    Attack("bundle show: a manifest whose files are a list", ["bundle", "show", "{dir}/b.wsdb"],
           "files is not a mapping", setup=lambda d: _bundle(d, manifest=lambda m: {**m, "files": list(m["files"])})),
    Attack("bundle import: a manifest that lies about rows", ["bundle", "import", "{dir}/b.wsdb", "--db", "{db}"],
           "rows, the manifest says", setup=lambda d: _bundle(d, manifest=lambda m: {**m, "files": {
               **m["files"], "tables/proxy_scores.parquet": {**m["files"]["tables/proxy_scores.parquet"], "rows": 1}}})),
    Attack("bundle import: a manifest that lies about bytes", ["bundle", "import", "{dir}/b.wsdb", "--db", "{db}"],
           "the archive says", setup=lambda d: _bundle(d, manifest=lambda m: {**m, "files": {
               **m["files"], "tables/supernets.parquet": {**m["files"]["tables/supernets.parquet"], "bytes": 10}}})),
    Attack("bundle show: a member that expands to 256 MiB", ["bundle", "show", "{dir}/b.wsdb"], "decompression bomb",
           setup=lambda d: _bundle(d, deflate=True, members={f"checkpoints/{'a' * 32}/big.pt": bytes(256 << 20)})),
    Attack("bundle show: a member the manifest does not list", ["bundle", "show", "{dir}/b.wsdb"],
           "not in the manifest", setup=lambda d: _bundle(d, manifest=lambda m: {**m, "files": {
               k: v for k, v in m["files"].items() if k != "tables/search_traces.parquet"}})),
    Attack("bundle show: a FIFO", ["bundle", "show", "{dir}/fifo.wsdb"], "not a regular file",
           setup=lambda d: os.mkfifo(d / "fifo.wsdb")),
    Attack("report html: a missing folder", ["report", "html", "--out", "{dir}/no/such/r.html", "--db", "{db}"],
           "does not exist"),
    Attack("run-supernet: a differentiable method on nb101 outside NAS-Bench-1Shot1's spaces",
           ["run-supernet", "--space", "nb101", "--search", "darts", "--dataset", "synthetic", "--db", "{db}"],
           "set subspace 1SHOT1-SS1"),
    Attack("run-supernet: NAS-Bench-1Shot1's one-shot model with the sampled super-net's slicing",
           ["run-supernet", "--space", "nb101", "--subspace", "1SHOT1-SS2", "--search", "gdas", "--slicing", "shuffle",
            "--dataset", "synthetic", "--db", "{db}"], "no slicing"),
    Attack("report differentiable: nothing trained with --search", ["report", "differentiable", "--db", "{db}"],
           "nothing to report"),
    Attack("simulate derived: a super-net trained by sampling", ["simulate", "--space", "nb201", "--algorithm",
                                                                 "derived", "--supernet", "zhang2020/trajectory",
                                                                 "--db", "{db}"], "no "),
    Attack("plot subspaces: nothing derived", ["plot", "subspaces", "--out", "{dir}/s.png", "--db", "{db}"],
           "no derived sub-space", absent=["s.png"]),
    Attack("run-supernet: wsbn with edge sharing", ["run-supernet", "--space", "ws64", "--wsbn", "--dataset",
                                                    "synthetic", "--db", "{db}"], "set sharing: node"),
    Attack("run-supernet: 3 groups of 64", ["run-supernet", "--space", "ws64", "--sharing-groups", "3", "--dataset",
                                            "synthetic", "--db", "{db}"], "must divide"),
    Attack("run-supernet: a prefix longer than the network", ["run-supernet", "--space", "ws64", "--prefix-sharing",
                                                              "9", "--dataset", "synthetic", "--db", "{db}"],
           "prefix_sharing (9)"),
    # numbers typed by hand: one rule for every numeric key, on the command line, in YAML and in sweeps
    Attack("run-supernet: --lr nan", ["run-supernet", "--space", "ws64", "--lr", "nan", "--dataset", "synthetic",
                                      "--db", "{db}"], "learning_rate must be a finite number", absent=["checkpoints"]),
    Attack("run-supernet: --lr inf", ["run-supernet", "--space", "ws64", "--lr", "inf", "--dataset", "synthetic",
                                      "--db", "{db}"], "learning_rate must be a finite number"),
    Attack("run-supernet: --lr -0.1", ["run-supernet", "--space", "ws64", "--lr", "-0.1", "--dataset", "synthetic",
                                       "--db", "{db}"], "learning_rate must be in (0, inf)"),
    Attack("run-supernet: learning_rate .nan in YAML", ["run-supernet", "--config", "{dir}/c.yaml", "--db", "{db}"],
           "learning_rate must be a finite number",
           setup=_write("c.yaml", "space: ws64\ndataset: synthetic\nlearning_rate: .nan\n")),
    Attack("run-supernet: epochs 2.5 in YAML", ["run-supernet", "--config", "{dir}/c.yaml", "--db", "{db}"],
           "epochs must be a whole number", setup=_write("c.yaml", "space: ws64\ndataset: synthetic\nepochs: 2.5\n")),
    Attack("submit: a sweep whose learning rate is NaN", ["submit", "train", "--name", "x", "--set", "space=ws64",
                                                         "--set", "learning_rate=nan", "--db", "{db}"],
           "learning_rate must be a number"),
    Attack("submit: a sweep file whose learning rate is .nan", ["submit", "train", "{dir}/s.yaml", "--db", "{db}"],
           "learning_rate must be a finite number",
           setup=_write("s.yaml", "name: s\nbase: {space: ws64, learning_rate: .nan}\ngrid: {seed: [0]}\n")),
    Attack("run-supernet: --seed -1", ["run-supernet", "--space", "ws64", "--seed", "-1", "--dataset", "synthetic",
                                       "--db", "{db}"], "seed must be a whole number in [0, 2^31)"),
    Attack("submit: a sweep seed of 2^40", ["submit", "train", "{dir}/s.yaml", "--db", "{db}"],
           "init_seed must be a whole number in [0, 2^31)",
           setup=_write("s.yaml", "name: s\nbase: {space: ws64}\ngrid: {init_seed: [1099511627776]}\n")),
    Attack("run-supernet: --architecture-lr without --search", ["run-supernet", "--space", "ws64", "--architecture-lr",
                                                                "0.1", "--dataset", "synthetic", "--db", "{db}"],
           "need search"),
    Attack("run-supernet: --sampler with --search", ["run-supernet", "--space", "ws64", "--search", "darts", "--sampler",
                                                     "fairnas", "--dataset", "synthetic", "--db", "{db}"],
           "sampler and architectures_per_batch apply to sampling"),
    Attack("run-supernet: a checkpoint folder inside a file", ["run-supernet", "--space", "ws64", "--dataset",
                                                               "synthetic", "--checkpoint-dir", "{dir}/f/ck",
                                                               "--db", "{db}"], "--checkpoint-dir",
           setup=_write("f", "a file")),
    # inputs that would never end, and loops bounded by what the format holds
    Attack("nats: epochs 10**30", ["ingest", "nasbench201", "{dir}/nats", "--db", "{db}"],
           "is not a count of epochs", setup=lambda d: _write_bz2_pickle(
               d / "nats" / "000000.pickle.pbz2", {**_nats_record(), "200": {**_nats_record()["200"], "all_results": {
                   ("cifar10-valid", 777): {**_nats_record()["200"]["all_results"][("cifar10-valid", 777)],
                                            "epochs": 10 ** 30}}}})),
    Attack("nasbench101: a FIFO", ["ingest", "nasbench101", "{dir}/pipe.tfrecord", "--db", "{db}"],
           "not a regular file", setup=lambda d: os.mkfifo(d / "pipe.tfrecord")),
    Attack("nb201-table: a FIFO", ["ingest", "nb201-table", "{dir}/pipe.csv", "--db", "{db}"], "not a regular file",
           setup=lambda d: os.mkfifo(d / "pipe.csv")),
    Attack("query: a FIFO as the SQL file", ["query", "{dir}/pipe.sql", "--db", "{db}"], "not a regular file",
           setup=lambda d: os.mkfifo(d / "pipe.sql")),
    Attack("run-supernet: a FIFO as --config", ["run-supernet", "--config", "{dir}/pipe.yaml", "--db", "{db}"],
           "not a regular file", setup=lambda d: os.mkfifo(d / "pipe.yaml")),
    Attack("evaluate: a curve of bns-ft", ["evaluate", "--supernet", "zhang2020/trajectory", "--protocol", "bns-ft:4",
                                           "--curve", "--n", "3", "--db", "{db}"], "--curve"),
    Attack("report factors: an unknown sweep", ["report", "factors", "--sweep", "nope", "--db", "{db}"],
           "no super-net of sweep 'nope'"),
]


# --- the warehouse and its fingerprint -----------------------------------------------------

def make_warehouse(path: Path) -> None:
    """A small warehouse holding every kind of row the attacks could damage."""
    from wsdb.cli import run

    trajectory = path.parent / "trajectory.csv"
    trajectory.write_text("step,arch_index,supernet_val_acc\n" + "".join(
        f"{step},{index},{0.5 + index / 200}\n" for step in (1, 2) for index in range(64)))
    for args in (["init", "--db", str(path), "--populate", "ws64"], ["ingest", "ws64", "--db", str(path)],
                 ["ingest", "ws64-trajectory", str(trajectory), "--name", "zhang2020/trajectory", "--db", str(path)]):
        with contextlib.redirect_stdout(io.StringIO()):
            status = run(args)
        if status != 0:
            raise RuntimeError(f"could not build the test warehouse: wsdb {' '.join(args)}")
    trajectory.unlink()


def fingerprint(path: Path) -> dict[str, tuple[int, str]] | None:
    """table -> (rows, md5 of its sorted rows); None if the file does not exist."""
    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_type = 'BASE TABLE' ORDER BY 1").fetchall()]
        query = " UNION ALL ".join(
            f"SELECT '{t}', COUNT(*), md5(COALESCE(string_agg(CAST(x AS VARCHAR), '|' ORDER BY CAST(x AS VARCHAR)), ''))"
            f' FROM "{t}" x' for t in tables)
        return {table: (rows, digest) for table, rows, digest in con.execute(query).fetchall()}


def _file_digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _invoke(args: list[str]) -> tuple[int, str, str]:
    from wsdb.cli import run

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = run(args)
    return status, out.getvalue(), err.getvalue()


def _problems(attack: Attack, status: int, stderr: str) -> list[str]:
    problems = []
    lines = stderr.strip().splitlines()
    if status != attack.status:
        problems.append(f"exit status {status}, expected {attack.status}")
    if "Traceback" in stderr or "internal error" in stderr:
        problems.append("a traceback or internal error")
    if attack.status == 1 and (len(lines) != 1 or not lines[0].startswith("wsdb: error: ")):
        problems.append(f"{len(lines)} lines on stderr, expected one 'wsdb: error: ...' line")
    if attack.expect not in stderr:
        problems.append(f"stderr lacks {attack.expect!r}")
    return problems


def replay(workdir: Path, attacks: list[Attack] = ATTACKS) -> dict:
    template = workdir / "template.duckdb"
    make_warehouse(template)
    original = fingerprint(template)
    failures = []
    for k, attack in enumerate(attacks):
        folder = workdir / f"attack{k:02d}"
        folder.mkdir()
        shutil.copy(template, folder / "warehouse.duckdb")
        if attack.setup:
            attack.setup(folder)
        watched = ["warehouse.duckdb", *attack.unchanged]
        before = {name: _file_digest(folder / name) for name in watched}
        kept = {name: _file_digest(folder / name) for name in attack.kept}
        contents = {name: original if name == "warehouse.duckdb" else fingerprint(folder / name) for name in watched}
        args = [a.format(db=folder / "warehouse.duckdb", dir=folder) for a in attack.args]
        status, _, stderr = _invoke(args)
        problems = _problems(attack, status, stderr)
        # the same bytes are the same warehouse; other bytes (DuckDB rewrites its header on a
        # read-write close) are compared by content
        problems += [f"{name} changed" for name in watched
                     if _file_digest(folder / name) != before[name] and fingerprint(folder / name) != contents[name]]
        problems += [f"{name} was created" for name in attack.absent if (folder / name).exists()]
        problems += [f"{name} changed" for name in attack.kept if _file_digest(folder / name) != kept[name]]
        if problems:
            failures.append({"attack": attack.name, "problems": problems, "stderr": stderr.strip()[-500:]})
    return {"attacks_tried": len(attacks), "handled": len(attacks) - len(failures), "failures": failures}


def main() -> int:
    keep = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "--keep" else None
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(keep or scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        report = replay(workdir)
    print(json.dumps(report))
    return len(report["failures"])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    status = main()
    sys.stdout.flush()
    os._exit(min(status, 100))
