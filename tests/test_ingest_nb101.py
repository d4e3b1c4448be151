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
from wsdb import db as database
from wsdb.ingest.common import IngestError
from wsdb.ingest.nb101 import ingest_nb101
from wsdb.ingest.nb101_metrics import ModelMetrics
from wsdb.ingest.tfrecord import TFRecordError, masked_crc32c, read_records

TOOL = SHARED_DATA.parent / "tools" / "make_nb101_tfrecord.py"


def make_file(path, limit, seed=0):
    if not TOOL.exists():
        pytest.skip("../shared/tools/make_nb101_tfrecord.py not found")
    subprocess.run([sys.executable, str(TOOL), str(path), "--limit", str(limit), "--seed", str(seed)],
                   check=True, capture_output=True)
    return path


def frame(payload: bytes) -> bytes:
    length = len(payload).to_bytes(8, "little")
    return (length + masked_crc32c(length).to_bytes(4, "little") + payload
            + masked_crc32c(payload).to_bytes(4, "little"))


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
    expected = published.set_index(["module_hash", "repeat"])
    for row in stored:
        assert row.canonical_key == row.benchmark_arch_id
        assert row.trainable_parameters == params.loc[row.canonical_key, "trainable_parameters"]
        truth = expected.loc[(row.benchmark_arch_id, row.repeat)]
        prefix = "final" if row.evaluation_point == "final" else "halfway"
        assert row.epoch == (108 if prefix == "final" else 54)
        assert row.validation_accuracy == pytest.approx(truth[f"{prefix}_validation_accuracy"], abs=1e-7)
        assert row.test_accuracy == pytest.approx(truth[f"{prefix}_test_accuracy"], abs=1e-7)
        assert row.training_seconds == pytest.approx(truth[f"{prefix}_training_time"], rel=1e-6)

    again = ingest(warehouse_url, path)
    assert (again.new_architectures, again.new_results, again.duplicates_skipped) == (0, 0, 240)
    assert counts(warehouse_url) == (40, 240, 40)


def test_an_overlapping_file_adds_only_what_is_new(tmp_path, warehouse_url):
    first = make_file(tmp_path / "a.tfrecord", 100, seed=3)
    other = make_file(tmp_path / "b.tfrecord", 100, seed=4)
    # the second file repeats the first 40 architectures (their 3 records) of the first file
    payloads = [p for f in (first, other) for _, block in read_records(f) for p in block]
    second = tmp_path / "overlap.tfrecord"
    second.write_bytes(b"".join(frame(p) for p in payloads[:120] + payloads[300:]))
    ingest(warehouse_url, first)
    summary = ingest(warehouse_url, second)
    assert (summary.new_architectures, summary.new_results, summary.duplicates_skipped) == (100, 600, 240)
    assert counts(warehouse_url)[:2] == (200, 1200)


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
    with pytest.raises(IngestError, match="record 0 is not a NAS-Bench-101 record"):
        ingest(warehouse_url, records)
    assert counts(warehouse_url) == (0, 0, 0)


def _records(path):
    return [json.loads(p) for _, block in read_records(path) for p in block]


def test_a_record_whose_hash_does_not_match_its_cell(tmp_path, warehouse_url):
    rows = _records(make_file(tmp_path / "good.tfrecord", 5, seed=6))
    rows[7][0] = "0" * 32
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(b"".join(frame(json.dumps(r).encode()) for r in rows))
    with pytest.raises(IngestError, match=r"record 7: module hash 0{32} does not match its cell"):
        ingest(warehouse_url, bad)
    assert counts(warehouse_url) == (0, 0, 0)


def test_invalid_cell_in_a_record(tmp_path, warehouse_url):
    rows = _records(make_file(tmp_path / "good.tfrecord", 2, seed=6))
    rows[1][2] = "1" * len(rows[1][2])  # not upper-triangular
    bad = tmp_path / "bad.tfrecord"
    bad.write_bytes(b"".join(frame(json.dumps(r).encode()) for r in rows))
    with pytest.raises(IngestError, match="record 1: invalid cell: matrix is not strictly upper-triangular"):
        ingest(warehouse_url, bad)


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
    with pytest.raises(IngestError, match="record 130 is not a NAS-Bench-101 record"):
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
