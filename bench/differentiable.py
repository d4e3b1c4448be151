"""Differentiable weight sharing on this machine: images/s of one training step (θ step and
weight step, bilevel, as `run-supernet --search` runs it) per method on the full NAS-Bench-201
super-net (C=16, N=5, CIFAR-sized images), next to a sampled (SPOS) step of the same network;
then a second line for NAS-Bench-1Shot1's one-shot model of space 3 at its published size (C=16,
9 cells). `--device cuda` measures a GPU.
"""

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report  # noqa: E402

from wsdb.trainers.config import make_config  # noqa: E402
from wsdb.trainers.differentiable import ArchitectureWeights, search_step  # noqa: E402
from wsdb.trainers.spaces import supernet_space, training_space  # noqa: E402


def images_per_second(step, batch: int, steps: int) -> float:
    step()  # warm-up
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return round(batch * steps / (time.perf_counter() - started), 1)


def search_figures(base: dict, methods, x, y, device, steps: int) -> dict:
    """images/s of one bilevel search step per (method, update) on the super-net of `base`."""
    figures = {}
    for method, update in methods:
        config = make_config({**base, "search": method, "architecture_update": update})
        space = supernet_space(config)
        model = space.build_supernet(config, 10).to(device)
        weights = ArchitectureWeights(config, space.num_edges, space.operations, space.edge_decisions(config), device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9)

        def step(model=model, weights=weights, optimizer=optimizer):
            search_step(model, weights, (x, y), (x, y), 0.5)
            optimizer.step()
            model.zero_grad(set_to_none=True)

        name = ("gaea-" if update == "exponentiated" else "") + method
        figures[f"{name}_images_per_s"] = images_per_second(step, len(x), steps)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    space = training_space("nb201")
    x = torch.randn(args.batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (args.batch,), device=device)
    figures = search_figures({"space": "nb201"}, (("darts", "adam"), ("darts", "exponentiated"), ("gdas", "adam"),
                                                  ("pc-darts", "adam")), x, y, device, args.steps)
    config = make_config({"space": "nb201"})
    model = space.build_supernet(config, 10).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9)
    generator = torch.Generator().manual_seed(0)

    def sampled_step():
        cell = tuple(space.operations[int(k)] for k in torch.randint(len(space.operations), (6,), generator=generator))
        F.cross_entropy(model(x, cell), y).backward()
        optimizer.step()
        model.zero_grad(set_to_none=True)

    figures["sampled_images_per_s"] = images_per_second(sampled_step, args.batch, args.steps)
    report(benchmark="differentiable", space="nb201", channels=16, cells_per_stage=5, batch=args.batch,
           torch_threads=torch.get_num_threads(), **figures)
    one_shot1 = search_figures({"space": "nb101", "subspace": "1SHOT1-SS3"},
                               (("darts", "adam"), ("darts", "exponentiated"), ("gdas", "adam"), ("pc-darts", "adam")),
                               x, y, device, args.steps)
    report(benchmark="differentiable", space="nb101/1SHOT1-SS3", channels=16, cells=9, batch=args.batch,
           torch_threads=torch.get_num_threads(), **one_shot1)


if __name__ == "__main__":
    main()
