"""NB101 super-net speed (issue 5's benchmark): 16 initial channels, batch 256, uniform
sampling, CIFAR-shaped data held on the device (augmentation included).

- training images/s: total images / total time over 48 steps of sampled architectures (the
  same seeded architecture sequence at every run; 4 warm-up steps not counted);
- BNS-FT evaluation seconds per architecture: 4 x 256 batch-norm batches + 10,000
  validation images, averaged over 5 architectures.
Reference (Pourchot et al.'s published implementation on the same CPU, issue 5): ~187 img/s
training, 31 s per architecture evaluation. Targets: >= 560 img/s, <= 6 s.
One JSON line. `--device cuda` on a GPU machine.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, report  # noqa: E402
from _common import device as host_device  # noqa: E402

from wsdb.trainers.config import make_config  # noqa: E402
from wsdb.trainers.evaluate import Evaluator, parse_protocol  # noqa: E402
from wsdb.trainers.records import describe_device  # noqa: E402
from wsdb.trainers.runtime import pick_device  # noqa: E402
from wsdb.trainers.train import RunOptions, Trainer  # noqa: E402


def canonical_cells(rng: np.random.Generator):
    import pyarrow.parquet as pq

    from wsdb.spaces import nb101

    table = pq.read_table(SHARED_DATA / "nb101" / "archs_151644.parquet", columns=["adjacency", "operations"]).to_pydict()

    def draw() -> list:
        i = int(rng.integers(len(table["adjacency"])))
        arch = nb101.canonicalize(nb101.parse_matrix(table["adjacency"][i]), table["operations"][i].split(","))
        return [nb101.decode(arch.canonical_encoding)]
    return draw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default=None)
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument("--architectures", type=int, default=5)
    parser.add_argument("--cells", choices=("encodings", "canonical"), default="encodings",
                        help="encodings: uniform over encodings (the sampler 'uniform'); canonical: uniform over "
                        "the 151,644 published NB101 classes in ../shared (close to 'random-a', whose cells are "
                        "larger on average)")
    args = parser.parse_args()
    device = pick_device(args.device)
    # 40,000 training images (NB101's split size), 10,000 validation images.
    config = make_config({"space": "nb101", "dataset": "synthetic", "synthetic_images": 40000, "epochs": 1,
                          "batch_size": 256})
    trainer = Trainer("unused://", "bench", config, seed=0, options=RunOptions(progress=False), device=device)
    if args.cells == "canonical":
        trainer.sampler.next_group = canonical_cells(np.random.default_rng(0))
    trainer.model.train()
    order = torch.randperm(len(trainer.data.train), generator=trainer.data_generator)
    batches = [order[k * 256:(k + 1) * 256] for k in range(args.steps + 4)]
    for indices in batches[:4]:
        trainer.train_step(indices)
    if device.type == "cuda":
        torch.cuda.synchronize()
    step_times = []
    started = time.perf_counter()
    for indices in batches[4:]:
        t = time.perf_counter()
        trainer.train_step(indices)
        if device.type == "cuda":
            torch.cuda.synchronize()
        step_times.append(time.perf_counter() - t)
    training_seconds = time.perf_counter() - started

    evaluator = Evaluator(trainer.model, trainer.data, config, parse_protocol("bns-ft:4"), device, seed=0)
    rng = np.random.default_rng(1)
    draw = canonical_cells(rng) if args.cells == "canonical" else lambda: [trainer.space.random_cell(rng, "FULL")]
    cells = [draw()[0] for _ in range(args.architectures + 1)]
    evaluator.score(cells[0], 0)  # warm-up
    seconds = [evaluator.score(cell, i).seconds for i, cell in enumerate(cells[1:], start=1)]
    report(
        benchmark="supernet_nb101",
        cells=args.cells,
        training_images_per_second=round(args.steps * 256 / training_seconds, 1),
        training_median_step_images_per_second=round(256 / float(np.median(step_times)), 1),
        training_architectures=args.steps,
        bns_ft_seconds_per_architecture=round(float(np.mean(seconds)), 2),
        validation_images=len(trainer.data.valid),
        targets={"training_images_per_second": 560, "bns_ft_seconds_per_architecture": 6.0},
        device=f"{describe_device(device)} (host: {host_device()})",
        torch=torch.__version__,
    )


if __name__ == "__main__":
    main()
