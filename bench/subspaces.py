"""Sub-spaces on this machine: materialising the largest constructed one (NAS-Bench-1Shot1
search space 3: 1,312,200 configurations, 55,854 NB101 classes) and Zhang, Zhang, Yang's NB101
space into a warehouse that holds all 105 published super-nets of Pourchot et al. 2020, then
the `correlation` analysis restricted to each. One JSON line.
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, peak_rss_mb, report  # noqa: E402

from wsdb.analyses import runner as analysis  # noqa: E402

from wsdb.warehouse import subspaces  # noqa: E402
from wsdb.warehouse import db as database  # noqa: E402
from wsdb.ingest.to_share import ingest_to_share  # noqa: E402


def main() -> None:
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"duckdb:///{Path(tmp) / 'bench.duckdb'}"
        database.init_database(url)
        with database.warehouse(url) as engine:
            ingest_to_share(engine, SHARED_DATA / "nb101/to_share_or_not_to_share", show_progress=False)
        for name, key in (("1SHOT1-SS3", "ss3"), ("ZHANG-ZHANG-YANG", "zhang_zhang_yang")):
            start = time.perf_counter()
            record = subspaces.define(url, name)
            figures[f"{key}_define_s"] = round(time.perf_counter() - start, 2)
            figures[f"{key}_classes"] = record["members"]
            start = time.perf_counter()
            result = analysis.query(url, "correlation", {"subspace": name})
            figures[f"{key}_correlation_s"] = round(time.perf_counter() - start, 2)
            figures[f"{key}_correlation_rows"] = result.table.num_rows
            figures[f"{key}_scored_in_subspace"] = sum(result.table.column("n").to_pylist())
    report(benchmark="subspaces", supernets=105, **figures, peak_rss_mb=peak_rss_mb())


if __name__ == "__main__":
    main()
