"""Analyses on this machine: Table 1 over all published super-nets in ../shared (105 x 1,000
architectures; and its linear projection to 210), Kendall's tau-b over 10,000 architectures,
Spearman's rho over 1,000,000 rows, all through the SQL the analyses use. One JSON line.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, report  # noqa: E402

from wsdb.warehouse import db as database  # noqa: E402
from wsdb.analyses import report as table1  # noqa: E402
from wsdb.analyses import statistics as wsdb_statistics  # noqa: E402
from wsdb.ingest.to_share import ingest_to_share  # noqa: E402


def timed(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"duckdb:///{Path(tmp) / 'bench.duckdb'}"
        database.init_database(url)
        start = time.perf_counter()
        with database.warehouse(url) as engine:
            ingest_to_share(engine, SHARED_DATA / "nb101/to_share_or_not_to_share", show_progress=False)
        ingest_seconds = time.perf_counter() - start
        cells = table1.summary(url)
        table1_seconds = timed(lambda: table1.summary(url), 3)

    con = duckdb.connect()
    wsdb_statistics.register(con)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=10_000), rng.normal(size=10_000)
    con.execute("CREATE TABLE pairs AS SELECT * FROM (SELECT UNNEST($x) AS x, UNNEST($y) AS y)", {"x": x.tolist(), "y": y.tolist()})
    kendall_seconds = timed(lambda: con.execute("SELECT kendall_tau_b(LIST(x), LIST(y)) FROM pairs").fetchall(), 5)

    big = rng.normal(size=(1_000_000, 2))
    con.execute("CREATE TABLE big AS SELECT * FROM (SELECT UNNEST($a) AS proxy, UNNEST($b) AS truth)",
                {"a": big[:, 0].tolist(), "b": big[:, 1].tolist()})
    spearman_sql = """
        SELECT CORR(proxy_rank, truth_rank) FROM (
            SELECT RANK() OVER (ORDER BY proxy) + (COUNT(*) OVER (PARTITION BY proxy) - 1) / 2.0 AS proxy_rank,
                   RANK() OVER (ORDER BY truth) + (COUNT(*) OVER (PARTITION BY truth) - 1) / 2.0 AS truth_rank
            FROM big)"""
    ((rho,),) = con.execute(spearman_sql).fetchall()
    assert abs(rho - spearmanr(big[:, 0], big[:, 1]).statistic) < 1e-9
    spearman_seconds = timed(lambda: con.execute(spearman_sql).fetchall(), 3)
    con.close()
    report(
        benchmark="analyses",
        table1_cells=len(cells),
        supernets=sum(c["supernets_kept"] + c["supernets_left_out"] for c in cells),
        table1_seconds=round(table1_seconds, 3),
        table1_seconds_projected_210_supernets=round(table1_seconds * 2, 3),
        kendall_10k_seconds=round(kendall_seconds, 4),
        spearman_1m_rows_seconds=round(spearman_seconds, 3),
        ingest_105_supernets_seconds=round(ingest_seconds, 1),
    )


if __name__ == "__main__":
    main()
