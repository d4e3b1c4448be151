"""`wsdb ingest nasbench101` on files in the official format (written by
../shared/tools/make_nb101_tfrecord.py from the published records)."""

import base64
import re
import json
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from conftest import SHARED_DATA, run_cli
from wsdb.warehouse import db as database
from wsdb.ingest.common import IngestError
from wsdb.ingest.nb101 import ingest_nb101
from wsdb.ingest.nb101_metrics import ModelMetrics
from wsdb.ingest.tfrecord import TFRecordError, frame_record, read_records

TOOL = SHARED_DATA.parent / "tools" / "make_nb101_tfrecord.py"


def make_file(path, limit, seed=0):
    if not TOOL.exists():
        pytest.skip("../shared/tools/make_nb101_tfrecord.py not found")
    subprocess.run([sys.executable, str(TOOL), str(path), "--limit", str(limit), "--seed", str(seed)],
                   check=True, capture_output=True)
    return path


frame = frame_record


@pytest.fixture
def warehouse_url(duckdb_url):
    database.init_database(duckdb_url)
    return duckdb_url


def counts(url):
    with database.warehouse(url) as engine, engine.connect() as connection:
        return connection.execute(sa.text(
            "SELECT (SELECT COUNT(*) FROM architectures WHERE search_space = 'nb101'), "
            "(SELECT COUNT(*) FROM ground_truth_results), (SELECT COUNT(*) FROM architecture_encodings)"
        )).one()


def ingest(url, path, **options):
    with database.warehouse(url) as engine:
        return ingest_nb101(engine, path, show_progress=False, **options)


def test_ingest_matches_the_published_records_and_reruns_are_no_ops(tmp_path, warehouse_url, shared_data):
    path = make_file(tmp_path / "a.tfrecord", 40, seed=1)
    summary = ingest(warehouse_url, path)
    assert (summary.records_read, summary.new_architectures, summary.new_results) == (120, 40, 240)
    assert counts(warehouse_url) == (40, 240, 40)

    published = pq.read_table(shared_data / "nb101/metrics_108ep_151644.parquet").to_pandas()
    params = pq.read_table(shared_data / "nb101/archs_151644.parquet").to_pandas().set_index("module_hash")
    with database.warehouse(warehouse_url) as engine, engine.connect() as connection:
        stored = connection.execute(sa.text(
            "SELECT g.benchmark_arch_id, g.repeat, g.evaluation_point, g.epoch, g.validation_accuracy, "
            "g.test_accuracy, g.training_seconds, a.canonical_key, a.trainable_parameters "
            "FROM ground_truth_results g JOIN architectures a ON a.id = g.architecture_id"
        )).all()
    assert {row.evaluation_point for row in stored} == {"halfway", "final"}
    # A record does not say which repeat it is: compare runs by content, per cell.
    runs = {}
    for row in stored:
        assert row.canonical_key == row.benchmark_arch_id
        assert row.trainable_parameters == params.loc[row.canonical_key, "trainable_parameters"]
        assert row.epoch == (108 if row.evaluation_point == "final" else 54)
        runs.setdefault((row.benchmark_arch_id, row.repeat), {})[row.evaluation_point] = (
            row.validation_accuracy, row.test_accuracy, row.training_seconds)
    expected = {}
    for truth in published[published.module_hash.isin({r.benchmark_arch_id for r in stored})].itertuples():
        expected.setdefault(truth.module_hash, []).append({
            point: (getattr(truth, f"{point}_validation_accuracy"), getattr(truth, f"{point}_test_accuracy"),
                    getattr(truth, f"{point}_training_time")) for point in ("halfway", "final")})
    for module_hash, published_runs in expected.items():
        stored_runs = [runs[(module_hash, repeat)] for repeat in range(3)]
        assert sorted(map(str, stored_runs)) == sorted(map(str, published_runs))
    again = ingest(warehouse_url, path)
    assert (again.new_architectures, again.new_results, again.duplicates_skipped) == (0, 0, 240)
    assert counts(warehouse_url) == (40, 240, 40)


def test_an_overlapping_file_adds_only_what_is_new(tmp_path, warehouse_url):
    first = make_file(tmp_path / "a.tfrecord", 100, seed=3)
    other = make_file(tmp_path / "b.tfrecord", 100, seed=4)
    # the second file repeats the first 40 architectures (their 3 records) of the first file
    payloads = [p for f in (first, other) for _, _, block in read_records(f) for p in block]
    second = tmp_path / "overlap.tfrecord"
    second.write_bytes(b"".join(frame(p) for p in payloads[:120] + payloads[300:]))
    ingest(warehouse_url, first)
    summary = ingest(warehouse_url, second)
    assert (summary.new_architectures, summary.new_results, summary.duplicates_skipped) == (100, 600, 240)
    assert counts(warehouse_url)[:2] == (200, 1200)


def table_content(url):
    """Every ground-truth row with its architecture's key (ids differ between warehouses)."""
    with database.warehouse(url) as engine, engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(sa.text(
            "SELECT a.canonical_key, g.epoch_budget, g.repeat, g.epoch, g.evaluation_point, g.train_accuracy, "
            "g.validation_accuracy, g.test_accuracy, g.training_seconds FROM ground_truth_results g "
            "JOIN architectures a ON a.id = g.architecture_id")))


def write_records(path, payloads):
    path.write_bytes(b"".join(frame(p) for p in payloads))
    return path


def fresh_warehouse(tmp_path, name):
    url = f"duckdb:///{tmp_path / name}"
    database.init_database(url)
    return url


def test_repeats_are_identified_by_content_whatever_the_files_overlap(tmp_path, shared_data):
    """Issue: a record ingested alone, then its file, stored repeat 2's values under repeat 0
    and skipped the real repeat 0. Any overlap must end as one ingest of the union."""
    payloads = [p for _, _, block in read_records(make_file(tmp_path / "u.tfrecord", 30, seed=11)) for p in block]
    union = write_records(tmp_path / "union.tfrecord", payloads)
    reference = fresh_warehouse(tmp_path, "reference.duckdb")
    ingest(reference, union)
    expected = table_content(reference)
    assert len(expected) == 30 * 3 * 2
    # within each cell, repeats are 0, 1, 2 in the order of their run fingerprints
    from wsdb.warehouse.ground_truth import run_fingerprint
    finals = {}
    for key, budget, repeat, epoch, point, train, validation, test, seconds in expected:
        if point == "final":
            finals.setdefault(key, []).append((repeat, run_fingerprint(seconds, train, validation, test)))
    assert all(sorted(f for _, f in runs) == [f for _, f in sorted(runs)] for runs in finals.values())

    scenarios = {
        "one record alone, then its file": [[payloads[2]], payloads],
        "the file reversed": [payloads[::-1]],
        "a subset, then a superset": [payloads[10:50], payloads],
        "two overlapping halves, shuffled": [payloads[:60][::-1], payloads[45:][::-1], payloads[20:70]],
        "the third repeats, then the first ones": [payloads[2::3], payloads[0::3], payloads[1::3]],
    }
    for name, files in scenarios.items():
        url = fresh_warehouse(tmp_path, f"{abs(hash(name))}.duckdb")
        for k, records in enumerate(files):
            ingest(url, write_records(tmp_path / f"part{k}.tfrecord", records), workers=1, block_records=7)
        assert table_content(url) == expected, name
    again = ingest(reference, union)
    assert (again.new_results, again.duplicates_skipped) == (0, 180)


def nb101_record(module_hash, matrix, ops, parameters, run) -> bytes:
    """One record in the official format from a repeat dict of the official API."""
    metrics = ModelMetrics()
    metrics.trainable_parameters = int(parameters)
    metrics.evaluation_data.add(current_epoch=0, training_time=0)
    for epoch, point in ((54, "halfway"), (108, "final")):
        metrics.evaluation_data.add(
            current_epoch=epoch, training_time=run[f"{point}_training_time"],
            train_accuracy=run[f"{point}_train_accuracy"], validation_accuracy=run[f"{point}_validation_accuracy"],
            test_accuracy=run[f"{point}_test_accuracy"])
    adjacency = "".join(str(int(v)) for row in matrix for v in row)
    return json.dumps([module_hash, 108, adjacency, ",".join(ops),
                       base64.b64encode(metrics.SerializeToString()).decode()]).encode()


def test_the_same_runs_from_the_published_pickles_and_a_tfrecord_file_are_stored_once(tmp_path, shared_data):
    from wsdb.base.safe_pickle import load_numpy_pickle
    from wsdb.ingest.to_share import ingest_to_share
    from wsdb.spaces import nb101

    pickle_dir = tmp_path / "results" / "baseline_ft_bn" / "full" / "0"
    pickle_dir.mkdir(parents=True)
    source = shared_data / "nb101/to_share_or_not_to_share/baseline_ft_bn/full/0/eval_results.pkl"
    (pickle_dir / "eval_results.pkl").write_bytes(source.read_bytes())
    url = fresh_warehouse(tmp_path, "both.duckdb")
    with database.warehouse(url) as engine:
        ingest_to_share(engine, tmp_path / "results", show_progress=False)
    from_pickles = table_content(url)
    # The first 50 cells of the pickle as an official file, repeats in reverse order.
    payloads = []
    for entry in load_numpy_pickle(source)[:50]:
        fixed = entry["full_metrics"][0]
        matrix, ops = fixed["module_adjacency"].tolist(), list(fixed["module_operations"])
        module_hash = nb101.canonicalize(matrix, ops).canonical_key
        payloads += [nb101_record(module_hash, matrix, ops, fixed["trainable_parameters"], run)
                     for run in reversed(entry["bench_metrics"])]
    summary = ingest(url, write_records(tmp_path / "overlap.tfrecord", payloads))
    assert (summary.new_results, summary.duplicates_skipped) == (0, len(payloads) * 2)
    assert table_content(url) == from_pickles


def corrupt_copy(source, target, edit):
    data = bytearray(source.read_bytes())
    target.write_bytes(bytes(edit(data)))
    return target


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d[:-10], "truncated file: record 59"),
        (lambda d: d[:5], "truncated record header at record 0"),
        (lambda d: d[:40] + bytes([d[40] ^ 0x01]) + d[41:], "corrupt record 0 (byte offset 0): payload checksum mismatch"),
    ],
)
def test_damaged_files_are_rejected_and_the_database_is_unchanged(tmp_path, warehouse_url, edit, message):
    good = make_file(tmp_path / "good.tfrecord", 20, seed=5)
    bad = corrupt_copy(good, tmp_path / "bad.tfrecord", edit)
    before = counts(warehouse_url)
    with pytest.raises(TFRecordError, match=re.escape(message)):
        ingest(warehouse_url, bad)
    assert counts(warehouse_url) == before


def test_wrong_file_type(tmp_path, warehouse_url, shared_data):
    with pytest.raises(TFRecordError, match="not a TFRecord file"):
        ingest(warehouse_url, shared_data / "nb101/official_hash_fixture_52.csv")
    records = tmp_path / "other.tfrecord"
    records.write_bytes(frame(b"\x0a\x03abc"))  # a TFRecord, but of something else
    with pytest.raises(IngestError, match=re.escape("record 0 (byte offset 0) is not a NAS-Bench-101 record")):
        ingest(warehouse_url, records)
    assert counts(warehouse_url) == (0, 0, 0)


def _records(path):
    return [json.loads(p) for _, _, block in read_records(path) for p in block]


def test_a_record_whose_hash_does_not_match_its_cell(tmp_path, warehouse_url):
    rows = _records(make_file(tmp_path / "good.tfrecord", 5, seed=6))
    rows[7][0] = "0" * 32
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(b"".join(frame(json.dumps(r).encode()) for r in rows))
    offset = sum(len(frame(json.dumps(r).encode())) for r in rows[:7])  # as the README promises
    with pytest.raises(IngestError, match=rf"record 7 \(byte offset {offset}\): module hash 0{{32}} does not match"):
        ingest(warehouse_url, bad)
    assert counts(warehouse_url) == (0, 0, 0)


def test_invalid_cell_in_a_record(tmp_path, warehouse_url):
    rows = _records(make_file(tmp_path / "good.tfrecord", 2, seed=6))
    rows[1][2] = "1" * len(rows[1][2])  # not upper-triangular
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(b"".join(frame(json.dumps(r).encode()) for r in rows))
    with pytest.raises(IngestError, match=r"record 1 \(byte offset \d+\): invalid cell: matrix is not strictly upper"):
        ingest(warehouse_url, bad)


def test_a_cell_text_with_foreign_characters_in_a_warehouse_that_holds_classes(tmp_path, warehouse_url):
    """The fingerprint lookup of cells the warehouse may know parses raw texts in bulk: a
    character outside ASCII must fail as the record's one-line error, not crash the parser."""
    good = make_file(tmp_path / "good.tfrecord", 2, seed=6)
    ingest(warehouse_url, good)
    before = counts(warehouse_url)
    rows = _records(good)
    rows[1][2] = "é" + rows[1][2][1:]
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(b"".join(frame(json.dumps(r).encode()) for r in rows))
    with pytest.raises(IngestError, match=r"record 1 \(byte offset \d+\): adjacency .* is not a \d+x\d+ 0/1 matrix"):
        ingest(warehouse_url, bad)
    assert counts(warehouse_url) == before


def test_a_truncated_large_file_is_refused_before_any_batch_is_written(tmp_path, warehouse_url):
    good = make_file(tmp_path / "good.tfrecord", 50, seed=7)
    bad = corrupt_copy(good, tmp_path / "bad.tfrecord", lambda d: d[:-3])
    with pytest.raises(TFRecordError, match="truncated file: record 149"):
        ingest(warehouse_url, bad, workers=1, block_records=60)
    assert counts(warehouse_url) == (0, 0, 0)


def test_batches_are_committed_whole_and_a_rerun_completes(tmp_path, warehouse_url):
    good = make_file(tmp_path / "good.tfrecord", 50, seed=7)  # 150 records
    rows = _records(good)
    broken = [list(r) for r in rows]
    broken[130][4] = base64.b64encode(b"\xff\xff not a protobuf").decode()
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(b"".join(frame(json.dumps(r).encode()) for r in broken))
    with pytest.raises(IngestError, match=r"record 130 \(byte offset \d+\) is not a NAS-Bench-101 record"):
        ingest(warehouse_url, bad, workers=1, block_records=60)
    archs, results, _ = counts(warehouse_url)
    assert results == 120 * 2  # the first two blocks of 60 records, whole; nothing of the third
    summary = ingest(warehouse_url, good, workers=1, block_records=60)
    assert summary.new_results == 30 * 2 and counts(warehouse_url)[:2] == (50, 300)


def test_kill_9_leaves_a_consistent_database_that_a_rerun_completes(tmp_path, warehouse_url):
    path = make_file(tmp_path / "big.tfrecord", 3000, seed=8)
    db = warehouse_url.removeprefix("duckdb:///")
    process = subprocess.Popen(
        [sys.executable, "-m", "wsdb.cli", "ingest", "nasbench101", str(path), "--db", db,
         "--workers", "1", "--batch-records", "900"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    time.sleep(2.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    archs, results, encodings = counts(warehouse_url)
    assert results % (900 * 2) == 0 or results == 18000  # whole batches only
    result = run_cli("ingest", "nasbench101", str(path), "--db", db, "--json")
    assert result.returncode == 0, result.stderr
    assert counts(warehouse_url) == (3000, 18000, 3000)


def test_metrics_protobuf_round_trip():
    message = ModelMetrics()
    evaluation = message.evaluation_data.add()
    evaluation.current_epoch, evaluation.validation_accuracy = 108.0, 0.9375
    message.trainable_parameters = 2694282
    parsed = ModelMetrics.FromString(message.SerializeToString())
    assert parsed.trainable_parameters == 2694282 and parsed.evaluation_data[0].validation_accuracy == 0.9375


def _renumbered(payload: bytes, rng) -> bytes:
    """The same record with its cell's vertices in another topological order (another raw
    text of the same class: the module hash stays)."""
    module_hash, budget, adjacency, operations, metrics = json.loads(payload)
    ops = operations.split(",")
    n = len(ops)
    matrix = [[int(adjacency[i * n + j]) for j in range(n)] for i in range(n)]
    order, placed = [0], {0}
    while len(order) < n - 1:
        ready = [v for v in range(1, n - 1) if v not in placed and all(u in placed for u in range(n) if matrix[u][v])]
        v = ready[int(rng.integers(len(ready)))]
        order.append(v)
        placed.add(v)
    order.append(n - 1)
    text = "".join(str(matrix[order[i]][order[j]]) for i in range(n) for j in range(n))
    return json.dumps([module_hash, budget, text, ",".join(ops[v] for v in order), metrics]).encode()


def test_classes_the_warehouse_holds_are_identified_without_recomputing_their_hash(tmp_path, shared_data,
                                                                                  monkeypatch):
    """The official hash is computed once per class and warehouse: a cell whose raw text is
    stored is looked up, a cell of a stored class under another numbering is found by
    fingerprint; a wrong hash is still refused with the official recomputation."""
    import numpy as np

    from wsdb.ingest import nb101 as ingest_module

    payloads = [p for _, _, block in read_records(make_file(tmp_path / "k.tfrecord", 25, seed=5)) for p in block]
    rng = np.random.default_rng(0)
    renumbered = [_renumbered(p, rng) for p in payloads]
    assert sum(a != b for a, b in zip(payloads, renumbered)) > 10
    url = fresh_warehouse(tmp_path, "known.duckdb")
    calls = []
    original = ingest_module.nb101.canonicalize
    monkeypatch.setattr(ingest_module.nb101, "canonicalize", lambda *a, **k: calls.append(1) or original(*a, **k))
    ingest(url, write_records(tmp_path / "first.tfrecord", payloads), workers=1)
    assert len(calls) == 25  # a fresh warehouse: once per class
    expected = table_content(url)
    encodings = counts(url)[2]
    calls.clear()
    by_fingerprint = ingest(url, write_records(tmp_path / "renumbered.tfrecord", renumbered), workers=1)
    assert calls == [] and by_fingerprint.new_architectures == 0 and by_fingerprint.new_results == 0
    assert table_content(url) == expected
    new_texts = len({json.loads(p)[2] + json.loads(p)[3] for p in renumbered} - {json.loads(p)[2] + json.loads(p)[3]
                                                                                 for p in payloads})
    assert counts(url)[2] == encodings + new_texts  # the new raw texts now name their classes
    again = ingest(url, write_records(tmp_path / "again.tfrecord", renumbered), workers=1)
    assert calls == [] and again.new_results == 0
    # a record claiming another class's hash for a known cell: refused, the official hash named
    module_hash, budget, adjacency, operations, metrics = json.loads(renumbered[0])
    other = json.loads(payloads[-1])[0]
    bad = json.dumps([other, budget, adjacency, operations, metrics]).encode()
    with pytest.raises(IngestError, match=rf"record 0 .*module hash {other} does not match its cell "
                                          rf"\(recomputed {module_hash}\)"):
        ingest(url, write_records(tmp_path / "bad.tfrecord", [bad]), workers=1)
    assert table_content(url) == expected
