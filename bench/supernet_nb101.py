"""NB101 super-net speed: 16 initial channels, batch 256, CIFAR-shaped data held on the device
(augmentation included), the same seeded cells for every implementation.

- training images/s: total images / total time over --steps steps (4 warm-up steps not
  counted), one sampled cell a step;
- BNS-FT evaluation seconds per architecture: batch-norm statistics re-estimated on 4 x 256
  training images, then the 10,000 validation images, averaged over --architectures cells.

`--reference DIR` runs Pourchot et al.'s published implementation (a checkout of
github.com/apourchot/to_share_or_not_to_share; wsdb never contains its code) side by side,
alternating the two for --rounds rounds on the same cells and batches, and reports the ratios
of each round. The reference side is its NB101 super-net (`models/nasbench_101`, the
configuration of its configs/nasbench_101.yaml on the full space: n_out_min 1), its TFRMSprop
optimizer and `none_grad` after each step, and its `ft_bn_stats` + `eval_model` for BNS-FT
(training.py). It gets wsdb's device-held batches, in NCHW as its DataLoader would give them:
its torchvision data pipeline is left out, which can only flatter it. Modules the reference
imports for plotting, logging or data only (graphviz, tensorboardX, torchvision: the last
cannot be imported with this machine's CPU build of torch) are replaced by empty stand-ins
when missing.
One JSON line. `--device cuda` on a GPU machine.
"""

import argparse
import importlib
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, report  # noqa: E402
from _common import device as host_device  # noqa: E402

from wsdb.warehouse import db as database  # noqa: E402
from wsdb.trainers.config import make_config  # noqa: E402
from wsdb.trainers.evaluate import Evaluator, parse_protocol  # noqa: E402
from wsdb.trainers.records import describe_device  # noqa: E402
from wsdb.trainers.runtime import pick_device  # noqa: E402
from wsdb.trainers.train import RunOptions, Trainer  # noqa: E402

BATCH = 256
WARM_UP = 4


def canonical_cells(rng: np.random.Generator, count: int) -> list:
    """Cells drawn uniformly from the 151,644 published NB101 classes."""
    import pyarrow.parquet as pq

    from wsdb.spaces import nb101

    table = pq.read_table(SHARED_DATA / "nb101" / "archs_151644.parquet", columns=["adjacency", "operations"]).to_pydict()
    cells = []
    for i in rng.integers(len(table["adjacency"]), size=count):
        arch = nb101.canonicalize(nb101.parse_matrix(table["adjacency"][i]), table["operations"][i].split(","))
        cells.append(nb101.decode(arch.canonical_encoding))
    return cells


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class WsdbSide:
    name = "wsdb"

    def __init__(self, device: torch.device):
        # 40,000 training images (NB101's split size), 10,000 validation images.
        config = make_config({"space": "nb101", "dataset": "synthetic", "synthetic_images": 40000, "epochs": 1,
                              "batch_size": BATCH})
        url = f"duckdb:///{tempfile.mkdtemp()}/bench.duckdb"  # the trainer looks its (sub)space up there
        database.init_database(url)
        self.trainer = Trainer(url, "bench", config, seed=0, options=RunOptions(progress=False), device=device)
        self.evaluator = Evaluator(self.trainer.model, self.trainer.data, config, parse_protocol("bns-ft:4"), device, seed=0)
        self.device = device

    def batches(self, count: int) -> list[torch.Tensor]:
        order = torch.randperm(len(self.trainer.data.train), generator=self.trainer.data_generator)
        return [order[k * BATCH:(k + 1) * BATCH] for k in range(count)]

    def train(self, cells, batches) -> list[float]:
        self.trainer.model.train()
        queue = iter(cells)
        self.trainer.sampler.next_group = lambda: [next(queue)]
        times = []
        for indices in batches:
            started = time.perf_counter()
            self.trainer.train_step(indices)
            synchronize(self.device)
            times.append(time.perf_counter() - started)
        return times

    def evaluate(self, cell) -> float:
        return self.evaluator.score(cell, 0).seconds


def _stand_in(name: str, *attributes: str) -> None:
    try:
        importlib.import_module(name)
    except Exception:  # missing, or (torchvision on a CPU build of torch) broken on import
        module = types.ModuleType(name)
        for attribute in attributes:
            setattr(module, attribute, types.SimpleNamespace())
        sys.modules[name] = module


class ReferenceSide:
    """Pourchot et al.'s implementation, imported from a checkout."""

    name = "reference"
    LAYERS = {"conv_bias": False, "bn_affine": True, "bn_momentum": 0.003, "bn_eps": 1e-5}
    OPS = {"maxpool3x3": 0, "conv1x1-bn-relu": 1, "conv3x3-bn-relu": 2}  # its GraphSampler's indices

    def __init__(self, directory: Path, device: torch.device, data):
        if not (directory / "models" / "nasbench_101" / "graph_comps.py").is_file():
            raise SystemExit(f"--reference {directory}: not a checkout of apourchot/to_share_or_not_to_share "
                             "(models/nasbench_101/graph_comps.py is missing)")
        sys.path.insert(0, str(directory))
        _stand_in("graphviz")
        _stand_in("torchvision", "transforms", "datasets")
        _stand_in("tensorboardX", "SummaryWriter")
        from models.nasbench_101.graph_comps import Graph
        from training import eval_model, ft_bn_stats
        from utils import TFRMSprop

        self.model = Graph(c_init=16, input_channels=3, n_classes=10, n_cells=3, n_stacks=3, n_nodes=7, n_out_min=1,
                           single_k=False, layers_params=self.LAYERS).to(device)
        self.optimizer = TFRMSprop(self.model.parameters(), lr=0.2, momentum=0.9, eps=1.0, weight_decay=1e-4)
        self.ft_bn_stats, self.eval_model = ft_bn_stats, eval_model
        self.config = {"EVAL": {"n_ft_bn_stats": 4}, "TRAIN": {"GRAPH_MODEL": {"layers_params": self.LAYERS}}}
        self.data, self.device = data, device
        self.state = None

    def task(self, cell):
        matrix, ops = cell
        return np.array(matrix), np.array([self.OPS[op] for op in ops[1:-1]], dtype=np.float64)

    def _batch(self, indices):
        x, y = self.data.training_batch(indices, torch.Generator().manual_seed(int(indices[0])))
        return x.contiguous(), y

    def train(self, cells, batches) -> list[float]:
        self.model.train()
        times = []
        for cell, indices in zip(cells, batches):
            x, y = self._batch(indices)
            synchronize(self.device)
            started = time.perf_counter()
            loss = F.cross_entropy(self.model(x, self.task(cell)), y)
            loss.backward()
            self.optimizer.step()
            self.model.none_grad()
            synchronize(self.device)
            times.append(time.perf_counter() - started)
        return times

    def evaluate(self, cell) -> float:
        if self.state is None:  # its evaluation loop reloads the trained state before each architecture
            self.state = {k: v.clone() for k, v in self.model.state_dict().items()}
            self.train_batches = [self._batch(torch.arange(k * BATCH, (k + 1) * BATCH)) for k in range(4)]
            self.valid_batches = [(x.contiguous(), y) for x, y in self.data.validation_batches(BATCH)]
        self.model.load_state_dict(self.state)
        task = self.task(cell)
        started = time.perf_counter()
        self.ft_bn_stats(self.model, task, self.train_batches, self.device, self.config)
        self.eval_model(self.model, task, self.valid_batches, self.device)
        synchronize(self.device)
        return time.perf_counter() - started


def measure(side, cells, batches, architectures) -> dict:
    side.train(cells[:WARM_UP], batches[:WARM_UP])
    times = side.train(cells[WARM_UP:], batches[WARM_UP:])
    side.evaluate(architectures[0])  # warm-up
    seconds = [side.evaluate(cell) for cell in architectures[1:]]
    return {"training_images_per_second": round(len(times) * BATCH / sum(times), 1),
            "training_median_step_images_per_second": round(BATCH / float(np.median(times)), 1),
            "bns_ft_seconds_per_architecture": round(float(np.mean(seconds)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None)
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument("--architectures", type=int, default=5)
    parser.add_argument("--reference", type=Path, default=None,
                        help="a checkout of github.com/apourchot/to_share_or_not_to_share, run side by side")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds with --reference")
    args = parser.parse_args()
    device = pick_device(args.device)
    ours = WsdbSide(device)
    sides = [ours] + ([ReferenceSide(args.reference, device, ours.trainer.data)] if args.reference else [])
    rng = np.random.default_rng(0)
    cells = canonical_cells(rng, args.steps + WARM_UP)
    architectures = canonical_cells(rng, args.architectures + 1)
    batches = ours.batches(args.steps + WARM_UP)
    rounds = []
    for _ in range(args.rounds if args.reference else 1):
        rounds.append({side.name: measure(side, cells, batches, architectures) for side in sides})
    figures = {"rounds": rounds}
    if args.reference:
        figures["training_ratio"] = [round(r["wsdb"]["training_images_per_second"]
                                           / r["reference"]["training_images_per_second"], 2) for r in rounds]
        figures["bns_ft_time_ratio"] = [round(r["wsdb"]["bns_ft_seconds_per_architecture"]
                                              / r["reference"]["bns_ft_seconds_per_architecture"], 3) for r in rounds]
    report(benchmark="supernet_nb101", cells="uniform over the 151,644 published classes", batch_size=BATCH,
           training_steps=args.steps, architectures=args.architectures, **figures,
           targets={"training_ratio": 3.0, "bns_ft_time_ratio": 0.2},
           device=f"{describe_device(device)} (host: {host_device()})", torch=torch.__version__)


if __name__ == "__main__":
    main()
