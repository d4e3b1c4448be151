"""Write the demo's sample of published data (wsdb/data/demo/), from ../shared/data.

- to_share_full.parquet: the ten FULL-space super-nets of Pourchot et al. 2020 (baseline_ft_bn and
  baseline_no_ft, seeds 0-4) as published: one row per (super-net, position) with the cell,
  its parameter count, the super-net's proxy accuracy and the three 108-epoch NB101 repeats.
  `wsdb demo` writes these back in the authors' pickle layout and ingests them with
  `wsdb ingest to-share`, so the demo runs the real importer on the real numbers.
- ws64_last128.csv: the published ws64 super-net trajectory (copied as is).

Run from the repository root: .venv/bin/python tools/make_demo_data.py
"""

import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from wsdb.base.safe_pickle import load_numpy_pickle  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parent.parent / "wsdb" / "data" / "demo"
METRICS = ("train_accuracy", "validation_accuracy", "test_accuracy", "training_time")


def main() -> None:
    columns: dict[str, list] = {k: [] for k in ("method", "space", "seed", "position", "adjacency", "operations",
                                                "trainable_parameters", "proxy_validation_accuracy")}
    for repeat in range(3):
        for point in ("halfway", "final"):
            for metric in METRICS:
                columns[f"r{repeat}_{point}_{metric}"] = []
    for method in ("baseline_ft_bn", "baseline_no_ft"):
        for seed in range(5):
            entries = load_numpy_pickle(SHARED / f"nb101/to_share_or_not_to_share/{method}/full/{seed}/eval_results.pkl")
            for position, entry in enumerate(entries):
                fixed = entry["full_metrics"][0]
                columns["method"].append(method)
                columns["space"].append("full")
                columns["seed"].append(seed)
                columns["position"].append(position)
                columns["adjacency"].append("|".join("".join(str(int(v)) for v in row) for row in fixed["module_adjacency"]))
                columns["operations"].append(",".join(fixed["module_operations"]))
                columns["trainable_parameters"].append(int(fixed["trainable_parameters"]))
                columns["proxy_validation_accuracy"].append(float(entry["proxy_metrics"]["final_validation_accuracy"]))
                for repeat, metrics in enumerate(entry["bench_metrics"]):
                    for point in ("halfway", "final"):
                        for metric in METRICS:
                            columns[f"r{repeat}_{point}_{metric}"].append(float(metrics[f"{point}_{metric}"]))
    OUT.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), OUT / "to_share_full.parquet", compression="zstd", compression_level=19)
    shutil.copy(SHARED / "ws64/supernet_last128_steps.csv", OUT / "ws64_last128.csv")
    for path in sorted(OUT.iterdir()):
        print(f"{path.name}: {path.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    np.set_printoptions(precision=17)
    main()
