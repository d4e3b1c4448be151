"""Ingest the full NB101 file (454,932 records in the official TFRecord format, written by
../shared/tools/make_nb101_tfrecord.py) into a fresh DuckDB warehouse.

Prints one JSON line: records/s end to end, the bare parse loop on the same file (read +
checksums + JSON + base64 + protobuf, nothing stored) and the ratio of the two, peak RSS of
the main process and of the worker processes. Then the same file again into that warehouse
(every class known by its raw cell text: no official hash computed) and, with `--populated`,
into a fresh warehouse that `wsdb spaces populate nb101` filled first (classes known by
fingerprint; the populate itself timed apart). With `--official-size`, also a file of the
official file's size (1,270,872 records: the published records plus three records of
synthetic metrics, labelled so in the output, for each of the 271,980 enumerated classes the
published data lacks), ingested fresh and again. Pass a file path to skip generating the
published file.
"""

import base64
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, report  # noqa: E402

from wsdb.warehouse import db as database  # noqa: E402
from wsdb.ingest.nb101 import ingest_nb101  # noqa: E402
from wsdb.ingest.nb101_metrics import ModelMetrics  # noqa: E402
from wsdb.ingest.tfrecord import read_records  # noqa: E402
from wsdb.warehouse.populate import populate_spaces  # noqa: E402


def bare_parse(path: Path) -> tuple[int, float]:
    start = time.perf_counter()
    count = 0
    for _, _, payloads in read_records(path):
        for payload in payloads:
            _, _, _, _, metrics = json.loads(payload)
            for evaluation in ModelMetrics.FromString(base64.b64decode(metrics)).evaluation_data:
                evaluation.validation_accuracy
            count += 1
    return count, time.perf_counter() - start


def official_size_file(published: Path, out: Path) -> int:
    """The published records, then three synthetic records (seeded metrics at epochs 54 and
    108) for each enumerated NB101 class not among them; returns the synthetic count."""
    import numpy as np

    from wsdb.ingest.tfrecord import frame_record
    from wsdb.spaces import nb101, nb101_enumeration

    held = {json.loads(p)[0] for _, _, block in read_records(published) for p in block}
    rng = np.random.default_rng(0)
    synthetic = 0
    with open(out, "wb") as f:
        f.write(published.read_bytes())
        for arch in nb101_enumeration.all_classes():
            if arch.canonical_key in held:
                continue
            matrix, ops = nb101.decode(arch.canonical_encoding)
            adjacency = "".join(str(v) for row in matrix for v in row)
            for _ in range(3):
                metrics = ModelMetrics()
                accuracy = float(rng.uniform(0.5, 0.95))
                for epoch, share in ((54, 0.97), (108, 1.0)):
                    metrics.evaluation_data.add(current_epoch=epoch, training_time=float(rng.uniform(500, 5000)) * share,
                                                train_accuracy=min(1.0, accuracy * share + 0.04),
                                                validation_accuracy=accuracy * share, test_accuracy=accuracy * share - 0.005)
                payload = json.dumps([arch.canonical_key, 108, adjacency, ",".join(ops),
                                      base64.b64encode(metrics.SerializeToString()).decode()]).encode()
                f.write(frame_record(payload))
                synthetic += 1
    return synthetic


def official_size(tmp: Path, published: Path) -> dict:
    path = tmp / "official_size.tfrecord"
    synthetic = official_size_file(published, path)
    records, parse_seconds = bare_parse(path)
    url = f"duckdb:///{tmp / 'official.duckdb'}"
    database.init_database(url)
    with database.warehouse(url) as engine:
        fresh = ingest_nb101(engine, path, show_progress=False)
        again = ingest_nb101(engine, path, show_progress=False)
    return {"official_size_records": records, "official_size_synthetic_records": synthetic,
            "official_size_seconds": round(fresh.seconds, 2),
            "official_size_records_per_second": round(records / fresh.seconds),
            "official_size_bare_parse_seconds": round(parse_seconds, 2),
            "official_size_ratio_to_bare_parse": round(fresh.seconds / parse_seconds, 2),
            "official_size_again_seconds": round(again.seconds, 2),
            "official_size_again_ratio_to_bare_parse": round(again.seconds / parse_seconds, 2)}


def main() -> None:
    arguments = [a for a in sys.argv[1:] if not a.startswith("--")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if arguments:
            path = Path(arguments[0])
        else:
            path = tmp / "nasbench_only108.tfrecord"
            subprocess.run([sys.executable, str(SHARED_DATA.parent / "tools/make_nb101_tfrecord.py"), str(path)],
                           check=True, capture_output=True)
        records, parse_seconds = bare_parse(path)
        url = f"duckdb:///{tmp / 'bench.duckdb'}"
        database.init_database(url)
        with database.warehouse(url) as engine:
            summary = ingest_nb101(engine, path, show_progress=False)
            with engine.connect() as connection:
                archs, results = connection.exec_driver_sql(
                    "SELECT (SELECT COUNT(*) FROM architectures WHERE search_space = 'nb101'), "
                    "(SELECT COUNT(*) FROM ground_truth_results)"
                ).one()
            again = ingest_nb101(engine, path, show_progress=False)
        populated = {}
        if "--populated" in sys.argv:
            url = f"duckdb:///{tmp / 'populated.duckdb'}"
            database.init_database(url)
            started = time.perf_counter()
            populate_spaces(url, ["nb101"])
            populated["populate_nb101_seconds"] = round(time.perf_counter() - started, 2)
            with database.warehouse(url) as engine:
                known = ingest_nb101(engine, path, show_progress=False)
            populated["populated_seconds"] = round(known.seconds, 2)
            populated["populated_records_per_second"] = round(known.records_read / known.seconds)
            populated["populated_ratio_to_bare_parse"] = round(known.seconds / parse_seconds, 2)
        if "--official-size" in sys.argv:
            populated.update(official_size(tmp, path))
        report(
            benchmark="ingest_nb101",
            records=summary.records_read,
            architectures=archs,
            ground_truth_rows=results,
            seconds=round(summary.seconds, 2),
            records_per_second=round(summary.records_read / summary.seconds),
            bare_parse_seconds=round(parse_seconds, 2),
            bare_parse_records_per_second=round(records / parse_seconds),
            ratio_to_bare_parse=round(summary.seconds / parse_seconds, 2),
            peak_rss_main_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            peak_rss_worker_mb=round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
            again_seconds=round(again.seconds, 2),
            again_records_per_second=round(again.records_read / again.seconds),
            again_ratio_to_bare_parse=round(again.seconds / parse_seconds, 2),
            **populated,
        )


if __name__ == "__main__":
    main()
