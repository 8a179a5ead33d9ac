r"""Data sets for the CNN experiments, resident on the training device.

* ``"cifar10"``: CIFAR-10 in ``torchvision``'s format (``data_root``, ``download`` for users with a network), read
  with an unpickler that builds data only (a tampered batch file cannot run code). The
  50 000 training images are split 80/20 into training and validation sets (Sec. 6.1), the 10 000 test
  images are the test set. No augmentation.
* ``"digits"``: the embedded offline default -- scikit-learn's ``load_digits`` (1 797 grey 8x8 images of
  the digits 0-9, values 0..16, shipped inside scikit-learn). Each image is scaled to ``[0, 1]``,
  upsampled to 32x32 (``image_size``) by bilinear interpolation and replicated over 3 channels, so that it has CIFAR-10's
  input shape and the paper's network applies unchanged. A fixed 20 % is held out as the test set and the
  rest is split 80/20 into training and validation sets.

Both are standardized per channel, :math:`(u_c-\mu_c)/s_c`, with the mean and standard deviation of the
*training* split applied to all three splits (Sec. 6.1: mean 0, standard deviation 1 per channel). The
splits are fixed by ``split_seed`` (independent of the run's seed, so every run sees the same splits).

Example:
    >>> data = load_dataset("digits")
    >>> tuple(data.train_x.shape[1:]), data.n_train + data.n_val + data.n_test
    ((3, 32, 32), 1797)
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from quorumsgd.errors import InvalidParameter

DATASETS = ("digits", "cifar10")
VALIDATION_FRACTION = 0.2
DIGITS_TEST_FRACTION = 0.2


@dataclass(frozen=True)
class DataSplits:
    """Standardized train / validation / test tensors ``(n, C, H, W)`` float32 and labels ``(n,)`` int64."""

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    n_classes: int = 10

    @property
    def n_train(self) -> int:
        return int(self.train_x.shape[0])

    @property
    def n_val(self) -> int:
        return int(self.val_x.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.test_x.shape[0])

    def to(self, device: torch.device | str) -> DataSplits:
        moved = {k: getattr(self, k).to(device) for k in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")}
        return DataSplits(self.name, n_classes=self.n_classes, **moved)


def _split_indices(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle ``range(n)`` and cut off the last ``round(fraction * n)`` indices."""
    order = rng.permutation(n)
    n_cut = round(fraction * n)
    return np.sort(order[: n - n_cut]), np.sort(order[n - n_cut :])


def _standardize(splits: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per-channel standardization with the training split's statistics."""
    train = splits["train_x"]
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)
    return {k: (v - mean) / std if k.endswith("_x") else v for k, v in splits.items()}


def digits_images(image_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's digits as 3 x ``image_size`` x ``image_size`` float32 images in ``[0, 1]``, int64 labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (n, 1, 8, 8)
    images = F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False)
    return images.repeat(1, 3, 1, 1).contiguous(), torch.as_tensor(bunch.target, dtype=torch.int64)


def load_digits_splits(split_seed: int = 0, image_size: int = 32) -> DataSplits:
    """The offline default data set (see the module docstring)."""
    x, y = digits_images(image_size)
    rng = np.random.default_rng(split_seed)
    rest, test = _split_indices(len(y), DIGITS_TEST_FRACTION, rng)
    train, val = _split_indices(len(rest), VALIDATION_FRACTION, rng)
    train, val = rest[train], rest[val]
    splits = {
        "train_x": x[train], "train_y": y[train], "val_x": x[val], "val_y": y[val],
        "test_x": x[test], "test_y": y[test],
    }
    return DataSplits("digits", **_standardize(splits))


CIFAR10_HOW_TO_GET = ("add --download to fetch it (needs a network), or unpack cifar-10-python.tar.gz from "
                      "https://www.cs.toronto.edu/~kriz/cifar.html into that directory")


def cifar10_problem(data_root: str | Path) -> str | None:
    """What is wrong with the CIFAR-10 copy under ``data_root`` (``None``: every file present and intact).

    The files and checksums are torchvision's (``CIFAR10.train_list``, ``test_list``, ``meta``), checked with
    the same integrity function its loader uses.
    """
    from torchvision.datasets import cifar

    folder = Path(data_root) / cifar.CIFAR10.base_folder
    files = [*cifar.CIFAR10.train_list, *cifar.CIFAR10.test_list,
             [cifar.CIFAR10.meta["filename"], cifar.CIFAR10.meta["md5"]]]
    missing = [name for name, _ in files if not (folder / name).is_file()]
    if missing:
        shown = "every file" if len(missing) == len(files) else ", ".join(missing)
        return f"missing in {folder}: {shown}; {CIFAR10_HOW_TO_GET}"
    corrupt = [name for name, md5 in files if not cifar.check_integrity(str(folder / name), md5)]
    if corrupt:
        return (f"corrupt in {folder} (checksum mismatch: {', '.join(corrupt)}); delete those files and add "
                "--download to fetch them again")
    return None


class _DataOnlyUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10's batch files -- dicts of lists, strings and numpy arrays -- and nothing else.

    A pickle names the callables that rebuild its objects; ``pickle.load`` calls whatever it names, so a
    tampered batch file could run code. Only numpy's array and dtype constructors (and the byte-string
    codec of Python 2 pickles, which the real files are) are allowed; anything else is an UnpicklingError.
    """

    ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    })

    def find_class(self, module: str, name: str):  # type: ignore[no-untyped-def]
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name} (CIFAR-10 batches hold data only)")
        return super().find_class(module, name)


def _read_cifar_batches(folder: Path, names: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(n, 3, 32, 32)`` float32 in [0, 1] and labels of torchvision-format batch files."""
    images, labels = [], []
    for name in names:
        with open(folder / name, "rb") as handle:
            entry = _DataOnlyUnpickler(handle, encoding="latin1").load()
        data = entry.get("data") if isinstance(entry, dict) else None
        targets = (entry.get("labels", entry.get("fine_labels")) if isinstance(entry, dict) else None)
        if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072 or targets is None \
                or len(targets) != data.shape[0]:
            raise ValueError(f"{name} is not a CIFAR-10 batch (a dict with data N x 3072 and N labels)")
        images.append(data)
        labels.extend(int(v) for v in targets)
    # Rows hold three 32 x 32 planes R, G, B: (n, 3, 32, 32) directly, the network's channel-first layout.
    x = torch.as_tensor(np.vstack(images).reshape(-1, 3, 32, 32)).to(torch.float32) / 255.0
    return x.contiguous(), torch.as_tensor(labels, dtype=torch.int64)


def load_cifar10_splits(data_root: str | Path | None, download: bool = False, split_seed: int = 0) -> DataSplits:
    """CIFAR-10 in torchvision's on-disk format, 80/20 train/validation split (see the module docstring).

    torchvision fetches and checks the files; they are read here with an unpickler that builds data only
    (no code from a data file runs). A missing, incomplete, corrupt or tampered copy is one
    :class:`InvalidParameter` naming the files and how to get them.
    """
    if data_root is None:
        raise InvalidParameter("data_root", "a directory for CIFAR-10 (pass --data-root, and --download once)")
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_and_extract_archive

    problem = cifar10_problem(data_root)
    if problem is not None and download:
        try:
            download_and_extract_archive(CIFAR10.url, str(data_root), filename=CIFAR10.filename, md5=CIFAR10.tgz_md5)
        except (OSError, RuntimeError) as err:  # no network, a refused connection, a full disk, a bad archive
            raise InvalidParameter("download", f"be possible (fetching CIFAR-10 failed: {err})",
                                   str(data_root)) from err
        problem = cifar10_problem(data_root)
    if problem is not None:
        raise InvalidParameter("data_root", f"be a directory holding CIFAR-10 ({problem})", str(data_root))
    folder = Path(data_root) / CIFAR10.base_folder
    try:
        x, y = _read_cifar_batches(folder, [name for name, _ in CIFAR10.train_list])
        test_x, test_y = _read_cifar_batches(folder, [name for name, _ in CIFAR10.test_list])
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, TypeError, AttributeError) as err:
        raise InvalidParameter(
            "data_root", f"be a directory holding readable CIFAR-10 batches ({type(err).__name__}: {err}; add "
            "--download to fetch them again)", str(data_root)) from err
    train, val = _split_indices(len(y), VALIDATION_FRACTION, np.random.default_rng(split_seed))
    splits = {
        "train_x": x[train], "train_y": y[train], "val_x": x[val], "val_y": y[val],
        "test_x": test_x, "test_y": test_y,
    }
    return DataSplits("cifar10", **_standardize(splits))


def load_dataset(
    name: str,
    *,
    data_root: str | Path | None = None,
    download: bool = False,
    device: torch.device | str = "cpu",
    max_train: int | None = None,
    max_eval: int | None = None,
    split_seed: int = 0,
    image_size: int = 32,
) -> DataSplits:
    """Load ``name`` in ``{"digits", "cifar10"}`` onto ``device``.

    ``max_train`` / ``max_eval`` keep the first samples of the training / the validation and test splits
    (tiny runs in tests and smoke checks); standardization statistics are those of the full training split.
    ``image_size`` is the side the digits are upsampled to (32, CIFAR-10's, by default; smaller sizes make
    tiny test runs cheaper). CIFAR-10 is always 32.
    """
    if name == "digits":
        data = load_digits_splits(split_seed, image_size)
    elif name == "cifar10":
        if image_size != 32:
            raise InvalidParameter("image_size", "32 for cifar10", image_size)
        data = load_cifar10_splits(data_root, download, split_seed)
    else:
        raise InvalidParameter("dataset", f"one of {', '.join(DATASETS)}", name)
    for cap, label in ((max_train, "max_train"), (max_eval, "max_eval")):
        if cap is not None and cap < 2:
            raise InvalidParameter(label, f"{label} >= 2 (BatchNorm needs two samples)", cap)
    if max_train is not None or max_eval is not None:
        t, e = slice(None, max_train), slice(None, max_eval)
        data = DataSplits(
            data.name, data.train_x[t], data.train_y[t], data.val_x[e], data.val_y[e],
            data.test_x[e], data.test_y[e], data.n_classes,
        )
    return data.to(device)
