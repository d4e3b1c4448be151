"""Image datasets held on the training device as one uint8 tensor, augmented there.

Formats read from `--data-dir` (the standard on-disk ones; torchvision is not needed):
- cifar10: `cifar-10-batches-py/` (python pickle batches). NB101's split: data_batch_1-4
  train (40,000), data_batch_5 validation (10,000); test_batch is the test set.
- cifar10-full (DARTS' evaluation): all 50,000 training images; the 10,000 test images are the
  only held-out split (stand-alone runs record their accuracy as test accuracy).
- cifar10-valid (NB201): the 50,000 training images split by NB201's `cifar-split.txt`
  (JSON lists `train` and `valid` of indices), which must lie in the data directory.
- cifar100: `cifar-100-python/` train (50,000) and test; validation = NB201's x-valid half of
  the test set when `cifar100-test-split.txt` (JSON `xvalid`) is present, else the test set.
- ImageNet16-120: `ImageNet16/train_data_batch_1..10` and `val_data` (pickles of 16x16
  images, labels 1..1000), classes 1..120 kept, as NB201.
- npz: one .npz file (`--data-dir file.npz`) with `images` (N, 32, 32, 3) uint8 and
  `labels`; a fixed shuffle keeps 80% for training and 20% for validation.
- synthetic: class-dependent coloured noise, made from a fixed seed (tests, smoke runs).
CIFAR archives missing from the data directory are downloaded when the machine is online
(checked against their published MD5).

Pickles run code while loading: the CIFAR/ImageNet16 batches are read with wsdb's
allow-list unpickler (numpy arrays, builtins), never plain pickle.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from wsdb.base.errors import WsdbError
from wsdb.base.safe_pickle import load_numpy_pickle

CIFAR_ARCHIVES = {
    "cifar-10-batches-py": ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),
    "cifar-100-python": ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),
}
# Per-channel mean and standard deviation of the training images (0..1 scale).
NORMALIZATION = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "ImageNet16-120": ((0.4810, 0.4574, 0.4078), (0.2471, 0.2435, 0.2616)),
}


@dataclass
class ImageSplit:
    images: torch.Tensor  # uint8 (N, 3, H, W) on the device
    labels: torch.Tensor  # int64 (N,) on the device

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Dataset:
    name: str
    train: ImageSplit
    valid: ImageSplit
    num_classes: int
    mean: torch.Tensor  # (1, 3, 1, 1) on the device, 0..255 scale
    std: torch.Tensor

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        x = (images.float() - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last)

    def augment(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Random crop with 4 pixels of zero padding and random horizontal flip, on the device.
        The offsets come from `generator` (CPU), so a run's data order is part of its state."""
        n, _, h, w = images.shape
        offsets = torch.randint(0, 9, (2, n), generator=generator).to(images.device)
        flips = torch.randint(0, 2, (n,), generator=generator).bool().to(images.device)
        padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
        rows = (offsets[0][:, None] + torch.arange(h, device=images.device))[:, None, :, None]
        cols = offsets[1][:, None] + torch.arange(w, device=images.device)
        cols = torch.where(flips[:, None], cols.flip(1), cols)[:, None, None, :]
        batch = torch.arange(n, device=images.device)[:, None, None, None]
        channel = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
        return padded[batch, channel, rows, cols]

    def training_batch(self, indices: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        indices = indices.to(self.train.images.device)
        return self.normalize(self.augment(self.train.images[indices], generator)), self.train.labels[indices]

    def validation_batches(self, batch_size: int):
        for start in range(0, len(self.valid), batch_size):
            yield (self.normalize(self.valid.images[start:start + batch_size]),
                   self.valid.labels[start:start + batch_size])


def _download(folder: str, data_dir: Path) -> None:
    url, md5 = CIFAR_ARCHIVES[folder]
    archive = data_dir / url.rsplit("/", 1)[1]
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(url, timeout=30) as response, open(archive, "wb") as out:
            out.write(response.read())
    except OSError as error:
        raise WsdbError(f"{data_dir / folder} is missing and {url} could not be downloaded ({error}); "
                        "put the extracted dataset there") from None
    if hashlib.md5(archive.read_bytes()).hexdigest() != md5:
        raise WsdbError(f"{archive}: MD5 differs from the published {md5}; not extracted")
    with tarfile.open(archive) as tar:
        tar.extractall(data_dir, filter="data")


def _cifar_folder(data_dir: Path, folder: str) -> Path:
    path = data_dir / folder
    if not path.is_dir():
        _download(folder, data_dir)
    return path


def _read_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise WsdbError(f"{path}: dataset file missing")
    batch = load_numpy_pickle(path, encoding="latin1")
    data = np.asarray(batch["data"], dtype=np.uint8)
    side = int(round((data.shape[1] // 3) ** 0.5))
    return data.reshape(-1, 3, side, side), np.asarray(batch[label_key], dtype=np.int64)


def _concat(batches) -> tuple[np.ndarray, np.ndarray]:
    images, labels = zip(*batches)
    return np.concatenate(images), np.concatenate(labels)


def _split_file(data_dir: Path, name: str, required: bool) -> dict | None:
    path = data_dir / name
    if not path.is_file():
        if required:
            raise WsdbError(f"{path}: NB201's split file is needed for this dataset (it ships with NAS-Bench-201)")
        return None
    return json.loads(path.read_text())


SYNTHETIC_SEED, SYNTHETIC_TEST_SEED, SYNTHETIC_CLASSES = 20261122, 20261206, 10


def _synthetic_colours(rng: np.random.Generator) -> np.ndarray:
    """The colour of each synthetic class: the first draw of the synthetic generator."""
    return rng.integers(40, 216, (SYNTHETIC_CLASSES, 3, 1, 1))


def _synthetic_images(rng: np.random.Generator, colours: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n images of class-coloured noise and their labels."""
    labels = rng.integers(0, SYNTHETIC_CLASSES, n)
    noise = rng.normal(0, 40, (n, 3, 32, 32))
    return np.clip(colours[labels] + noise, 0, 255).astype(np.uint8), labels.astype(np.int64)


def _read_numpy(name: str, data_dir: Path | None, synthetic_images: int):
    """(train images, train labels, valid images, valid labels, classes, statistics key)."""
    if name == "synthetic":
        rng = np.random.default_rng(SYNTHETIC_SEED)
        colours = _synthetic_colours(rng)
        return (*_synthetic_images(rng, colours, synthetic_images),
                *_synthetic_images(rng, colours, max(synthetic_images // 4, 1)), SYNTHETIC_CLASSES, None)
    if data_dir is None:
        raise WsdbError(f"dataset {name} needs --data-dir")
    if name == "npz":
        try:
            archive = np.load(data_dir)
            images, labels = archive["images"], archive["labels"].astype(np.int64)
        except (OSError, KeyError, ValueError) as error:
            raise WsdbError(f"{data_dir}: not an .npz with 'images' and 'labels' ({error})") from None
        images = np.ascontiguousarray(images.transpose(0, 3, 1, 2)) if images.shape[-1] == 3 else images
        order = np.random.default_rng(0).permutation(len(labels))
        cut = int(0.8 * len(labels))
        train, valid = order[:cut], order[cut:]
        return images[train], labels[train], images[valid], labels[valid], int(labels.max()) + 1, None
    if name in ("cifar10", "cifar10-valid", "cifar10-full"):
        folder = _cifar_folder(data_dir, "cifar-10-batches-py")
        batches = [_read_batch(folder / f"data_batch_{i}", "labels") for i in range(1, 6)]
        if name == "cifar10":
            images, labels = _concat(batches[:4])
            return images, labels, *batches[4], 10, "cifar10"
        if name == "cifar10-full":
            images, labels = _concat(batches)
            return images, labels, *_read_batch(folder / "test_batch", "labels"), 10, "cifar10"
        split = _split_file(data_dir, "cifar-split.txt", required=True)
        images, labels = _concat(batches)
        train, valid = np.asarray(split["train"]), np.asarray(split["valid"])
        return images[train], labels[train], images[valid], labels[valid], 10, "cifar10"
    if name == "cifar100":
        folder = _cifar_folder(data_dir, "cifar-100-python")
        train_images, train_labels = _read_batch(folder / "train", "fine_labels")
        test_images, test_labels = _read_batch(folder / "test", "fine_labels")
        split = _split_file(data_dir, "cifar100-test-split.txt", required=False)
        if split is not None:
            keep = np.asarray(split["xvalid"])
            test_images, test_labels = test_images[keep], test_labels[keep]
        return train_images, train_labels, test_images, test_labels, 100, "cifar100"
    folder = data_dir / "ImageNet16"
    train_images, train_labels = _concat(_read_batch(folder / f"train_data_batch_{i}", "labels") for i in range(1, 11))
    valid_images, valid_labels = _read_batch(folder / "val_data", "labels")
    keep_train, keep_valid = train_labels <= 120, valid_labels <= 120
    return (train_images[keep_train], train_labels[keep_train] - 1, valid_images[keep_valid],
            valid_labels[keep_valid] - 1, 120, "ImageNet16-120")


VALIDATION_IS_TEST = ("cifar10-full",)  # datasets whose held-out split is the test set


def load_test_split(name: str, data_dir: str | Path | None, device: torch.device,
                    synthetic_images: int = 2048) -> ImageSplit | None:
    """The test images of a dataset, apart from its validation split (stand-alone runs report
    both): CIFAR-10's test_batch for cifar10 and cifar10-valid, a separately seeded set for
    synthetic; None where the validation split is the test set or no test split is defined."""
    if name == "synthetic":  # the same classes (colours), other images
        colours = _synthetic_colours(np.random.default_rng(SYNTHETIC_SEED))
        images, labels = _synthetic_images(np.random.default_rng(SYNTHETIC_TEST_SEED), colours,
                                           max(synthetic_images // 4, 1))
    elif name in ("cifar10", "cifar10-valid"):
        images, labels = _read_batch(_cifar_folder(Path(data_dir), "cifar-10-batches-py") / "test_batch", "labels")
    else:
        return None
    return ImageSplit(torch.from_numpy(np.ascontiguousarray(images)).to(device),
                      torch.from_numpy(labels.astype(np.int64)).to(device))


def load_dataset(name: str, data_dir: str | Path | None, device: torch.device, train_portion: float = 1.0,
                 synthetic_images: int = 2048) -> Dataset:
    data_dir = Path(data_dir) if data_dir else None
    train_x, train_y, valid_x, valid_y, classes, statistics = _read_numpy(name, data_dir, synthetic_images)
    keep = max(1, int(round(train_portion * len(train_y))))
    train_x, train_y = train_x[:keep], train_y[:keep]
    if statistics in NORMALIZATION:
        mean, std = (np.asarray(v) * 255 for v in NORMALIZATION[statistics])
    else:
        sample = train_x[:10000].astype(np.float64)
        mean, std = sample.mean(axis=(0, 2, 3)), sample.std(axis=(0, 2, 3)) + 1e-6

    def on_device(images, labels) -> ImageSplit:
        return ImageSplit(torch.from_numpy(np.ascontiguousarray(images)).to(device), torch.from_numpy(labels).to(device))

    shape = (1, 3, 1, 1)
    return Dataset(name, on_device(train_x, train_y), on_device(valid_x, valid_y), classes,
                   torch.tensor(mean, dtype=torch.float32, device=device).view(shape),
                   torch.tensor(std, dtype=torch.float32, device=device).view(shape))
