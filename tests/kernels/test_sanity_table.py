"""Theory vs simulation on the reference's sanity-check spec (eigenlearning.md).

Linear kernel on Gaussian features, d = 2000, lambda_i and v_i^2 ∝ i^-1.5 (each summing
to 1), eps^2 = 0.1, delta = 1e-3. The theory values are the reference table's; the
simulation runs the KRR engine. Tolerance: 4 standard errors of the trial mean plus 2%
for the finite-n correction of the (asymptotic) theory.
"""

import numpy as np
import pytest
import torch

from lmech.data.synthetic import GaussianPowerLaw
from lmech.experiment.krr import TrialData, krr_learning_curve
from lmech.kernels.base import Linear
from lmech.spectra.powerlaw import power_law
from lmech.theory import learning_curve

TABLE = {  # n: (kappa, E0, test MSE, train MSE): an independent Brent solve of kappa on [1e-14, 1e6]
    10: (4.070e-2, 1.458, 0.5513, 3.33e-6),
    100: (1.201e-3, 1.601, 0.2786, 1.93e-5),
    1000: (1.872e-5, 2.309, 0.2473, 7.06e-4),
}


@pytest.fixture(scope="module")
def spec():
    lam = power_law(2000, 1.5)
    v = np.sqrt(power_law(2000, 1.5))
    return lam, v


def test_theory_matches_reference_table(spec):
    lam, v = spec
    t = learning_curve(lam, v, list(TABLE), 1e-3, noise_variance=0.1).set_index("n")
    for n, (kappa, e0, te, tr) in TABLE.items():
        assert t.loc[n, "kappa"] == pytest.approx(kappa, rel=2e-3)
        assert t.loc[n, "overfitting_coefficient"] == pytest.approx(e0, rel=2e-3)
        assert t.loc[n, "test_mse"] == pytest.approx(te, rel=2e-3)
        assert t.loc[n, "train_mse"] == pytest.approx(tr, rel=3e-3)


def test_simulation_matches_theory(spec):
    lam, v = spec
    system = GaussianPowerLaw(lam, v, 0.1)

    def sample(trial, n_max):
        g = torch.Generator().manual_seed(trial)
        X, _, y = system.sample(n_max, g)
        Xs, fs, _ = system.sample(2000, g)
        return TrialData(X, y, Xs, fs)

    meas = krr_learning_curve(Linear(), sample, list(TABLE), [1e-3], trials=[150, 40, 10])
    meas["test_mse"] += 0.1  # exact expectation over test-label noise
    g = meas.groupby("n")
    mean, sem = g.mean(), g.std() / np.sqrt(g.size().to_numpy()[:, None])
    for n, (_, _, te, tr) in TABLE.items():
        tol = 4 * sem.loc[n, "test_mse"] + 0.02 * te
        assert abs(mean.loc[n, "test_mse"] - te) < tol, (n, mean.loc[n, "test_mse"], te)
        tol = 4 * sem.loc[n, "train_mse"] + 0.02 * tr
        assert abs(mean.loc[n, "train_mse"] - tr) < tol, (n, mean.loc[n, "train_mse"], tr)
