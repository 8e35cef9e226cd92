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
    10%. At sigma = 4 the ansatz's eigenvalues are close to the exact
    ones: against Mehler's formula (per coordinate lambda ratio b / (a + b + sqrt(a^2 +
    2ab)), a = 1/(4 gamma_i), b = 1/(2 sigma^2)) the HEA overestimates the top degree-1
    eigenvalue by 1.9%, the top 100 by at most 3.9% and the 600 kept by at most 6.0%; the
    error is O(gamma_1 / sigma^2) (tested in ``tests/spectra/test_hea.py``). The
    overestimate makes the prediction optimistic where the curve is steep: at n = 200,
    ridge 1e-3 it sits 4.5-7% below the measurement (0.228 vs 0.239-0.246 +- 0.004
    at seeds 0-2), the largest gap. The prediction's other error is the pool estimate of the target's coefficients
    and of E[y^2] (y has heavy-tailed degree-2 and 3 parts): with a 10,000-sample pool
    the predicted MSE at n = 1000 moved between 0.073 and 0.096 across pool draws and at
    40,000 still by ~3%, hence the 100,000-sample pool (a 0.5 s decomposition). The trial
    counts keep the standard error of the measured means at ~2%. Measured at the quick
    preset: worst error 4.5% / 5.3% / 7.0% at seeds 0 / 1 / 2 (at n = 200, 100, 200,
    ridge 1e-3, the prediction below the measurement; median 2-5%); 7.2% / 5.4% / 5.1%
    before the pool and the trials were drawn from :mod:`lmech.seeding` streams.

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
from lmech.laws import _learning_curve as lc
from lmech.laws.base import Check, Criterion, Law, Prediction
from lmech.laws.hea._common import THEORY_COLUMNS, hea_figure, hea_theory
from lmech.laws.spec import LawSpec, param
from lmech.seeding import rng

_TARGET_NORM = math.sqrt(1.0 + 1.0 + 1.0 + 0.49 + 0.25)  # sqrt(E[numerator^2]) = sqrt(3.74)


@dataclass(frozen=True)
class Spec(LawSpec):
    """Gaussian data, the polynomial target above, RBF regression; HEA from a labelled pool."""

    dim: int = param(200, ge=5, doc="d (the target uses z_0..z_4)")
    offset: float = param(6.0, gt=0, doc="gamma_i ~ (i + offset)^-exponent")
    exponent: float = param(2.0, gt=0)
    bandwidth: float = param(4.0, gt=0, doc="RBF sigma")
    pool_size: int = param(100_000, ge=2, doc="labelled samples the theory reads")
    pool_seed: int = param(0, ge=0, doc="which pool the theory draws (not the run's seed)")
    num_modes: int = param(600, ge=1, doc="HEA modes kept")
    empirical_pool: int = param(3000, ge=2, doc="pool samples of the reference curve")
    sizes: tuple[int, ...] = param(
        (10, 20, 50, 100, 200, 500, 1000), ge=1, min_len=1, distinct=True
    )
    ridges: tuple[float, ...] = param((1e-3, 1e-1), ge=0, min_len=1)
    trials: tuple[int, ...] = param((80, 60, 60, 80, 80, 60, 40), ge=1, doc="one per size")
    test_points: int = param(2000, ge=1, doc="fresh test samples per trial")

    def validate(self) -> None:
        lc.check_trials(self.sizes, self.trials)
        if self.num_modes >= self.pool_size:
            raise ConfigError(
                f"num_modes must be below pool_size (a pool of N samples fits at most N - 1 "
                f"modes); got {self.num_modes} for a pool of {self.pool_size}"
            )

    def memory_bytes(self) -> int:
        # theory: the pool (Z, x, its centred copy and whitened coordinates: 5 N x d), the
        # Hermite features with their least-squares copies (3 N x P, 3 P^2), the PCA
        # (3 d^2) and the reference curve's pool eigensystem (5 M^2); experiment: a
        # trial's samples (3 (n + T) x d) and KRR Grams at n_max (5 n^2 + 3 T n); all
        # float64, plus 64 MiB for the interpreter and torch's temporaries
        N, d, P, M = self.pool_size, self.dim, self.num_modes, self.empirical_pool
        n, T = max(self.sizes), self.test_points
        theory = 5 * N * d + 3 * N * P + 3 * P * P + 3 * d * d + 5 * M * M
        experiment = 3 * (n + T) * d + 5 * n * n + 3 * T * n
        return 2**26 + 8 * (theory + experiment)

    def gammas(self) -> np.ndarray:
        g = (np.arange(self.dim) + self.offset) ** -self.exponent
        return g / g.sum()  # Tr Sigma = 1


PRESETS = {
    "smoke": Spec(
        pool_size=1000, num_modes=60, empirical_pool=300, sizes=(10, 40), trials=(2, 2),
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
}  # fmt: skip


def _draw(spec: Spec, gen: np.random.Generator, num: int) -> tuple[np.ndarray, np.ndarray]:
    """(x = sqrt(gamma) z (num, d), y (num,)) with the degree-1/2/3 target of the docstring."""
    Z = gen.standard_normal((num, spec.dim))
    z0 = Z[:, 0]
    y = (
        z0
        + (z0 * z0 - 1.0) / math.sqrt(2.0)  # h_2(z_0)
        + Z[:, 1] * Z[:, 2]
        + 0.7 * Z[:, 4]
        + 0.5 * (Z[:, 3] ** 3 - 3.0 * Z[:, 3]) / math.sqrt(6.0)  # 0.5 h_3(z_3)
    ) / _TARGET_NORM
    return Z * np.sqrt(spec.gammas()), y


def theory(spec: Spec) -> pd.DataFrame:
    X, y = _draw(spec, rng(spec.pool_seed, "hea-pool"), spec.pool_size)
    return hea_theory(
        RBF(spec.bandwidth), X, y, spec.sizes, spec.ridges,
        num_modes=spec.num_modes, empirical_pool=spec.empirical_pool,
    )  # fmt: skip


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    def sample(trial: int, n_max: int) -> TrialData:
        X, y = _draw(spec, rng(seed, "trial", trial), n_max + spec.test_points)
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
        return TrialData(X_t[:n_max], y_t[:n_max], X_t[n_max:], y_t[n_max:])

    return krr_learning_curve(
        RBF(spec.bandwidth), sample, spec.sizes, spec.ridges, spec.trials, device=device
    )


LAW = Law(
    name="hea-learning-curve-gaussian",
    claim="RBF regression test MSE on Gaussian data with a polynomial target = HEA "
    "prediction from the covariance and a Hermite decomposition of the target",
    source="Karkada, Turnbull, Liu, Simon 2025 (arXiv 2510.14878), Sec. 4, Fig. 3",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=lc.test_mse_errors,
    figure=hea_figure("HEA on Gaussian data, polynomial target: RBF regression"),
    criterion=Criterion(
        Check(
            lc.METRIC,
            "<=",
            0.10,
            why="worst of 14 grid points: the ansatz's eigenvalue overestimate (7% at the "
            "steepest point, n = 200) plus ~3% from the pool's coefficients and 2% sem",
        ),
    ),
    # 25% is 2.5 times the tolerance: points within 3% of the theory then miss by >= 22%
    prediction=Prediction("test_mse", relative=0.25),
    theory_columns=THEORY_COLUMNS,
    experiment_columns=lc.EXPERIMENT_COLUMNS,
    tags=("kernels", "hea", "eigenlearning", "synthetic"),
    doc=__doc__ or "",
)
