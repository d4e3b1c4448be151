"""Search simulations: RS and RE runs of 10,000 queries each over the published NB101
architectures (the full generated NAS-Bench-101 file ingested into a fresh warehouse first),
storing every trajectory. Prints one JSON line: seconds for each algorithm (simulation +
storage), trace rows, and the final mean regret of each (RE should end below RS).

Usage: python bench/simulate.py [RUNS] [WAREHOUSE.duckdb holding the NB101 ground truth]
"""

import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, peak_rss_mb, report  # noqa: E402

from wsdb.warehouse import db as database  # noqa: E402
from wsdb.search import simulate  # noqa: E402
from wsdb.ingest.nb101 import ingest_nb101  # noqa: E402


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as tmp:
        if len(sys.argv) > 2:
            url = database.resolve_url(sys.argv[2])
        else:
            url = f"duckdb:///{Path(tmp) / 'bench.duckdb'}"
            records = Path(tmp) / "nasbench_only108.tfrecord"
            subprocess.run([sys.executable, str(SHARED_DATA.parent / "tools/make_nb101_tfrecord.py"), str(records)],
                           check=True, capture_output=True)
            database.init_database(url)
            with database.warehouse(url) as engine:
                ingest_nb101(engine, records, show_progress=False)
        figures = {}
        with database.warehouse(url) as engine:
            with engine.connect() as connection:
                start = time.perf_counter()
                gt = simulate.load_ground_truth(connection, "nb101", None, "nasbench101", "cifar10", 108)
                figures["load_seconds"] = round(time.perf_counter() - start, 2)
            for algorithm, function in (("rs", simulate.random_search), ("re", simulate.regularized_evolution)):
                start = time.perf_counter()
                results = function(gt, runs, 10_000, np.random.default_rng(7), "random")
                simulated = time.perf_counter() - start
                with engine.begin() as connection:
                    # a configuration of its own: a repeated benchmark stores (and times) its runs anew
                    _, rows = simulate.store_runs(connection, gt, algorithm, results, {"bench": uuid.uuid4().hex}, 7, None)
                figures[f"{algorithm}_seconds"] = round(time.perf_counter() - start, 1)
                figures[f"{algorithm}_simulation_seconds"] = round(simulated, 1)
                figures[f"{algorithm}_trace_rows"] = rows
                figures[f"{algorithm}_final_mean_regret_points"] = round(100 * float(np.mean([r["regret"][-1] for r in results])), 3)
    report(benchmark="simulate", runs_per_algorithm=runs, queries=10_000, architectures=len(gt.architecture_ids),
           **figures, peak_rss_mb=peak_rss_mb())


if __name__ == "__main__":
    main()
