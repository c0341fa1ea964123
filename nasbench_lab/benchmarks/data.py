"""Image classification data for live training and zero-cost proxies, as numpy arrays.

* ``load_digits()``: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10
  classes; ships with the package, no download) as 1x8x8 float32 images, split into
  train/validation/test with a fixed seed, standardised with the training mean and std.
* ``load_cifar10(folder)``: CIFAR-10 from a folder the user provides, in the official
  "python version" format (pickled batches ``data_batch_1`` .. ``data_batch_5`` and
  ``test_batch``); 5,000 training images are held out for validation by a seeded split.
* ``load_dataset(name, path=None)`` dispatches on ``"digits"`` / ``"cifar10"``;
  ``cached_dataset`` is the same, memoised per process (the trainers and proxies share it).

>>> d = load_digits()
>>> d.x_train.shape[1:], d.num_classes
((1, 8, 8), 10)
"""
from __future__ import annotations

import dataclasses
import functools
import pickle
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """A data set file is malformed; the message names the file and what was expected."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data set is absent; the message names the files expected and where."""


@dataclasses.dataclass(frozen=True)
class Splits:
    """Train/validation/test arrays of one image classification data set."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input, e.g. ``(1, 8, 8)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])

    def minibatch(self, batch_size: int, seed: int = 0, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """``batch_size`` examples of ``split`` drawn without replacement with ``seed``."""
        x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
        if not 1 <= batch_size <= len(x):
            raise ValueError(f"batch_size must be in 1..{len(x)} for the {split} split of {self.name}")
        idx = np.random.default_rng(seed).choice(len(x), size=batch_size, replace=False)
        return x[idx], y[idx]


def _standardise(x_train, *others):
    mean = x_train.mean(axis=(0, 2, 3), keepdims=True)
    std = x_train.std(axis=(0, 2, 3), keepdims=True) + 1e-8
    return [((a - mean) / std).astype(np.float32) for a in (x_train, *others)]


def load_digits(seed: int = 0, fractions: tuple[float, float] = (0.6, 0.2)) -> Splits:
    """The bundled digits as 1x8x8 images: train/validation/test by a seeded permutation.

    ``fractions`` are the train and validation shares; the test split takes the rest
    (default 60/20/20: 1,078 / 359 / 360 images).
    """
    from sklearn.datasets import load_digits as _sk_load

    raw = _sk_load()
    x = raw.images.astype(np.float32)[:, None] / 16.0
    y = raw.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_train = int(round(fractions[0] * len(x)))
    n_val = int(round(fractions[1] * len(x)))
    tr, va, te = np.split(order, [n_train, n_train + n_val])
    x_tr, x_va, x_te = _standardise(x[tr], x[va], x[te])
    return Splits("digits", x_tr, y[tr], x_va, y[va], x_te, y[te], 10)


CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="bytes")
        data = np.asarray(d[b"data"] if b"data" in d else d["data"], dtype=np.uint8)
        labels = np.asarray(d[b"labels"] if b"labels" in d else d["labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as e:
        raise DataError(f"{path}: not a CIFAR-10 python batch (a pickled dict with 'data' "
                        f"N x 3072 uint8 and 'labels'): {e!r}") from e
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(f"{path}: expected 'data' of shape (N, 3072) and N labels, "
                        f"got {data.shape} and {len(labels)}")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(folder: str | Path, seed: int = 0, validation: int = 5000) -> Splits:
    """CIFAR-10 from ``folder`` (or its ``cifar-10-batches-py`` subfolder), python format.

    ``validation`` training images (seeded choice) form the validation split; images are
    standardised per channel with the training statistics.
    """
    folder = Path(folder).expanduser()
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    missing = [n for n in CIFAR10_FILES if not (folder / n).is_file()]
    if missing:
        raise DataNotFoundError(f"CIFAR-10 not found in {folder}: missing {', '.join(missing)}; expected "
                        f"the python-version batches {', '.join(CIFAR10_FILES)} (the folder "
                        "cifar-10-batches-py of the official cifar-10-python.tar.gz)")
    parts = [_read_cifar_batch(folder / n) for n in CIFAR10_FILES[:-1]]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    x_te, y_te = _read_cifar_batch(folder / "test_batch")
    if not 0 < validation < len(x):
        raise ValueError(f"validation must be in 1..{len(x) - 1}, got {validation}")
    order = np.random.default_rng(seed).permutation(len(x))
    va, tr = order[:validation], order[validation:]
    x_tr, x_va, x_te = _standardise(x[tr].astype(np.float32) / 255, x[va].astype(np.float32) / 255,
                                    x_te.astype(np.float32) / 255)
    return Splits("cifar10", x_tr, y[tr], x_va, y[va], x_te, y_te, 10)


def load_dataset(name: str = "digits", path: str | Path | None = None, seed: int = 0) -> Splits:
    """``"digits"`` (bundled) or ``"cifar10"`` (needs ``path``)."""
    if name == "digits":
        return load_digits(seed=seed)
    if name == "cifar10":
        if path is None:
            raise DataNotFoundError("cifar10 needs path= the folder holding the python-version batches "
                            f"({', '.join(CIFAR10_FILES)})")
        return load_cifar10(path, seed=seed)
    raise KeyError(f"unknown data set {name!r}; known: digits, cifar10")


@functools.lru_cache(maxsize=4)
def cached_dataset(name: str = "digits", path: str | Path | None = None, seed: int = 0) -> Splits:
    """``load_dataset(name, path, seed)`` read once per process (treat the arrays as read-only)."""
    return load_dataset(name, path, seed=seed)


__all__ = ["CIFAR10_FILES", "DataError", "DataNotFoundError", "Splits", "cached_dataset", "load_cifar10", "load_dataset", "load_digits"]
