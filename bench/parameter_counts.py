"""Parameter counts of the benchmarks' networks against the published ones: every one of
the 151,644 NB101 cells in ../shared (128-channel network: the closed form for all, the
network's own parameters for `--networks` of them, `all` for every one) and all 15,625
NB201 architectures (closed form and network). Networks are built on torch's meta device
(no memory), in worker processes. One JSON line."""

import argparse
import csv
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, report  # noqa: E402

from wsdb.spaces import nb201 as nb201_space  # noqa: E402
from wsdb.trainers import nb101, nb201  # noqa: E402


def _nb101_cell(adjacency: str, operations: str):
    return tuple(tuple(int(c) for c in row) for row in adjacency.split("|")), tuple(operations.split(","))


def _network_mismatches(job) -> int:
    kind, items = job
    bad = 0
    with torch.device("meta"):
        for cell, official in items:
            net = nb101.NB101Network(cell) if kind == "nb101" else nb201.NB201Network(cell)
            bad += sum(p.numel() for p in net.parameters()) != official
    return bad


def _in_workers(kind: str, items: list, workers: int = 2) -> int:
    chunks = [(kind, items[i::workers * 8]) for i in range(workers * 8)]
    with ProcessPoolExecutor(workers) as pool:
        return sum(pool.map(_network_mismatches, chunks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--networks", default="2000", help="NB101 networks to build: a count or 'all'")
    args = parser.parse_args()
    table = pq.read_table(SHARED_DATA / "nb101" / "archs_151644.parquet",
                          columns=["adjacency", "operations", "trainable_parameters"]).to_pydict()
    nb101_items = [(_nb101_cell(a, o), p) for a, o, p in
                   zip(table["adjacency"], table["operations"], table["trainable_parameters"])]
    started = time.perf_counter()
    nb101_closed_bad = sum(nb101.parameter_count(cell) != official for cell, official in nb101_items)
    nb101_closed_seconds = time.perf_counter() - started
    chosen = nb101_items if args.networks == "all" else [
        nb101_items[i] for i in np.random.default_rng(0).choice(len(nb101_items), int(args.networks), replace=False)]
    started = time.perf_counter()
    nb101_network_bad = _in_workers("nb101", chosen)
    nb101_network_seconds = time.perf_counter() - started

    with open(SHARED_DATA / "nb201" / "nb201_all15625.csv") as f:
        nb201_items = [(nb201_space.parse_arch_str(r["arch_str"]), int(r["num_params"])) for r in csv.DictReader(f)]
    nb201_closed_bad = sum(nb201.parameter_count(cell) != official for cell, official in nb201_items)
    started = time.perf_counter()
    nb201_network_bad = _in_workers("nb201", nb201_items)
    report(
        benchmark="parameter_counts",
        nb101_architectures=len(nb101_items), nb101_closed_form_mismatches=int(nb101_closed_bad),
        nb101_closed_form_seconds=round(nb101_closed_seconds, 1),
        nb101_networks_built=len(chosen), nb101_network_mismatches=nb101_network_bad,
        nb101_network_seconds=round(nb101_network_seconds, 1),
        nb201_architectures=len(nb201_items), nb201_closed_form_mismatches=int(nb201_closed_bad),
        nb201_network_mismatches=nb201_network_bad, nb201_network_seconds=round(time.perf_counter() - started, 1),
    )


if __name__ == "__main__":
    main()
