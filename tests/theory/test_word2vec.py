"""lmech.theory.word2vec against independent computations: Taylor expansion of the SGNS
loss, Eckart-Young by brute force, the ODE solved numerically, Kronecker spectra."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from lmech.data.text import attribute_statistics, cyclic_statistics
from lmech.theory import word2vec as th


def _random_stats(V=9, seed=0):
    g = np.random.default_rng(seed)
    A = g.random((V, V)) + 0.1
    P = (A + A.T) / (A + A.T).sum()
    return P, P.sum(axis=1)


def _sgns_loss(S, P, Pi, psi):
    neg = psi * np.outer(Pi, Pi)
    return float((P * np.logaddexp(0, -S) + neg * np.logaddexp(0, S)).sum())


def test_qwem_is_the_second_order_expansion_of_twice_sgns():
    """2 L_SGNS(s) - L_QWEM(s) is constant up to O(s^4): the difference of the two
    differences at scales eps and eps/2 shrinks 16-fold."""
    P, Pi = _random_stats()
    psi = 1.7
    G, M = th.qwem_weights(P, Pi, psi), th.qwem_target(P, Pi, psi)
    D = np.random.default_rng(1).standard_normal(P.shape)
    D = (D + D.T) / 2

    def gap(eps):
        S = eps * D
        qwem = 0.25 * (G * (S - M) ** 2).sum()
        return 2 * _sgns_loss(S, P, Pi, psi) - qwem

    c0 = gap(0.0)
    r1, r2 = gap(0.1) - c0, gap(0.05) - c0
    assert abs(r1) < 1e-3 and r1 / r2 == pytest.approx(16.0, rel=0.05)


def test_mstar_is_the_pade_approximant_of_log_x():
    x = np.array([0.5, 0.9, 1.0, 1.1, 2.0])
    P = np.diag(x) / 10.0
    Pi = np.full(5, 1.0)
    M = th.qwem_target(P * 0 + np.diag(np.diag(P)), Pi, psi=0.1)
    np.testing.assert_allclose(np.diag(M), 2 * (x - 1) / (x + 1), rtol=1e-12)
    # agrees with log x to third order at x = 1
    assert abs(2 * (1.01 - 1) / 2.01 - np.log(1.01)) < 1e-6


def test_qwem_solution_is_the_eckart_young_minimizer():
    g = np.random.default_rng(2)
    A = g.standard_normal((12, 12))
    M = A @ A.T
    d = 3
    W, lam = th.qwem_solution(M, d)
    full = np.linalg.eigvalsh(M)
    np.testing.assert_allclose(lam, np.sort(full)[::-1][:d], rtol=1e-12)
    err = np.linalg.norm(W @ W.T - M) ** 2
    assert err == pytest.approx((full**2).sum() - (lam**2).sum(), rel=1e-10)
    # no random rank-d W does better (a local check of the minimum)
    for _ in range(50):
        Wp = W + 1e-3 * g.standard_normal(W.shape)
        assert np.linalg.norm(Wp @ Wp.T - M) ** 2 >= err - 1e-9


def test_mode_trajectory_solves_the_mode_ode():
    lam, u0, kappa = np.array([3.0, 1.0]), 1e-4, 0.7
    t = np.linspace(0, 20, 41)
    sol = solve_ivp(
        lambda _, u: kappa * u * (lam - u), (0, 20), [u0, u0], t_eval=t, rtol=1e-10, atol=1e-14
    )
    np.testing.assert_allclose(
        th.mode_trajectory(lam, u0, t, kappa), sol.y.T, rtol=1e-6, atol=1e-12
    )
    tau = th.switch_on_time(lam, u0, kappa, 0.5)
    np.testing.assert_allclose(
        th.mode_trajectory(lam, u0, tau[:1], kappa)[0, 0], lam[0] / 2, rtol=1e-10
    )
    np.testing.assert_allclose(
        th.mode_trajectory(lam, u0, tau[1:], kappa)[0, 1], lam[1] / 2, rtol=1e-10
    )


def test_attribute_model_spectrum_is_a_kronecker_product():
    p = np.array([0.9, 0.8, 0.7])
    _, P, Pi, _ = attribute_statistics(p)
    M = th.ratio_matrix(P, Pi)
    per = [np.array([2.0, 2 * (2 * q - 1) ** 2]) for q in p]
    expected = np.sort(np.array([a * b * c for a in per[0] for b in per[1] for c in per[2]]))
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(M)), expected, rtol=1e-10)
    # log M is a sum over attributes: rank K + 1
    L = th.log_ratio_matrix(P, Pi, floor=0)
    ev = np.linalg.eigvalsh(L)
    assert np.sum(np.abs(ev) > 1e-9 * np.abs(ev).max()) == len(p) + 1


def test_circulant_month_block_has_fourier_eigenvectors():
    words, P, Pi = cyclic_statistics(n_context=6, n_filler=5)
    B = th.log_ratio_matrix(P, Pi)[:12, :12]
    lam, U = np.linalg.eigh(B)
    m = np.arange(12)
    # the frequency-1 Fourier pair is an exact eigenspace of the circulant block
    F = np.stack([np.cos(2 * np.pi * m / 12), np.sin(2 * np.pi * m / 12)], axis=1)
    R = B @ F
    coef = np.linalg.lstsq(F, R, rcond=None)[0]
    np.testing.assert_allclose(F @ coef, R, atol=1e-10)
    assert coef[0, 0] == pytest.approx(coef[1, 1], rel=1e-10)


def test_principal_cosines():
    A = np.eye(5)[:, :2]
    B = np.stack([np.eye(5)[:, 0], (np.eye(5)[:, 1] + np.eye(5)[:, 2]) / np.sqrt(2)], axis=1)
    np.testing.assert_allclose(th.principal_cosines(A, B), [1.0, 1 / np.sqrt(2)], atol=1e-12)
