"""The training cost of each super-net factor (Yu et al. 2020; Zhang et al. 2020, Deeper Insights)
against the plain super-net of its space, measured in one run: every configuration gets a real
`Trainer` (masked optimizer, sampler, the factor's redraws and masks) on synthetic CIFAR-sized
images, and the configurations take turns (in a new random order every round, the same
training batch and, through the same seed, the same sampled cells for all), a few steps each;
the figure is the median step time, the ratio is against the plain super-net of the same space.
The per-step evaluation of Zhang et al. (`evaluate_last_steps`) is timed once, as one evaluated
step: a training step, then every ws64 architecture scored on the 512 validation images. One
JSON line; `--device cuda` measures a GPU.
"""

import random

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report  # noqa: E402

from wsdb.warehouse.db import init_database  # noqa: E402
from wsdb.warehouse.populate import populate_spaces  # noqa: E402
from wsdb.trainers import records  # noqa: E402
from wsdb.trainers.config import make_config  # noqa: E402
from wsdb.trainers.train import RunOptions, Trainer  # noqa: E402

FACTORS = {
    "nb101": {"plain": {}, "interpolate": {"slicing": "interpolate"}, "shuffle": {"slicing": "shuffle"},
              "single_kernel": {"single_kernel": True}, "ofa": {"super_kernel": "ofa"},
              "path_dropout": {"path_dropout": 0.2}, "global_dropout": {"global_dropout": 0.2}},
    "nb201": {"plain": {}, "node": {"sharing": "node"}, "wsbn": {"sharing": "node", "wsbn": True}, "ofa": {"super_kernel": "ofa"},
              "path_dropout": {"path_dropout": 0.2}, "global_dropout": {"global_dropout": 0.2}},
    "ws64": {"plain": {}, "ofa": {"super_kernel": "ofa"}, "groups_64": {"sharing_groups": 64},
             "prefix_0": {"prefix_sharing": 0}, "fixed_shuffled": {"sampling_order": "fixed-shuffled"},
             "wsbn": {"sharing": "node", "wsbn": True}},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4, help="steps per turn")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--spaces", default="nb101,nb201,ws64")
    args = parser.parse_args()
    device = torch.device(args.device)
    folder = Path(tempfile.mkdtemp())
    url = f"duckdb:///{folder / 'bench.duckdb'}"
    init_database(url)
    populate_spaces(url, ["ws64"])
    trainers = {}
    for space in args.spaces.split(","):
        for name, keys in FACTORS[space].items():
            config = make_config({"space": space, "dataset": "synthetic", "synthetic_images": 2048,
                                  "batch_size": args.batch, "epochs": 1, **keys})
            supernet_id = f"bench-{space}-{name}"
            records.register_supernet(url, supernet_id, space, "FULL", supernet_id, config.as_json(), 0, device)
            trainers[(space, name)] = Trainer(url, supernet_id, config, 0, RunOptions(progress=False), device)
    times: dict[tuple, list[float]] = {key: [] for key in trainers}
    shuffler = random.Random(0)
    batches = torch.Generator().manual_seed(0)
    for _ in range(args.rounds + 1):  # the first round warms up
        indices = [torch.randint(2048, (args.batch,), generator=batches) for _ in range(args.steps)]
        for key in shuffler.sample(list(trainers), len(trainers)):
            trainer = trainers[key]
            trainer.model.train()
            started = time.perf_counter()
            for step in range(args.steps):
                trainer.train_step(indices[step])
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[key].append((time.perf_counter() - started) / args.steps)
    figures = {}
    if "ws64" in args.spaces:
        config = make_config({"space": "ws64", "dataset": "synthetic", "synthetic_images": 2048,
                              "batch_size": args.batch, "epochs": 1, "evaluate_last_steps": 1})
        records.register_supernet(url, "bench-evaluated", "ws64", "FULL", "bench-evaluated", config.as_json(), 0, device)
        trainer = Trainer(url, "bench-evaluated", config, 0, RunOptions(progress=False), device)
        trainer.step = trainer.total_steps - 1  # the next step is the last: it is evaluated
        started = time.perf_counter()
        trainer.train_step(indices[0])
        seconds = time.perf_counter() - started
        figures["ws64_evaluated_step_s"] = round(seconds, 2)
        figures["ws64_evaluated_step_cost_ratio"] = round(seconds / statistics.median(times[("ws64", "plain")][1:]), 1)
    for (space, name), measured in times.items():
        median = statistics.median(measured[1:])
        plain = statistics.median(times[(space, "plain")][1:])
        figures[f"{space}_{name}_s_per_step"] = round(median, 4)
        if name != "plain":
            figures[f"{space}_{name}_cost_ratio"] = round(median / plain, 2)
    report(benchmark="factors", batch=args.batch, steps_per_turn=args.steps, rounds=args.rounds,
           torch_threads=torch.get_num_threads(), **figures)


if __name__ == "__main__":
    main()
