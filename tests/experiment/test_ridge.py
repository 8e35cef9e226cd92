"""The ridge simulators against explicit numpy solves, closed-form kernels and theory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmech.experiment.ridge import (
    _ridge_weights,
    gaussian_samples,
    linear_ridge_errors,
    nested_rf_errors,
    nonlinear_rf_errors,
    relu_kernel,
)
from lmech.seeding import torch_generator
from lmech.theory.ridge import random_feature_risk


@pytest.mark.parametrize(("P", "dim"), [(40, 15), (15, 40)])
def test_ridge_weights_match_normal_equations(P, dim):
    rng = np.random.default_rng(0)
    Z, y = rng.normal(size=(P, dim)), rng.normal(size=P)
    lams = np.array([0.0, 1e-3, 1.0])
    got = _ridge_weights(torch.from_numpy(Z), torch.from_numpy(y), torch.from_numpy(lams)).numpy()
    for a, lam in zip(got, lams, strict=True):
        if lam == 0:
            ref = np.linalg.pinv(Z) @ y  # minimum-norm least squares
        else:
            ref = np.linalg.solve(Z.T @ Z / P + lam * np.eye(dim), Z.T @ y / P)
        np.testing.assert_allclose(a, ref, rtol=1e-9, atol=1e-11)


def test_gaussian_samples_have_the_covariance():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 4))
    C = A @ A.T
    X = gaussian_samples(C, 100000, torch_generator(0, "cov")).numpy()
    np.testing.assert_allclose(X.T @ X / X.shape[0], C, atol=0.05 * np.abs(C).max())


def test_linear_errors_are_exact_population_errors():
    """The exact error (beta - w)^T Sigma (beta - w) + sigma^2 vs a large fresh test set."""
    s = np.arange(1, 31) ** -1.0
    w = np.ones(30)
    gen = torch_generator(0, "exact")
    out = linear_ridge_errors(s, w, 20, [1e-2], 0.1, gen, features=10)
    # redo the same draws by hand: X, noise, F in that order from the same stream
    gen = torch_generator(0, "exact")
    X = torch.randn((20, 30), generator=gen, dtype=torch.float64).numpy() * np.sqrt(s)
    g = torch.randn(20, generator=gen, dtype=torch.float64).numpy()
    F = torch.randn((30, 10), generator=gen, dtype=torch.float64).numpy() / np.sqrt(10)
    y = X @ w + np.sqrt(0.1) * g
    Z = X @ F
    a = np.linalg.solve(Z.T @ Z / 20 + 1e-2 * np.eye(10), Z.T @ y / 20)
    Xt = np.random.default_rng(2).normal(size=(400000, 30)) * np.sqrt(s)
    yt = Xt @ w + np.sqrt(0.1) * np.random.default_rng(3).normal(size=400000)
    mse = np.mean((Xt @ F @ a - yt) ** 2)
    assert out["test_error"][0] == pytest.approx(mse, rel=0.01)  # 400k test points: ~0.3% SE


def test_nested_errors_follow_the_rf_theory():
    i = np.arange(1, 101)
    s = i**-1.0
    s /= s.sum()
    w = np.sqrt(i**-0.5 / s / (i**-0.5).sum())
    P, N = [60, 160], [30, 250]
    e = np.array(
        [nested_rf_errors(s, w, P, N, [1e-3], 0.1, torch_generator(5, "n", t))[..., 0]
         for t in range(40)]
    )  # fmt: skip
    th = random_feature_risk(s, w, np.array(P)[:, None], np.array(N)[None, :], 1e-3, 0.1)
    sem = e.std(axis=0, ddof=1) / np.sqrt(e.shape[0])
    assert np.all(np.abs(e.mean(axis=0) - th.test_error) <= 3 * sem + 0.02 * th.test_error)


def test_relu_kernel_matches_random_features():
    rng = np.random.default_rng(6)
    X = torch.from_numpy(rng.normal(size=(5, 3)))
    G = torch.from_numpy(rng.normal(size=(3, 400000)))
    Phi = torch.relu(X @ G / np.sqrt(3))
    mc = (Phi @ Phi.T / G.shape[1]).numpy()
    np.testing.assert_allclose(relu_kernel(X, X).numpy(), mc, rtol=0.02, atol=2e-3)


def test_nonlinear_rf_approaches_kernel_regression():
    """Many ReLU features: RF-KRR -> KRR with the arc-cosine kernel (ridge delta = n lambda)."""
    rng = np.random.default_rng(7)
    n, m, d, lam = 25, 200, 4, 1e-2
    X, Xt = rng.normal(size=(n, d)), rng.normal(size=(m, d))
    y, ft = np.sin(X[:, 0]), np.sin(Xt[:, 0])
    err = nonlinear_rf_errors(torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(Xt),
                              torch.from_numpy(ft), 100000, [lam],
                              torch_generator(0, "rf"))[0]  # fmt: skip
    K = relu_kernel(torch.from_numpy(X), torch.from_numpy(X)).numpy()
    Kt = relu_kernel(torch.from_numpy(Xt), torch.from_numpy(X)).numpy()
    pred = Kt @ np.linalg.solve(K + n * lam * np.eye(n), y)
    assert err == pytest.approx(np.mean((pred - ft) ** 2), rel=0.03)
