"""lmech.theory.ridge against independent computations: brute-force root finding
(scipy brentq), closed forms, Monte Carlo, explicit matrix formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from lmech.experiment.ridge import ar1_gaussian, linear_ridge_errors
from lmech.seeding import torch_generator
from lmech.theory.eigenlearning import test_mse as eigen_test_mse
from lmech.theory.ridge import (
    corr_gcv,
    correlated_ridge_risk,
    exponential_correlation,
    gcv,
    kare,
    nearest_neighbour_correlation,
    optimal_ridge,
    random_feature_risk,
    renormalized_ridge,
    rf_krr_risk,
    ridge_risk,
)
from tests.tolerances import RTOL


def _reference_setup():
    """D = 300, s_i ~ i^-1.2 (trace 1), w_i ~ N(0, i^-0.8) (numpy default_rng(1) draw),
    sigma^2 = 0.05, P = 150, N = 100, lambda = 1e-3."""
    D = 300
    i = np.arange(1, D + 1)
    s = i**-1.2
    s /= s.sum()
    w = np.random.default_rng(1).normal(size=D) * np.sqrt(i**-0.8)
    return s, w


def _df1(s, k):
    return float((s / (s + k)).sum())


def _brute_kappa(s, P, N, lam):
    """brentq on kappa (1 - Df1/P)(1 - Df1/N) - lambda above the pole Df1 = min(P, N)."""
    m = min(P, N)
    kmin = brentq(lambda k: _df1(s, k) - m, 1e-300, 1e6, xtol=1e-300) if m < s.size else 0.0
    if lam == 0:
        return kmin
    f = lambda k: k * (1 - _df1(s, k) / P) * (1 - (_df1(s, k) / N if np.isfinite(N) else 0)) - lam  # noqa: E731
    return brentq(f, kmin * (1 + 1e-14) + 1e-300, 1e6, xtol=1e-300, rtol=4 * np.finfo(float).eps)


def test_reference_check_formula_and_simulation():
    s, w = _reference_setup()
    r = random_feature_risk(s, w, 150, 100, 1e-3, 0.05)
    assert r.test_error[0] == pytest.approx(0.08299, abs=5e-6)
    # the RF-KRR eigenframework gives the same number (v_i^2 = s_i w_i^2, delta = P lambda)
    k = rf_krr_risk(s, w * np.sqrt(s), 150, 100, 150 * 1e-3, 0.05)
    assert k.test_error[0] == pytest.approx(r.test_error[0], rel=1e-12)
    # K = 4 ensemble sharing the data: 0.0700
    r4 = random_feature_risk(s, w, 150, 100, 1e-3, 0.05, ensemble_size=4)
    assert r4.test_error[0] == pytest.approx(0.0700, abs=5e-5)
    # simulation: 400 draws of data and features, exact test error
    e = np.array(
        [
            linear_ridge_errors(
                s, w, 150, [1e-3], 0.05, torch_generator(0, "ref", t), features=100
            )["test_error"][0]
            for t in range(400)
        ]
    )
    sem = e.std(ddof=1) / np.sqrt(e.size)
    # finite-size bias ~0.3% plus 3 SE
    assert abs(e.mean() - r.test_error[0]) <= 3 * sem + 0.003 * r.test_error[0]


@pytest.mark.parametrize(
    ("P", "N", "lam"),
    [
        (50, np.inf, 1e-3),
        (50, np.inf, 0.0),
        (400, np.inf, 0.0),
        (400, np.inf, 1e-12),
        (120, 80, 1e-4),
        (120, 80, 0.0),
        (80, 120, 0.0),
        (100, 100, 1e-9),
        (500, 1000, 0.0),
        (20, 50, 10.0),
    ],
)
def test_renormalized_ridge_matches_brentq(P, N, lam):
    """Safeguarded Newton vs brute-force brentq on the defining equation."""
    i = np.arange(1, 301)
    s = i**-1.3
    k = renormalized_ridge(s, P, lam, features=None if np.isinf(N) else N)[0]
    ref = _brute_kappa(s, P, N, lam)
    if ref == 0:
        assert k == 0
    else:
        assert k == pytest.approx(ref, rel=1e-9)


def test_vectorized_grid_matches_pointwise():
    s = np.arange(1, 201) ** -1.0
    P = np.array([30, 100, 150, 250, 400])
    lam = np.array([0.0, 1e-6, 1e-3, 0.1, 1.0])
    grid = renormalized_ridge(s, P[:, None], lam[None, :], features=120)
    for a, p in enumerate(P):
        for b, lv in enumerate(lam):
            ref = _brute_kappa(s, p, 120, lv)
            assert grid[a, b] == pytest.approx(ref, rel=1e-9, abs=1e-300)


def test_isotropic_closed_form():
    """Sigma = I: kappa (1 - D/(P(1+kappa))) = lambda is a quadratic; OLS at lambda = 0."""
    D, P, lam, s2 = 100, 250, 0.3, 0.5
    w = np.ones(D) / np.sqrt(D)
    # kappa^2 + kappa (1 - D/P - lam) - lam = 0
    b = 1 - D / P - lam
    kappa = (-b + np.sqrt(b * b + 4 * lam)) / 2
    r = ridge_risk(np.ones(D), w, P, lam, s2)
    assert r.kappa[0] == pytest.approx(kappa, rel=RTOL["float64"])
    g = D / P / (1 + kappa) ** 2
    eg = (kappa**2 / (1 + kappa) ** 2 + s2) / (1 - g)
    assert r.test_error[0] == pytest.approx(eg, rel=1e-10)
    ols = ridge_risk(np.ones(D), w, P, 0.0, s2)
    assert ols.test_error[0] == pytest.approx(s2 / (1 - D / P), rel=1e-12)
    assert ols.train_error[0] == pytest.approx(s2 * (1 - D / P), rel=1e-12)


def test_ridge_equals_eigenlearning_and_rf_limits():
    """Linear ridge = eigenlearning with n = P, delta = P lambda, v_i^2 = s_i w_i^2; RF with
    N = inf = ridge; RF-KRR with k = inf = eigenlearning."""
    s, w = _reference_setup()
    for P, lam in [(100, 1e-3), (500, 1e-2), (200, 0.0)]:
        r = ridge_risk(s, w, P, lam, 0.05)
        ref = eigen_test_mse(s, w * np.sqrt(s), P, P * lam, noise_variance=0.05)
        assert r.test_error[0] == pytest.approx(float(np.ravel(ref)[0]), rel=1e-9)
        rf = random_feature_risk(s, w, P, np.inf, lam, 0.05)
        assert rf.test_error[0] == pytest.approx(r.test_error[0], rel=1e-12)
        kr = rf_krr_risk(s, w * np.sqrt(s), P, np.inf, P * lam, 0.05)
        assert kr.test_error[0] == pytest.approx(r.test_error[0], rel=1e-9)


def test_rf_krr_equals_linear_rf_on_a_grid():
    s, w = _reference_setup()
    P = np.array([60.0, 150, 400])[:, None]
    N = np.array([30.0, 150, 1000])[None, :]
    a = random_feature_risk(s, w, P, N, 1e-3, 0.05).test_error
    b = rf_krr_risk(s, w * np.sqrt(s), P, N, P * 1e-3, 0.05).test_error
    np.testing.assert_allclose(a, b, rtol=1e-10)


def test_ridge_monte_carlo_test_and_train():
    s, w = _reference_setup()
    P, lams = 200, np.array([1e-4, 1e-2])
    r = ridge_risk(s, w, P, lams, 0.05)
    outs = [
        linear_ridge_errors(s, w, P, lams, 0.05, torch_generator(1, "mc", t)) for t in range(60)
    ]
    te = np.array([o["test_error"] for o in outs])
    tr = np.array([o["train_error"] for o in outs])
    for arr, pred in ((te, r.test_error), (tr, r.train_error)):
        sem = arr.std(axis=0, ddof=1) / np.sqrt(arr.shape[0])
        assert np.all(np.abs(arr.mean(axis=0) - pred) <= 3 * sem + 0.01 * pred)


def test_disjoint_ensemble_monte_carlo():
    s, w = _reference_setup()
    pred = random_feature_risk(s, w, 150, 100, 1e-3, 0.05, ensemble_size=4, shared_data=False)
    e = np.array(
        [
            linear_ridge_errors(
                s, w, 150, [1e-3], 0.05, torch_generator(2, "ens", t),
                features=100, ensemble_size=4, shared_data=False,
            )["test_error"][0]
            for t in range(80)
        ]
    )  # fmt: skip
    sem = e.std(ddof=1) / np.sqrt(e.size)
    assert abs(e.mean() - pred.test_error[0]) <= 3 * sem + 0.005 * pred.test_error[0]


def test_optimal_ridge_matches_dense_search():
    s, w = _reference_setup()
    lam, err = optimal_ridge(s, w, 150, 0.05, features=100)
    grid = np.geomspace(1e-7, 1.0, 4000)
    dense = random_feature_risk(s, w, 150, 100, grid, 0.05).test_error
    assert err[0] <= dense.min() * (1 + 1e-9)
    assert err[0] == pytest.approx(dense.min(), rel=1e-5)
    assert lam[0] == pytest.approx(grid[np.argmin(dense)], rel=0.02)


def test_covariance_matrix_equals_spectrum():
    """A rotated covariance with the teacher in the same basis gives the same risk."""
    rng = np.random.default_rng(0)
    s = np.arange(1, 31) ** -1.0
    Q, _ = np.linalg.qr(rng.normal(size=(30, 30)))
    w = rng.normal(size=30)
    C = (Q * s) @ Q.T
    a = ridge_risk(s, w, 20, 1e-2, 0.1).test_error
    b = ridge_risk(C, Q @ w, 20, 1e-2, 0.1).test_error
    assert b[0] == pytest.approx(a[0], rel=1e-9)


def test_correlated_identity_reduces_to_ridge():
    s, w = _reference_setup()
    lams = np.array([1e-4, 1e-2, 1.0])
    a = correlated_ridge_risk(s, w, np.eye(150), lams, 0.05)
    b = ridge_risk(s, w, 150, lams, 0.05)
    np.testing.assert_allclose(a.kappa, b.kappa, rtol=1e-9)
    np.testing.assert_allclose(a.test_error, b.test_error, rtol=1e-9)
    # duality kappa kappa_tilde / lambda = 1 / df1_tilde
    np.testing.assert_allclose(a.kappa * a.kappa_tilde / lams, 1 / a.df1_tilde, rtol=1e-9)


def test_correlated_kappa_and_risk_monte_carlo():
    """kappa from the one-point equivalent df1(kappa) = empirical df1_hat, and the risk,
    against AR(1) simulations (the note marks the risk formula unverified)."""
    D, P, xi = 100, 300, 5.0
    i = np.arange(1, D + 1)
    s = i**-1.0
    s /= s.sum()
    w = np.sqrt(i**-0.5)
    w /= np.sqrt((w**2 * s).sum())
    lams = np.array([1e-3, 1e-1])
    K = exponential_correlation(P, xi)
    th = correlated_ridge_risk(s, w, K, lams, 0.2)
    errs, df1 = [], []
    for t in range(30):
        X, g = ar1_gaussian(s, P, xi, torch_generator(3, "ar1", t))
        errs.append(linear_ridge_errors(s, w, P, lams, 0.2, None, X=X, noise=g)["test_error"])
        e = np.linalg.eigvalsh(X.numpy().T @ X.numpy() / P)
        df1.append([(e / (e + lv)).sum() for lv in lams])
    errs, df1 = np.array(errs), np.array(df1)
    np.testing.assert_allclose(df1.mean(axis=0), th.df1, rtol=0.01)
    sem = errs.std(axis=0, ddof=1) / np.sqrt(errs.shape[0])
    assert np.all(np.abs(errs.mean(axis=0) - th.test_error) <= 3 * sem + 0.01 * th.test_error)


def test_ar1_correlation_is_exponential():
    """4000 independent AR(1) columns of one draw: sample correlation vs exp(-|t-s|/xi)."""
    P, xi = 40, 4.0
    z = ar1_gaussian(np.ones(4000), P, xi, torch_generator(4, "ar1-check"))[0].numpy()
    emp = z @ z.T / z.shape[1]
    np.testing.assert_allclose(emp, exponential_correlation(P, xi), atol=0.08)  # 5 SE


def test_gcv_and_kare_against_explicit_matrices():
    rng = np.random.default_rng(5)
    P, D, lam = 40, 25, 0.05
    X = rng.normal(size=(P, D))
    y = rng.normal(size=P)
    H = X @ np.linalg.solve(X.T @ X + P * lam * np.eye(D), X.T)
    res = y - H @ y
    ref = (res @ res / P) / (1 - np.trace(H) / P) ** 2
    assert gcv(X, y, lam).estimate[0] == pytest.approx(ref, rel=1e-10)
    # CorrGCV with K = I is plain GCV
    assert corr_gcv(X, y, lam, np.eye(P)).estimate[0] == pytest.approx(ref, rel=1e-8)
    K = X @ X.T
    A = np.linalg.inv(K / P + lam * np.eye(P))
    kref = (y @ A @ A @ y / P) / (np.trace(A) / P) ** 2
    assert kare(K, y, lam)[0] == pytest.approx(kref, rel=1e-10)
    # for the linear kernel KARE equals GCV (Tr and residual identities)
    assert kare(K, y, lam)[0] == pytest.approx(ref, rel=1e-8)


def test_nearest_neighbour_correlation_spectrum():
    b, P = 0.4, 50
    K = nearest_neighbour_correlation(P, b)
    j = np.arange(1, P + 1)
    closed = 1 + 2 * b * np.cos(np.pi * j / (P + 1))  # tridiagonal Toeplitz eigenvalues
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(K)), np.sort(closed), atol=1e-12)


def test_solver_is_fast_on_a_large_grid():
    """Not a timing test: the 10^4-point grid is solved and agrees with brentq at samples."""
    s = np.arange(1, 301) ** -1.2
    lam = np.geomspace(1e-6, 1, 100)
    ratio = np.geomspace(0.2, 5, 100)
    L, R = np.meshgrid(lam, ratio)
    k = renormalized_ridge(s, 150, L.ravel(), features=150 * R.ravel())
    for idx in (0, 4321, 9999):
        assert k[idx] == pytest.approx(_brute_kappa(s, 150, 150 * R.ravel()[idx], L.ravel()[idx]),
                                       rel=1e-9)  # fmt: skip
    assert torch.tensor(k).isfinite().all()


def test_docstring_examples_run():
    import doctest

    import lmech.theory.ridge as pkg
    from lmech.theory.ridge import correlated, eigenframework, linear

    for module in (pkg, linear, eigenframework, correlated):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_docs_examples_run(capsys):
    """docs/ridge.md: its python blocks run; the printed curves are what the text says."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "ridge.md").read_text()
    blocks = re.findall(r"```python\n(.*?)\n```", text, re.S)
    assert len(blocks) == 2
    for code in blocks:
        exec(compile(code, "docs/ridge.md", "exec"), {})
    out = capsys.readouterr().out
    assert "tuned test_error vs N" in out and "CorrGCV" in out
    assert "[0.296 0.301]" in out and "[0.173 0.182]" in out and "[0.261 0.264]" in out
