r"""eigenlearning-fashion-mnist: NTK kernel regression on real images, predicted from a pool.

Claim:
    The eigenlearning prediction E_te = E_0 sum_i (1 - L_i)^2 v_i^2, with the eigenvalues of
    a deep ReLU NTK and the target's eigen-coefficients estimated on a held-out pool of
    Fashion-MNIST images, predicts the trial-averaged test MSE of NTK kernel regression on
    fresh images over a grid of n and two ridges, within 10% (max over the grid of
    |pred - meas| / meas).

System:
    Fashion-MNIST (train + test files of the Debian package ``dataset-fashion-mnist``,
    70,000 images), pixels / 255 flattened (d = 784). Binary task: Sandal (class 5) -> +1 vs
    Sneaker (class 7) -> -1, 14,000 images. Kernel: the NTK of a 3-hidden-layer ReLU MLP
    with W_std = sqrt(2), b_std = 0.1 (neural-tangents conventions, the eigenlearning
    paper's Fig. 2 network with one layer fewer), :class:`lmech.kernels.infinite.NTK`.

Split and estimator:
    As in eigenlearning-digits: ``pool_size`` images (fixed by ``split_seed``) give
    lambda_hat_i = eig(K/M) and v_hat_i = U_i^T y / sqrt(M) (:mod:`lmech.spectra.empirical`;
    trace and total power unbiased, power moved from the tail into the top modes by
    O(E[y^2]/M) per mode, so the prediction is optimistic by an amount growing with n/M).
    Each trial draws training images from the other 11,000 without replacement and tests
    on ``test_points`` further images. Sizes stop at n = 160 (n/M = 0.053).

Tolerance:
    10% (issue 3's aim). Measured at the quick preset, seed 0, while tuning: within
    -5.4% .. +2.0% of the prediction (largest at n = 16, ridge 1e-2, where the measured
    mean is below the prediction; SE there 1.5%). The pool-estimator bias above is what
    makes the margin shrink at larger n/M.

Data:
    ``apt-get install dataset-fashion-mnist`` (or set LMECH_FASHION_MNIST to a folder with
    the four IDX files); without it the law is reported as skipped, never as passed.

Source:
    Simon, Dickens, Karkada, DeWeese, "The Eigenlearning Framework", TMLR 2023
    (arXiv 2110.03922), Sec. 4 and Fig. 2 (NTK regression on binary image tasks).

Run:
    ``lmech check eigenlearning-fashion-mnist`` (quick, ~25 s on 2 CPU cores).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from lmech.data.loaders import binary_task, flatten_images, load_fashion_mnist
from lmech.errors import ConfigError
from lmech.experiment.pool import held_out_pool_experiment
from lmech.kernels.infinite import NTK
from lmech.laws._learning_curve import (
    EXPERIMENT_COLUMNS,
    METRIC,
    THEORY_COLUMNS,
    check_curve_grid,
    compare_test_mse,
    held_out_pool_theory,
    learning_curve_figure,
)
from lmech.laws.base import Law, Verdict

TOLERANCE = 0.10  # justified in the module docstring


@dataclass(frozen=True)
class Spec:
    positive: tuple[int, ...] = (5,)  # Sandal
    negative: tuple[int, ...] = (7,)  # Sneaker
    depth: int = 3
    weight_std: float = 2.0**0.5
    bias_std: float = 0.1
    pool_size: int = 3000
    split_seed: int = 0
    sizes: tuple[int, ...] = (10, 16, 25, 40, 63, 100, 160)
    ridges: tuple[float, ...] = (1e-2, 1.0)
    trials: tuple[int, ...] = (120, 80, 60, 40, 30, 20, 20)
    test_points: int = 2000

    def __post_init__(self) -> None:
        if not self.positive or set(self.positive) & set(self.negative):
            raise ConfigError("positive and negative classes must be non-empty and disjoint")
        check_curve_grid(self.sizes, self.ridges, self.trials)
        if self.pool_size < 2 or self.test_points < 1 or self.depth < 0:
            raise ConfigError("pool_size >= 2, test_points >= 1 and depth >= 0 are needed")

    def kernel(self) -> NTK:
        return NTK(
            depth=self.depth, activation="relu", weight_std=self.weight_std, bias_std=self.bias_std
        )


PRESETS = {
    "smoke": Spec(pool_size=300, sizes=(10, 30), trials=(2, 2), test_points=100),
    "quick": Spec(),
    "paper": Spec(
        pool_size=20_000,
        sizes=(10, 20, 40, 80, 160, 320, 640, 1280),
        trials=(400, 200, 100, 50, 30, 20, 10, 10),
        test_points=5000,
    ),
}


@lru_cache(maxsize=2)
def _images() -> tuple[np.ndarray, np.ndarray]:
    """All 70,000 images (float64 in [0, 1], flattened) and labels; cached per process."""
    (xa, ya), (xb, yb) = load_fashion_mnist("train"), load_fashion_mnist("test")
    return flatten_images(np.concatenate([xa, xb])), np.concatenate([ya, yb])


def _split(spec: Spec):
    X, y = _images()
    Xb, t = binary_task(X, y, positive=list(spec.positive), negative=list(spec.negative))
    perm = np.random.default_rng(spec.split_seed).permutation(len(Xb))
    pool, rest = perm[: spec.pool_size], perm[spec.pool_size :]
    if max(spec.sizes) + spec.test_points > rest.size:
        raise ConfigError(
            f"largest size {max(spec.sizes)} + test_points {spec.test_points} exceeds the "
            f"{rest.size} images outside the pool; lower them or pool_size"
        )
    return Xb, t, pool, rest


def theory(spec: Spec) -> pd.DataFrame:
    X, t, pool, _ = _split(spec)
    return held_out_pool_theory(spec.kernel(), X[pool], t[pool], spec.sizes, spec.ridges)


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    X, t, _, rest = _split(spec)
    return held_out_pool_experiment(
        spec.kernel(),
        X,
        t,
        rest,
        spec.sizes,
        spec.ridges,
        spec.trials,
        seed=seed,
        device=device,
        test_points=spec.test_points,
    )


def compare(pred: pd.DataFrame, meas: pd.DataFrame) -> Verdict:
    return compare_test_mse(pred, meas, TOLERANCE)


def figure(pred: pd.DataFrame, meas: pd.DataFrame):
    return learning_curve_figure(
        pred, meas, "Eigenlearning on Fashion-MNIST (sandal vs sneaker): ReLU NTK regression"
    )


LAW = Law(
    name="eigenlearning-fashion-mnist",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    compare=compare,
    figure=figure,
    metric=METRIC,
    tolerance=TOLERANCE,
    source="Simon et al. 2023, The Eigenlearning Framework (arXiv 2110.03922), Sec. 4, Fig. 2",
    claim="NTK regression test MSE on Fashion-MNIST (sandal vs sneaker) = eigenlearning "
    "prediction from a held-out pool",
    tags=("kernels", "eigenlearning", "ntk", "real-data"),
    theory_columns=THEORY_COLUMNS,
    experiment_columns=EXPERIMENT_COLUMNS,
    doc=__doc__ or "",
)
