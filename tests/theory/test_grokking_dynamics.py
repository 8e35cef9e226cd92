"""lmech.theory.grokking_dynamics against closed forms, brute-force solves and Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from lmech.theory.grokking_dynamics import (
    crossing_time,
    lazy_rich_population,
    linear_accuracies,
    linear_losses,
    mp_edges,
    mp_integral,
    mp_quantiles,
    quadratic_population_loss,
    reduced_network_loss,
    reduced_network_step,
)


@pytest.mark.parametrize("ratio", [0.3, 0.7, 2.0])
def test_mp_moments_closed_form(ratio):
    # MP moments (unit variance): 1, 1 + r, 1 + 3r + r^2 (Narayana polynomials); the atom at
    # 0 for r > 1 contributes nothing to them, and the total mass is 1
    m = mp_integral(ratio, lambda x: np.stack([np.ones_like(x), x, x**2, x**3], 1))
    np.testing.assert_allclose(m, [1, 1, 1 + ratio, 1 + 3 * ratio + ratio**2], rtol=1e-10)


def test_mp_integral_matches_wishart_diagonalization():
    # brute force: eigenvalues of X^T X / N for d = 800, N = 1600, f(x) = exp(-2x)
    g = np.random.default_rng(1)
    X = g.standard_normal((1600, 800))
    lam = np.linalg.eigvalsh(X.T @ X / 1600)
    exact = float(mp_integral(0.5, lambda x: np.exp(-2 * x)))
    assert abs(np.mean(np.exp(-2 * lam)) - exact) / exact < 0.01  # O(1/d) finite-size


def test_mp_quantiles_are_classical_locations():
    q = mp_quantiles(0.5, 4000)
    lo, hi = mp_edges(0.5)
    assert lo < q.min() and q.max() < hi
    # the quantiles integrate moments to O(1/n): mean 1, second moment 1 + r
    assert abs(q.mean() - 1) < 1e-3 and abs((q**2).mean() - 1.5) < 2e-3

    # and the CDF at the k-th quantile, integrated independently, is (k - 1/2) / n
    def density(x):
        return np.sqrt(max((hi - x) * (x - lo), 0.0)) / (2 * math.pi * 0.5 * x)

    for k in (100, 2000, 3900):
        F = integrate.quad(density, lo, q[k], limit=200)[0]
        assert abs(F - (k + 0.5) / 4000) < 1e-4


def test_gd_iterate_is_the_spectral_formula():
    # D_t = D_0 (I - eta Sigma)^t exactly, and the losses are the spectral sums
    g = np.random.default_rng(2)
    d, do, N, lr, t = 30, 7, 60, 0.2, 25
    X = g.standard_normal((N, d))
    T, S = g.standard_normal((do, d)), g.standard_normal((do, d))
    sig = X.T @ X / N
    D0 = S - T
    for _ in range(t):
        S = S - lr * (S - T) @ sig
    lam, V = np.linalg.eigh(sig)
    Dt = D0 @ V @ np.diag((1 - lr * lam) ** t) @ V.T
    np.testing.assert_allclose(S - T, Dt, atol=1e-12)


def test_expected_losses_over_init_are_spectral_sums():
    # Monte Carlo over D_0 (fixed data): E[train] = s^2/d sum lam p^2, E[test] = s^2/d sum p^2
    g = np.random.default_rng(3)
    d, do, N, lr, t, s2 = 40, 20, 80, 0.25, 10, 2.0
    X = g.standard_normal((N, d))
    lam, V = np.linalg.eigh(X.T @ X / N)
    p2 = (1 - lr * lam) ** (2 * t)
    tr_mc, te_mc = [], []
    for _ in range(400):
        D0 = g.standard_normal((do, d)) * math.sqrt(s2 / d)
        Dt = D0 @ V @ np.diag((1 - lr * lam) ** t) @ V.T
        tr_mc.append(np.mean((X @ Dt.T) ** 2) * 1.0)
        te_mc.append(np.sum(Dt**2) / do)  # exact population loss E_x |D x|^2 / d_out
    for mc, exact in ((tr_mc, s2 / d * np.sum(lam * p2)), (te_mc, s2 / d * np.sum(p2))):
        se = np.std(mc) / math.sqrt(len(mc))
        assert abs(np.mean(mc) - exact) < 4 * se


def test_linear_losses_are_the_large_d_limit():
    # spectral sums of one d = 1000 Wishart sample approach the MP integrals
    g = np.random.default_rng(4)
    X = g.standard_normal((2000, 1000))
    lam = np.linalg.eigvalsh(X.T @ X / 2000)
    steps = np.array([0, 5, 20])
    tr, te = linear_losses(0.5, 0.3, steps, 1.0)
    for i, t in enumerate(steps):
        p2 = (1 - 0.3 * lam) ** (2 * t)
        assert abs(np.mean(p2) - te[i]) / te[i] < 0.02
        assert abs(np.mean(lam * p2) - tr[i]) / tr[i] < 0.02
    np.testing.assert_allclose([tr[0], te[0]], [1.0, 1.0], rtol=1e-12)  # first moment, mass


def test_crossing_time_solves_the_loss_equation():
    for kind, idx in (("train", 0), ("test", 1)):
        t = crossing_time(0.5, 0.25, 2.0, 0.01, kind)
        assert abs(linear_losses(0.5, 0.25, [t], 2.0)[idx][0] / 0.01 - 1) < 1e-7
    assert crossing_time(0.5, 0.25, 2.0, 0.01, "test") > crossing_time(
        0.5, 0.25, 2.0, 0.01, "train"
    )
    # the delay grows as the ratio approaches 1
    delays = [crossing_time(r, 0.25, 2.0, 0.01) - crossing_time(r, 0.25, 2.0, 0.01, "train")
              for r in (0.3, 0.5, 0.7)]  # fmt: skip
    assert delays[0] < delays[1] < delays[2]


def test_linear_accuracies_at_start_closed_form():
    # t = 0: every weight is 1, l = (s^2/d) chi^2_d chi^2_{d_out} / d_out, so the accuracy is
    # int F_{chi^2_d}(eps d d_out / (s^2 v)) f_{chi^2_{d_out}}(v) dv (train: weights lambda_k)
    d, do, s2, eps = 8, 3, 2.0, 1.5
    _, ate = linear_accuracies(0.5, 0.25, [0], s2, d, do, eps, samples=40000)
    exact = integrate.quad(lambda v: stats.chi2.cdf(eps * d * do / (s2 * v), d) * stats.chi2.pdf(v, do),
                           0, np.inf)[0]  # fmt: skip
    assert abs(ate[0] - exact) < 4 * math.sqrt(exact * (1 - exact) / 40000)


def test_linear_accuracies_against_the_model_simulated():
    # the reduction l(x) = (s^2/d) |P x|^2 chi^2_{d_out} / d_out, checked by simulating the
    # model itself: D_0 with i.i.d. N(0, s^2/d) entries, Sigma with the MP-quantile spectrum
    # (its eigenbasis is irrelevant for x ~ N(0, I)), test points x, l = |D_0 P x|^2 / d_out
    d, do, s2, lr, ratio, eps, t = 12, 4, 2.0, 0.25, 0.5, 0.2, 3
    lam = mp_quantiles(ratio, d)
    p = (1 - lr * lam) ** t
    _, ate = linear_accuracies(ratio, lr, [t], s2, d, do, eps, samples=40000)
    g = np.random.default_rng(8)
    hits = []
    for _ in range(200):
        D0 = g.standard_normal((do, d)) * math.sqrt(s2 / d)
        z = g.standard_normal((200, d))
        hits.append(np.mean((((z * p) @ D0.T) ** 2).mean(1) < eps))
    sim = float(np.mean(hits))
    se = math.sqrt(np.var(hits) / len(hits) + ate[0] * (1 - ate[0]) / 40000)
    assert abs(ate[0] - sim) < 4 * se, (ate[0], sim)


def test_quadratic_population_loss_monte_carlo():
    g = np.random.default_rng(5)
    D = 6
    du = g.standard_normal(D)
    E = g.standard_normal((D, D))
    E = (E + E.T) / 2
    x = g.standard_normal((400000, D)) / math.sqrt(D)
    v = 0.5 * (x @ du + np.einsum("pi,ij,pj->p", x, E, x)) ** 2
    assert abs(v.mean() - quadratic_population_loss(du, E)) < 4 * v.std() / math.sqrt(len(v))


def test_reduced_step_equals_network_gd():
    # the N-neuron network trained by autograd GD vs the (m, C) recursion, 30 steps
    g = np.random.default_rng(6)
    D, P, N, alpha, eps, lr_scale = 5, 40, 17, 3.0, 0.3, 1.0
    X = g.standard_normal((P, D)) / math.sqrt(D)
    y = (X @ g.standard_normal(D)) ** 2 / 2
    W = torch.tensor(g.standard_normal((N, D)), requires_grad=True)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    lr = lr_scale * N / alpha**2
    m, C = W.detach().numpy().mean(0), W.detach().numpy().T @ W.detach().numpy() / N
    for _ in range(30):
        z = Xt @ W.T
        r = (alpha / N) * (z + 0.5 * eps * z * z).sum(1) - yt
        (grad,) = torch.autograd.grad(0.5 * (r * r).mean(), W)
        with torch.no_grad():
            W -= lr * grad
        rr, _ = reduced_network_loss(m, C, X, y, alpha, eps)
        np.testing.assert_allclose(rr, r.detach().numpy(), atol=1e-10)
        m, C = reduced_network_step(m, C, X, rr, alpha, eps, lr * alpha / N)
    Wn = W.detach().numpy()
    np.testing.assert_allclose(m, Wn.mean(0), atol=1e-10)
    np.testing.assert_allclose(C, Wn.T @ Wn / N, atol=1e-10)


def test_population_gradient_formula_monte_carlo():
    # E[(x^T M x) x x^T] = (2 M + tr(M) I) / D^2 for x ~ N(0, I / D), used by the map
    g = np.random.default_rng(7)
    D = 4
    M = g.standard_normal((D, D))
    M = (M + M.T) / 2
    x = g.standard_normal((400000, D)) / math.sqrt(D)
    q = np.einsum("pi,ij,pj->p", x, M, x)
    samples = x[:, :, None] * x[:, None, :] * q[:, None, None]
    mc, se = samples.mean(0), samples.std(0) / math.sqrt(len(x))
    assert np.all(np.abs(mc - (2 * M + np.trace(M) * np.eye(D)) / D**2) < 4.5 * se)


def test_population_map_equals_matrix_gd():
    # the scalar (gamma, delta) map against D x D GD with the population gradient
    D, alpha, eps, lr_scale = 12, 2.0, 0.05, 3.0
    b2 = float(D)
    t_map, L0 = lazy_rich_population(alpha, eps, D, lr_scale, b2)
    beta = np.zeros(D)
    beta[0] = math.sqrt(b2)
    a_star = np.outer(beta, beta) / 2
    C, h = np.eye(D), lr_scale / alpha
    for t in range(10**6):
        E = alpha * eps / 2 * (C - np.eye(D)) - a_star
        L = quadratic_population_loss(np.zeros(D), E)
        if t == 0:
            assert abs(L - L0) < 1e-12
        if L <= L0 / 2:
            break
        G = (2 * E + np.trace(E) * np.eye(D)) / D**2
        A = np.eye(D) - h * eps * G
        C = A @ C @ A.T
    assert t == t_map
    # a lazier start (larger alpha) generalizes later, with log-log slope below 1
    ts = [lazy_rich_population(a, 0.02, 20, 5.0, 20.0)[0] for a in (1.0, 16.0)]
    slope = math.log(ts[1] / ts[0]) / math.log(16)
    assert 0.6 < slope < 1 - 1 / math.log(20 / (16 * 0.02)) + 0.05
