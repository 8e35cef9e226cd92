"""lmech.theory.icl against independent computations: limits, Monte Carlo, random matrices."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lmech.experiment.icl import sample_contexts, sample_tasks
from lmech.seeding import rng, torch_generator
from lmech.theory import icl


def test_large_alpha_tau_limit_values():
    # Lu et al. Result 1 at alpha = tau = 1e4, rho = 0.01: the kappa = 1 kink
    got = icl.icl_error(1e4, [0.25, 0.5, 0.9, 1.1, 2.0], 1e4, 0.01)
    np.testing.assert_allclose(got, [0.7675, 0.5150, 0.1111, 0.0101, 0.0101], atol=6e-5)
    # independent: the limit is rho + max(0, 1 - kappa) (only the pool's span is learned)
    np.testing.assert_allclose(
        got, 0.01 + np.maximum(0, 1 - np.array([0.25, 0.5, 0.9, 1.1, 2])), atol=8e-3
    )
    np.testing.assert_allclose(icl.idg_error(1e4, [0.25, 2.0], 1e4, 0.01), 0.01, atol=2e-3)


def test_double_descent_values_alpha_10_kappa_inf():
    taus = [0.2, 0.5, 0.85, 0.95, 1.05, 1.15, 1.5, 2, 5, 20]
    ref = [0.854, 0.658, 0.814, 2.08, 2.14, 0.780, 0.305, 0.203, 0.127, 0.107]
    np.testing.assert_allclose(icl.icl_error(10, np.inf, taus, 0.01), ref, rtol=3e-3)
    assert math.isinf(icl.icl_error(10, np.inf, 1.0, 0.01))


def test_infinite_tau_kappa_is_optimal_one_step_estimator():
    # independent derivation: yhat = c x.(d/ell) sum y_i x_i, error 1 + rho - 2c + c^2 (1 + x)
    # minimized at c = 1/(1 + x), x = (1 + rho)/alpha
    for a, r in [(1.0, 0.1), (4.0, 0.5), (10.0, 0.01)]:
        x = (1 + r) / a
        assert icl.icl_error(a, np.inf, 1e7, r) == pytest.approx(r + x / (1 + x), rel=1e-5)


def test_mp_resolvent_matches_wishart_eigenvalues_and_derivative():
    d, kappa, x = 1000, 0.7, 0.3
    w = rng(0, "mp").standard_normal((round(kappa * d), d))
    ev = np.linalg.eigvalsh(w.T @ w / len(w))
    assert icl.mp_resolvent(x, kappa) == pytest.approx(np.mean(1 / (ev + x)), rel=1e-2)
    h = 1e-5
    fd = (icl.mp_resolvent(x + h, kappa) - icl.mp_resolvent(x - h, kappa)) / (2 * h)
    assert icl.mp_resolvent_derivative(x, kappa) == pytest.approx(fd, rel=1e-7)


def test_ridge_to_zero_reproduces_ridgeless_both_sides_of_threshold():
    taus = np.array([0.3, 0.7, 0.9, 1.15, 1.5, 3.0])
    for kappa in (0.5, 2.0, np.inf):
        a = icl.icl_error(10, kappa, taus, 0.01, 1e-9)
        b = icl.icl_error(10, kappa, taus, 0.01)
        np.testing.assert_allclose(a, b, rtol=1e-5)
    # the spurious branch of a "smallest positive root" gives 0.654 here (ridgeless 2.775)
    assert icl.icl_error(10, 0.5, 1.15, 0.01, 1e-8) == pytest.approx(2.7748, rel=1e-4)


def test_alignment_formula_reduces_to_result_one_for_identity():
    d = 50
    for p in [(2, 2, 2, 0.1), (2, 2, 0.5, 0.1), (4, 1.5, 3, 0.25), (1, 0.5, 0.3, 0.01)]:
        got = icl.aligned_icl_error(np.ones(d), np.ones(d), *p)
        assert got == pytest.approx(icl.icl_error(*p), rel=1e-6)


def test_deterministic_zeta_matches_sample_resolvent():
    d, kappa, nu = 400, 0.6, 0.2
    lam = 1 / np.arange(1, d + 1)
    lam *= d / lam.sum()
    w = rng(1, "zeta").standard_normal((round(kappa * d), d)) * np.sqrt(lam)
    C_hat = w.T @ w / len(w)
    sample = np.trace(np.linalg.inv(C_hat + nu * np.eye(d))) / d
    zeta = icl.deterministic_zeta(lam, kappa, nu)
    assert np.mean(1 / (zeta * lam + nu)) == pytest.approx(sample, rel=2e-2)
    # identity covariance: the closed form M_kappa
    z1 = icl.deterministic_zeta(np.ones(d), 0.2, 0.3)
    assert 1 / (z1 + 0.3) == pytest.approx(float(icl.mp_resolvent(0.3, 0.2)), rel=1e-10)


def test_alignment_top_spike_tradeoff():
    # more task diversity hurts a test aligned with the top pretraining direction
    # (C_train ~ diag(1/i), trace d, d = 400, alpha = tau = 2, rho = 0.01; Letey et al.)
    d = 400
    lam = 1 / np.arange(1, d + 1)
    lam *= d / lam.sum()
    spike = np.zeros(d)
    spike[0] = d
    e = [icl.aligned_icl_error(lam, spike, 2, k, 2, 0.01) for k in (0.1, 1.0, 16.0)]
    iso = [icl.aligned_icl_error(lam, np.ones(d), 2, k, 2, 0.01) for k in (0.1, 1.0, 16.0)]
    assert e[0] < e[1] < e[2] and iso[0] > iso[1] > iso[2]
    np.testing.assert_allclose(e, [0.196, 0.243, 0.259], atol=1e-3)
    # the alignment measure orders the tests: isotropic test power is less aligned
    iso_a = icl.alignment_measure(lam, np.ones(d), 2, 1, 2, 0.01)
    assert iso_a > icl.alignment_measure(lam, lam, 2, 1, 2, 0.01)


def _mc_error(gamma, alpha, rho, tasks, seed):
    d = gamma.shape[0]
    h, xq, yq = sample_contexts(tasks, round(alpha * d), rho, torch_generator(seed, "mc"))
    pred = torch.einsum("ni,ij,nj->n", xq, torch.as_tensor(gamma), h)
    err = (yq - pred) ** 2
    return float(err.mean()), float(err.std() / math.sqrt(len(err)))


def test_gamma_error_matches_monte_carlo_sphere_and_gaussian():
    d, alpha, rho = 6, 2.0, 0.2
    g = 0.3 * rng(2, "gamma").standard_normal((d, d + 1)) + np.hstack(
        [np.eye(d) / 2, np.zeros((d, 1))]
    )
    tasks = sample_tasks(100_000, d, torch_generator(0, "tasks"))
    mc, se = _mc_error(g, alpha, rho, tasks, 0)
    assert abs(icl.gamma_error(g, alpha, rho) - mc) < 4 * se
    C = np.diag(np.linspace(0.3, 2.0, d))
    tasks = sample_tasks(100_000, d, torch_generator(0, "gt"), sphere=False, covariance=C)
    mc, se = _mc_error(g, alpha, rho, tasks, 1)
    assert abs(icl.gamma_error_gaussian(g, alpha, rho, C) - mc) < 4 * se
    # IDG form: a pool of 3 tasks
    pool = sample_tasks(3, d, torch_generator(0, "pool"))
    idx = torch.randint(3, (100_000,), generator=torch_generator(0, "idx"))
    mc, se = _mc_error(g, alpha, rho, pool[idx], 2)
    P = pool.numpy()
    exact = icl.gamma_error(g, alpha, rho, task_mean=P.mean(0), task_second_moment=P.T @ P / 3)
    assert abs(exact - mc) < 4 * se


def test_deep_iso_integral_matches_wishart_and_bayes_bound():
    D, alpha, s2 = 600, 2.0, 0.1
    X = rng(3, "wishart").standard_normal((round(alpha * D), D))
    ev = np.linalg.eigvalsh(X.T @ X / len(X))
    for gamma, L in [(0.8, 1), (1.5, 4)]:
        p = (1 - gamma * ev / L) ** L
        direct = s2 + np.mean(p * p) + s2 / alpha * np.mean((1 - p) ** 2 / ev)
        assert icl.deep_iso_error(gamma, L, alpha, s2) == pytest.approx(direct, rel=1e-2)
    bayes = icl.bayes_iso_error(alpha, s2)
    opt = [icl.deep_iso_optimal(L, alpha, s2)[1] for L in (1, 2, 8, 64)]
    assert all(b > a for a, b in zip(opt[1:], opt[:-1], strict=True))  # depth helps
    assert opt[-1] >= bayes and opt[-1] == pytest.approx(bayes, rel=3e-2)


def test_rrs_depth_exponent_matches_long_spectrum():
    nu = 2.0
    lam = np.arange(1, 200_001, dtype=float) ** -nu
    e = [icl.rrs_error(L, lam) for L in (16, 32, 64, 128)]
    slope = np.polyfit(np.log([16, 32, 64, 128]), np.log(e), 1)[0]
    assert -slope == pytest.approx(icl.rrs_depth_exponent(nu), abs=0.05)


def test_icl_curve_table():
    t = icl.icl_curve(2.0, [0.5, 2.0], 2.0, 0.1)
    np.testing.assert_allclose(t["task_gap"], t["icl_error"] - t["idg_error"])
    r = icl.icl_curve(2.0, 2.0, 2.0, 0.1, ridge=[0.0, 1.0])
    np.testing.assert_allclose(r["idg_error"], icl.idg_error(2.0, 2.0, 2.0, 0.1, [0.0, 1.0]))


def test_ridge_idg_reduces_to_result_one_on_both_sides_of_threshold():
    # the ridge IDG formula is derived here; lambda -> 0 must give Result 1's closed forms
    pts = [(2, 2, 2, 0.1), (2, 2, 0.5, 0.1), (4, 1.5, 3, 0.25), (1, 0.5, 0.3, 0.01)]
    pts += [(10, 0.5, 0.7, 0.01), (10, 4, 0.2, 0.01), (2, 0.3, 5, 0.1)]
    a, k, t, r = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
    np.testing.assert_allclose(
        icl.idg_error(a, k, t, r, 1e-9), icl.idg_error(a, k, t, r), rtol=1e-7
    )
    # a ridge helps in distribution here and the error stays above the noise floor
    ridged = icl.idg_error(a, k, t, r, 1.0)
    assert np.all(ridged > r) and np.all(np.isfinite(ridged))


def test_ridge_idg_matches_extrapolated_simulation():
    # independent: exact IDG errors of ridge Gamma fitted to simulated contexts, 1/d fit
    from lmech.laws.icl import _common

    # (tau < 1 is checked with more draws in the idg_error docstring's numbers)
    pts = [(2.0, 2.0, 2.0, 0.1), (2.0, 0.5, 3.0, 0.1)]
    sim = _common.simulate(pts, (16, 24, 32), (12, 6, 3), (1.0,), 7, "cpu")
    for p, (a, k, t, r) in enumerate(pts):
        e_inf, se = _common.extrapolate(sim[sim["point"] == p], "idg_error")
        theory = icl.idg_error(a, k, t, r, 1.0)
        assert abs(e_inf - theory) < 4 * se and abs(e_inf - theory) < 0.06 * theory
        # the test can tell the formula from its neighbours: ridgeless IDG, ridge ICL
        for other in (icl.idg_error(a, k, t, r), icl.icl_error(a, k, t, r, 1.0)):
            assert abs(other - theory) > 4 * se


def test_optimal_gamma_matches_ridge_fit_on_many_contexts():
    # independent: ridge regression on 60000 simulated contexts from a symmetric pool
    from lmech.experiment.icl import fit_gamma, symmetric_pool

    d, alpha, rho = 4, 2.0, 0.1
    pool = symmetric_pool(6, d, torch_generator(0, "pool"))
    P = pool.numpy()
    mu, R = P.mean(0), P.T @ P / len(P)
    best = icl.optimal_gamma(d, alpha, rho, task_mean=mu, task_second_moment=R)
    fit = fit_gamma(pool, d, 60_000, round(alpha * d), rho, 1e-9, torch_generator(1, "fit"))
    assert np.linalg.norm(fit - best) / np.linalg.norm(best) < 0.03
    e_best = icl.gamma_error(best, alpha, rho, task_mean=mu, task_second_moment=R)
    e_fit = icl.gamma_error(fit, alpha, rho, task_mean=mu, task_second_moment=R)
    assert e_best <= e_fit < e_best * 1.002


def test_deep_fs_whitened_error_matches_explicit_gd_monte_carlo():
    # independent: L explicit preconditioned GD steps with Gamma = gamma Sigma^-1 on
    # tokens x ~ N(0, Sigma), task w = beta / sqrt(D), loss (w - w_hat)^T Sigma (...) + s2
    D, alpha, L, s2, gamma, m = 60, 2.0, 4, 0.1, 1.5, 300
    lam = np.linspace(0.2, 3.0, D)
    lam *= 1.3 * D / lam.sum()  # tr Sigma / D = 1.3: the signal power enters
    P = round(alpha * D)
    g = rng(4, "fs")
    losses = []
    for _ in range(m):
        X = g.standard_normal((P, D)) * np.sqrt(lam)
        w = g.standard_normal(D) / np.sqrt(D)
        y = X @ w + np.sqrt(s2) * g.standard_normal(P)
        wh = np.zeros(D)
        for _ in range(L):
            wh = wh + (gamma / L) * (X.T @ (y - X @ wh) / P) / lam
        r = w - wh
        losses.append(r @ (lam * r) + s2)
    mc, se = np.mean(losses), np.std(losses) / np.sqrt(m)
    theory = icl.deep_fs_error(gamma, L, alpha, s2, lam)
    # O(1/D) finite-size bias (about 2-4% at D = 40-60 in the ISO table) plus 3 SE
    assert abs(mc - theory) < 3 * se + 0.04 * theory
    # the signal power matters: the ISO error (power 1) is off by more than that
    assert abs(icl.deep_iso_error(gamma, L, alpha, s2) - theory) > 3 * se + 0.04 * theory


def test_fs_one_layer_error_matches_token_monte_carlo():
    # independent: contexts drawn token by token, loss exact over the query
    D, alpha, s2, m = 6, 2.0, 0.2, 40_000
    lam = np.linspace(0.3, 2.5, D)
    P = round(alpha * D)
    gam = 0.2 * rng(5, "fsg").standard_normal((D, D)) + 0.5 * np.diag(1 / lam)
    g = torch_generator(0, "fs-mc")
    X = torch.randn(m, P, D, generator=g, dtype=torch.float64) * torch.tensor(lam).sqrt()
    w = torch.randn(m, D, generator=g, dtype=torch.float64) / math.sqrt(D)
    y = torch.einsum("mpd,md->mp", X, w) + math.sqrt(s2) * torch.randn(
        m, P, generator=g, dtype=torch.float64
    )
    r = w - torch.einsum("ij,mpj,mp->mi", torch.tensor(gam), X, y) / P
    loss = (r * r * torch.tensor(lam)).sum(1) + s2
    mc, se = float(loss.mean()), float(loss.std() / math.sqrt(m))
    assert abs(icl.fs_one_layer_error(gam, lam, alpha, s2) - mc) < 4 * se
    # ISO at large P is the one-layer deep_iso_error (independent MP integral)
    big = icl.fs_one_layer_error(0.7 * np.eye(400), np.ones(400), 2.0, 0.1)
    assert big == pytest.approx(icl.deep_iso_error(0.7, 1, 2.0, 0.1), rel=2e-3)


def test_fs_gradient_flow_matches_integrated_flow_of_the_loss():
    # independent: Euler-integrate dGamma/dT = -D grad E with the gradient of
    # fs_one_layer_error by central differences (exact for a quadratic), off-diagonals kept
    D, alpha, s2 = 3, 2.0, 0.1
    lam = np.array([2.0, 0.7, 0.3])
    gam = np.zeros((D, D))
    dt, T_end, h = 2e-4, 0.3, 1e-4
    out = {}
    for n in range(1, round(T_end / dt) + 1):
        grad = np.zeros((D, D))
        for i in range(D):
            for j in range(D):
                e = np.zeros((D, D))
                e[i, j] = h
                grad[i, j] = (
                    icl.fs_one_layer_error(gam + e, lam, alpha, s2)
                    - icl.fs_one_layer_error(gam - e, lam, alpha, s2)
                ) / (2 * h)
        gam = gam - dt * D * grad
        if n in (250, 750, 1500):
            out[n * dt] = icl.fs_one_layer_error(gam, lam, alpha, s2)
    T = np.array(sorted(out))
    np.testing.assert_allclose(
        icl.fs_gradient_flow_error(T, lam, alpha, s2), [out[t] for t in T], rtol=2e-3
    )
    # the long-time limit is the unconstrained optimum
    assert icl.fs_gradient_flow_error(1e6, lam, alpha, s2) == pytest.approx(
        icl.fs_rank_optimum(D, lam, alpha, s2), rel=1e-10
    )


def test_fs_rank_optimum_matches_brute_force_low_rank_fit():
    # independent: minimize the exact loss over Gamma = A B^T numerically (BFGS, restarts)
    from scipy.optimize import minimize

    D, alpha, s2 = 5, 3.0, 0.1
    lam = np.array([3.0, 1.2, 0.5, 0.2, 0.1])
    for N in (1, 3):

        def f(v, N=N):
            A, B = v[: D * N].reshape(D, N), v[D * N :].reshape(D, N)
            return icl.fs_one_layer_error(A @ B.T, lam, alpha, s2)

        best = min(
            minimize(f, rng(6, "rank", N, s).standard_normal(2 * D * N), method="BFGS").fun
            for s in range(2)
        )
        assert icl.fs_rank_optimum(N, lam, alpha, s2) == pytest.approx(best, rel=1e-6)
    # ISO closed form: sigma^2 + 1 - (N/D)/m, linear in N
    P = round(alpha * 10)
    mm = 1 + 1 / P + (10 + s2 * 10) / P
    assert icl.fs_rank_optimum(4, np.ones(10), alpha, s2) == pytest.approx(
        s2 + 1 - 0.4 / mm, rel=1e-12
    )


def test_fs_time_and_width_exponents_on_a_long_spectrum():
    nu = 2.0
    lam = np.arange(1, 200_001, dtype=float) ** -nu
    floor = icl.fs_rank_optimum(len(lam), lam, 1e12, 0.0)
    N = np.array([16, 32, 64, 128])
    ew = [icl.fs_rank_optimum(int(n), lam, 1e12, 0.0) - floor for n in N]
    assert -np.polyfit(np.log(N), np.log(ew), 1)[0] == pytest.approx(
        icl.fs_width_exponent(nu), abs=0.02
    )
    T = np.logspace(4, 8, 5)
    et = icl.fs_gradient_flow_error(T, lam, 1e12, 0.0) - floor
    assert -np.polyfit(np.log(T), np.log(et), 1)[0] == pytest.approx(
        icl.fs_time_exponent(nu), abs=0.02
    )


def test_deep_iso_gradient_flow_matches_closed_form_and_scipy_ode():
    from scipy.integrate import solve_ivp

    # L = 1: E(gamma) = 1 + s2 - 2 gamma + c gamma^2, c = 1 + (1 + s2)/alpha, so
    # gamma(T) = (1 - exp(-2 c T)) / c (independent closed form)
    alpha, s2 = 2.0, 0.1
    T = np.array([0.05, 0.3, 1.0, 3.0])
    c = 1 + (1 + s2) / alpha
    g, e = icl.deep_iso_gradient_flow(T, 1, alpha, s2)
    np.testing.assert_allclose(g, (1 - np.exp(-2 * c * T)) / c, rtol=1e-6)
    np.testing.assert_allclose(e, 1 + s2 - 2 * g + c * g * g, rtol=1e-6)
    # L = 4: scipy's ODE solver on the finite-difference derivative of deep_iso_error

    def rhs(_, y):
        h = 1e-6
        return [
            -(icl.deep_iso_error(y[0] + h, 4, 1.0, s2) - icl.deep_iso_error(y[0] - h, 4, 1.0, s2))
            / (2 * h)
        ]

    sol = solve_ivp(rhs, (0, 2.0), [0.0], t_eval=[0.5, 2.0], rtol=1e-9, atol=1e-12)
    g4, _ = icl.deep_iso_gradient_flow([0.5, 2.0], 4, 1.0, s2)
    np.testing.assert_allclose(g4, sol.y[0], rtol=1e-5)
