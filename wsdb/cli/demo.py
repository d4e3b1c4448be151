"""`wsdb demo`: a warehouse from the small real sample shipped with wsdb, and the headline
analyses on it, without network and without anything outside the package.

It sits with the command line because it runs every layer (ingest, analyses, plots) in turn.
The sample (wsdb/data/demo/, made by tools/make_demo_data.py): the ten published FULL-space
super-nets of Pourchot et al. 2020 (uniform sampling; five scored with BNS-FT, five with NO-FT) with
the NB101 ground truth of their architectures, and the published ws64 super-net trajectory.
The FULL sample is written back in the authors' pickle layout and ingested by the same
`wsdb ingest to-share` a user runs on the published files.
"""

from __future__ import annotations

import pickle
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow.csv
import pyarrow.parquet as pq

from wsdb.analyses import runner as analysis

from wsdb.warehouse import db as database

from wsdb.analyses import duck

from wsdb.analyses import plots

from wsdb.analyses import report
from wsdb.base.errors import WsdbError
from wsdb.base.papers import POURCHOT_2020, ZHANG_2020_DEEPER
from wsdb.ingest.to_share import ingest_to_share
from wsdb.ingest.ws64 import ingest_ws64_ground_truth, ingest_ws64_trajectory

DEMO = "data/demo"
METRICS = ("train_accuracy", "validation_accuracy", "test_accuracy", "training_time")


def _write_published_layout(root: Path) -> None:
    """The shipped sample as <method>/<space>/<seed>/eval_results.pkl, as its authors stored it."""
    with resources.as_file(resources.files("wsdb").joinpath(f"{DEMO}/to_share_full.parquet")) as path:
        rows = pq.read_table(path).to_pylist()
    supernets: dict[tuple, list] = {}
    for row in rows:
        repeats = [
            {f"{point}_{metric}": row[f"r{repeat}_{point}_{metric}"] for point in ("halfway", "final") for metric in METRICS}
            for repeat in range(3)
        ]
        matrix = np.array([[int(c) for c in line] for line in row["adjacency"].split("|")], dtype=np.int8)
        fixed = {"module_adjacency": matrix, "module_operations": row["operations"].split(","),
                 "trainable_parameters": row["trainable_parameters"]}
        supernets.setdefault((row["method"], row["space"], row["seed"]), []).append({
            "full_metrics": (fixed, {108: repeats}),
            "bench_metrics": repeats,
            "proxy_metrics": {"final_validation_accuracy": row["proxy_validation_accuracy"]},
        })
    for (method, space, seed), entries in supernets.items():
        folder = root / method / space / str(seed)
        folder.mkdir(parents=True)
        (folder / "eval_results.pkl").write_bytes(pickle.dumps(entries))


def build(db_path: Path, out_dir: Path, say=print) -> dict[str, Path]:
    """Build the demo warehouse and its outputs; returns the files written."""
    if db_path.exists():
        raise WsdbError(f"{db_path} exists: the demo builds a fresh warehouse (remove it, or pass another --db)")
    if not out_dir.is_dir():
        raise WsdbError(f"output folder {out_dir} does not exist")
    url = database.resolve_url(str(db_path))
    say(database.init_database(url))
    with database.warehouse(url) as engine, tempfile.TemporaryDirectory() as tmp:
        published = Path(tmp) / "to_share_or_not_to_share"
        _write_published_layout(published)
        say(ingest_to_share(engine, published, show_progress=False).line())
        say(ingest_ws64_ground_truth(engine).line())
        with resources.as_file(resources.files("wsdb").joinpath(f"{DEMO}/ws64_last128.csv")) as trajectory:
            say(ingest_ws64_trajectory(engine, trajectory, name="zhang2020/last128").line())

    say(f"\n{POURCHOT_2020.short}, Table 1 (the rows the sample holds): Spearman rho between the super-nets' "
        "proxy and the mean stand-alone validation accuracy")
    say(report.markdown(report.layout(report.summary(url, {"search_space": "nb101"}), "normal"), "normal"))

    with duck.connect(url) as con:
        per_supernet = analysis.run(con, "correlation")  # each super-net against its own space's ground truth
        top = analysis.run(con, "top_k", {"k": "10"})
    files = {"correlations": out_dir / "demo_correlations.csv", "scatter": out_dir / "demo_scatter.png",
             "top_k": out_dir / "demo_top10.csv"}
    for table, key in ((per_supernet, "correlations"), (top, "top_k")):
        pyarrow.csv.write_csv(table, files[key])
    plots.scatter(url, "to-share/baseline_ft_bn/full/0", files["scatter"])
    rhos = [r["spearman"] for r in per_supernet.to_pylist()
            if r["supernet_name"] == "zhang2020/last128" and r["spearman"] is not None]
    say(f"ws64 ({ZHANG_2020_DEEPER.short}): the published super-net's last {len(rhos)} steps rank the 64 architectures with "
        f"Spearman rho {min(rhos):.2f} to {max(rhos):.2f} against the paper's Table 5 (mean {np.mean(rhos):.2f})")
    best = min((r for r in top.to_pylist() if r["supernet_name"].startswith("to-share/")), key=lambda r: r["regret"])
    say(f"Top-10 by proxy on NB101: the best super-net's pick is {best['best_truth'] * 100:.2f}% "
        f"(rank {best['rank_in_subspace']} of {best['architectures_ranked']} sampled architectures, "
        f"regret {best['regret'] * 100:.2f} points)")
    return files
