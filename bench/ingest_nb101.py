"""Ingest the full NB101 file (454,932 records in the official TFRecord format, written by
../shared/tools/make_nb101_tfrecord.py) into a fresh DuckDB warehouse.

Prints one JSON line: records/s end to end, the bare parse loop on the same file (read +
checksums + JSON + base64 + protobuf, nothing stored) and the ratio of the two, peak RSS of
the main process and of the worker processes. Then the same file again into that warehouse
(every class known by its raw cell text: no official hash computed) and, with `--populated`,
into a fresh warehouse that `wsdb spaces populate nb101` filled first (classes known by
fingerprint; the populate itself timed apart). Pass a file path to skip generating it.
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

from wsdb import db as database  # noqa: E402
from wsdb.ingest.nb101 import ingest_nb101  # noqa: E402
from wsdb.ingest.nb101_metrics import ModelMetrics  # noqa: E402
from wsdb.ingest.tfrecord import read_records  # noqa: E402
from wsdb.populate import populate_spaces  # noqa: E402


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


def main() -> None:
    arguments = [a for a in sys.argv[1:] if a != "--populated"]
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
