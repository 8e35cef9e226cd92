r"""hea-learning-curve-gaussian: HEA predicts KRR on Gaussian data with a polynomial target.

Claim:
    For Gaussian data x ~ N(0, diag(gamma)) and a polynomial target, the HEA prediction
    (kernel eigenvalues lambda_alpha = c_|alpha| prod gamma_i^alpha_i, target coefficients
    from a Hermite decomposition of a labelled pool, eigenlearning) matches the
    trial-averaged test MSE of RBF kernel regression within 10% at every n of the grid.

System (the paper's default synthetic setting):
    d = 200, gamma_i proportional to (i + 6)^{-2} normalized to Tr Sigma = 1 (d_eff 19.6);
    RBF kernel with bandwidth 4 (s = sigma^2 / Tr Sigma = 16). Target, in whitened
    coordinates z_i = x_i / sqrt(gamma_i):

        y = [h_1(z_0) + h_2(z_0) + z_1 z_2 + 0.7 z_4 + 0.5 h_3(z_3)] / sqrt(3.74),

    E[y^2] = 1, with components of degrees 1, 2 and 3 that are learned at very different
    n; the degree-3 part (power 0.067) is beyond the kept modes and acts as noise.

Prediction:
    :func:`lmech.predict.hea_decompose` on a pool of ``pool_size`` labelled samples with
    ``num_modes`` modes (the data's empirical covariance, not the true one: the whole
    pipeline is exercised as a user would run it). The figure also shows eigenlearning on
    the empirical kernel eigensystem of the first 3,000 pool samples.

Measurement:
    KRR (RBF, ridges 1e-3 and 1e-1) on n fresh samples, tested on ``test_points`` fresh
    samples (noiseless targets), trial-averaged.

Tolerance:
    10% (the issue's bound). At sigma = 4 the ansatz's eigenvalues are close to the exact
    ones: against Mehler's formula (per coordinate lambda ratio b / (a + b + sqrt(a^2 +
    2ab)), a = 1/(4 gamma_i), b = 1/(2 sigma^2)) the HEA overestimates the top degree-1
    eigenvalue by 1.9%, the top 100 by at most 3.9% and the 600 kept by at most 6.0%; the
    error is O(gamma_1 / sigma^2) (tested in ``tests/spectra/test_hea.py``). The
    overestimate makes the prediction optimistic where the curve is steep: at n = 200,
    ridge 1e-3 it sits 7% below the measurement (0.224 vs 0.241 +- 0.005), the largest
    gap. The prediction's other error is the pool estimate of the target's coefficients
    and of E[y^2] (y has heavy-tailed degree-2 and 3 parts): with a 10,000-sample pool
    the predicted MSE at n = 1000 moved between 0.073 and 0.096 across pool draws and at
    40,000 still by ~3%, hence the 100,000-sample pool (a 0.5 s decomposition). The trial
    counts keep the standard error of the measured means at ~2%. Measured at the quick
    preset: worst error 7.2% / 5.4% / 5.1% at seeds 0 / 1 / 2 (median ~3%).

Source:
    Karkada, Turnbull, Liu, Simon, arXiv 2510.14878 (ICLR 2026), Sec. 4 and Fig. 3;
    synthetic setting from the authors' ``expts/expt_demux.py``.

Run:
    ``lmech check hea-learning-curve-gaussian`` (quick, ~12 s on 2 CPU cores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from lmech.errors import ConfigError
from lmech.experiment.krr import TrialData, krr_learning_curve
from lmech.kernels.base import RBF
from lmech.laws._hea import THEORY_COLUMNS, hea_figure, hea_theory
from lmech.laws._learning_curve import (
    EXPERIMENT_COLUMNS,
    METRIC,
    check_curve_grid,
    compare_test_mse,
)
from lmech.laws.base import Law, Verdict

TOLERANCE = 0.10  # the bound; see the module docstring

_TARGET_NORM = math.sqrt(1.0 + 1.0 + 1.0 + 0.49 + 0.25)


@dataclass(frozen=True)
class Spec:
    dim: int = 200
    offset: float = 6.0
    exponent: float = 2.0
    bandwidth: float = 4.0
    pool_size: int = 100_000
    num_modes: int = 600
    empirical_pool: int = 3000
    sizes: tuple[int, ...] = (10, 20, 50, 100, 200, 500, 1000)
    ridges: tuple[float, ...] = (1e-3, 1e-1)
    trials: tuple[int, ...] = (80, 60, 60, 80, 80, 60, 40)
    test_points: int = 2000

    def __post_init__(self) -> None:
        if self.dim < 5:
            raise ConfigError(f"dim must be >= 5 (the target uses z_0..z_4); got {self.dim}")
        if not (self.offset > 0 and self.exponent > 0 and self.bandwidth > 0):
            raise ConfigError("offset, exponent and bandwidth must be > 0")
        check_curve_grid(self.sizes, self.ridges, self.trials)
        if not 1 <= self.num_modes < self.pool_size:
            raise ConfigError(
                f"num_modes must be in [1, pool_size); got {self.num_modes} for pool "
                f"{self.pool_size}"
            )
        if self.test_points < 1 or self.empirical_pool < 2:
            raise ConfigError("test_points >= 1 and empirical_pool >= 2 are needed")

    def gammas(self) -> np.ndarray:
        g = (np.arange(self.dim) + self.offset) ** -self.exponent
        return g / g.sum()


PRESETS = {
    "smoke": Spec(
        pool_size=1000,
        num_modes=60,
        empirical_pool=300,
        sizes=(10, 40),
        trials=(2, 2),
        test_points=200,
    ),
    "quick": Spec(),
    "paper": Spec(
        pool_size=200_000,
        num_modes=3000,
        empirical_pool=8000,
        sizes=(10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
        trials=(200, 100, 80, 60, 40, 30, 20, 16, 8),
        test_points=5000,
    ),
}


def _draw(spec: Spec, rng: np.random.Generator, num: int) -> tuple[np.ndarray, np.ndarray]:
    Z = rng.standard_normal((num, spec.dim))
    z0 = Z[:, 0]
    y = (
        z0
        + (z0 * z0 - 1.0) / math.sqrt(2.0)
        + Z[:, 1] * Z[:, 2]
        + 0.7 * Z[:, 4]
        + 0.5 * (Z[:, 3] ** 3 - 3.0 * Z[:, 3]) / math.sqrt(6.0)
    ) / _TARGET_NORM
    return Z * np.sqrt(spec.gammas()), y


def theory(spec: Spec) -> pd.DataFrame:
    X, y = _draw(spec, np.random.default_rng([2025, 10, 14878]), spec.pool_size)
    return hea_theory(
        RBF(spec.bandwidth),
        X,
        y,
        spec.sizes,
        spec.ridges,
        num_modes=spec.num_modes,
        empirical_pool=spec.empirical_pool,
    )


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    def sample(trial: int, n_max: int) -> TrialData:
        X, y = _draw(spec, np.random.default_rng([seed, trial]), n_max + spec.test_points)
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
        return TrialData(X_t[:n_max], y_t[:n_max], X_t[n_max:], y_t[n_max:])

    return krr_learning_curve(
        RBF(spec.bandwidth), sample, spec.sizes, spec.ridges, spec.trials, device=device
    )


def compare(pred: pd.DataFrame, meas: pd.DataFrame) -> Verdict:
    return compare_test_mse(pred, meas, TOLERANCE)


def figure(pred: pd.DataFrame, meas: pd.DataFrame):
    return hea_figure(pred, meas, "HEA on Gaussian data, polynomial target: RBF regression")


LAW = Law(
    name="hea-learning-curve-gaussian",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    compare=compare,
    figure=figure,
    metric=METRIC,
    tolerance=TOLERANCE,
    source="Karkada, Turnbull, Liu, Simon 2025 (arXiv 2510.14878), Sec. 4, Fig. 3",
    claim="RBF regression test MSE on Gaussian data with a polynomial target = HEA "
    "prediction from the covariance and a Hermite decomposition of the target",
    tags=("kernels", "hea", "eigenlearning", "synthetic"),
    theory_columns=THEORY_COLUMNS,
    experiment_columns=EXPERIMENT_COLUMNS,
    doc=__doc__ or "",
)
