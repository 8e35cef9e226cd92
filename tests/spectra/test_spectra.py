import numpy as np
import pytest
import torch

from lmech.errors import InputError
from lmech.kernels.base import RBF, Linear
from lmech.spectra.empirical import pool_eigensystem
from lmech.spectra.powerlaw import power_law


def test_power_law_normalization_and_ratio():
    a = power_law(100, 1.5, total=2.0)
    assert a.sum() == pytest.approx(2.0, rel=1e-14)
    assert a[0] / a[9] == pytest.approx(10**1.5, rel=1e-12)
    with pytest.raises(InputError):
        power_law(0, 1.0)
    with pytest.raises(InputError):
        power_law(10, float("nan"))


def test_pool_eigensystem_identities():
    # sum of eigenvalues = mean k(x, x) (trace), sum of squared coefficients = mean y^2
    g = torch.Generator().manual_seed(0)
    X = torch.randn(300, 3, generator=g, dtype=torch.float64)
    y = torch.stack([X[:, 0] ** 2, torch.sin(X[:, 1])], dim=1)
    lam, coef = pool_eigensystem(RBF(1.0), X, y)
    assert lam.sum() == pytest.approx(1.0, rel=1e-10)  # k(x, x) = 1 for RBF
    assert np.all(np.diff(lam) <= 1e-15)
    np.testing.assert_allclose((coef**2).sum(0), (y**2).mean(0).numpy(), rtol=1e-10)
    # reconstructing y from the eigenbasis is exact: y_j = sum_i v_i phi_i(x_j)
    lam1, coef1 = pool_eigensystem(RBF(1.0), X, y[:, 0])
    assert coef1.shape == (300,)


def test_pool_eigensystem_recovers_linear_kernel_spectrum():
    # linear kernel on x ~ N(0, diag(lam)): operator eigenvalues are lam (Monte-Carlo:
    # relative error ~ sqrt(2/M) for the top eigenvalues with M = 20000 points)
    lam_true = np.array([1.0, 0.5, 0.25, 0.1])
    g = torch.Generator().manual_seed(1)
    X = torch.randn(20000, 4, generator=g, dtype=torch.float64) * torch.tensor(lam_true).sqrt()
    w = torch.tensor([0.3, -0.2, 0.5, 0.1], dtype=torch.float64)
    lam, coef = pool_eigensystem(Linear(), X[:4000], (X @ w)[:4000])
    np.testing.assert_allclose(lam[:4], lam_true, rtol=4 * np.sqrt(2 / 4000))
    assert np.all(lam[4:] < 1e-10)
    # target f = x.w has power w_i^2 lam_i on mode i; sampling error of the estimated
    # eigenvectors mixes modes at O(1/sqrt(M)) ~ 0.016, so an absolute tolerance of 5e-3
    est = np.sort(coef[:4] ** 2)[::-1]
    np.testing.assert_allclose(est, np.sort(w.numpy() ** 2 * lam_true)[::-1], atol=5e-3)


def test_pool_eigensystem_errors():
    X = torch.randn(5, 2, dtype=torch.float64)
    with pytest.raises(InputError, match="one row per pool point"):
        pool_eigensystem(RBF(), X, torch.zeros(4, dtype=torch.float64))
    with pytest.raises(InputError, match="2-D"):
        pool_eigensystem(RBF(), X[0])
