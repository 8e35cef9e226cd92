"""hea-learning-curve-gaussian: the data, the target and the measured KRR rows."""

import dataclasses

import numpy as np
import pytest

from lmech.errors import ConfigError
from lmech.laws.hea.gaussian_curve import Spec, _draw, experiment, theory
from lmech.seeding import rng


def test_draw_has_the_declared_covariance_and_unit_target_power():
    spec = Spec(dim=8)
    X, y = _draw(spec, rng(0, "test"), 400_000)
    # E[x x^T] = diag(gamma); Monte-Carlo sd of a diagonal entry: gamma sqrt(2 / N)
    np.testing.assert_allclose(X.var(axis=0), spec.gammas(), rtol=5 * np.sqrt(2 / 400_000))
    # the five Hermite terms are orthonormal, so E[y^2] = 3.74 / 3.74 = 1 and E[y] = 0
    assert (y**2).mean() == pytest.approx(1.0, abs=0.02)
    assert abs(y.mean()) < 0.01
    # the degree-1 part is z_0 / sqrt(3.74) + 0.7 z_4 / sqrt(3.74)
    z = X / np.sqrt(spec.gammas())
    assert (y * z[:, 4]).mean() == pytest.approx(0.7 / np.sqrt(3.74), abs=0.01)


def test_experiment_rows_are_krr_on_fresh_draws():
    spec = Spec(dim=8, sizes=(5, 12), ridges=(1e-1,), trials=(2, 2), test_points=50)
    meas = experiment(spec, 4, "cpu")
    X, y = _draw(spec, rng(4, "trial", 1), 12 + 50)
    Xtr, ytr, Xte, yte = X[:5], y[:5], X[12:], y[12:]  # prefix of n_max = 12; test after it

    def rbf(A, B):
        return np.exp(-((A[:, None] - B[None]) ** 2).sum(-1) / (2 * spec.bandwidth**2))

    f = rbf(Xte, Xtr) @ np.linalg.solve(rbf(Xtr, Xtr) + 0.1 * np.eye(5), ytr)
    row = meas[(meas["trial"] == 1) & (meas["n"] == 5)]
    assert row["test_mse"].item() == pytest.approx(((f - yte) ** 2).mean(), rel=1e-10)


def test_theory_reads_a_fixed_pool_not_the_run_seed():
    spec = Spec(pool_size=1000, num_modes=60, empirical_pool=300, sizes=(10, 40), trials=(2, 2))
    a, b = theory(spec), theory(dataclasses.replace(spec, pool_seed=1))
    assert a["test_mse"].between(0, 1.5).all()  # E[y^2] = 1: no prediction far above it
    assert not np.allclose(a["test_mse"], b["test_mse"])  # pool_seed picks the pool


def test_spec_checks():
    with pytest.raises(ConfigError, match="num_modes"):
        Spec(pool_size=100, num_modes=100)
    with pytest.raises(ConfigError, match="one count per size"):
        Spec(trials=(1, 2))
