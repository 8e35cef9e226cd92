"""The proportional-limit linear-network theory against independent computations.

Independent references: Narayana-number moments of the Marchenko-Pastur law, sampled
Wishart spectra, torch autograd gradient descent of real networks (finite D), and the
seed mean of networks at large D.
"""

from __future__ import annotations

from math import comb

import numpy as np
import pytest
import torch

from lmech.experiment.dmft import train_linear_online
from lmech.theory.dmft import dmft_deep_linear, lazy_linear_loss, marchenko_pastur_quadrature


def _narayana_moment(k: int, y: float) -> float:
    # E[lambda^k] of Marchenko-Pastur (ratio y, mean 1) = sum_j N(k, j) y^(j-1)
    return sum(comb(k, j) * comb(k, j - 1) / k * y ** (j - 1) for j in range(1, k + 1))


@pytest.mark.parametrize("y", [0.25, 1.0, 2.0, 4.0])
def test_quadrature_is_exact_on_narayana_moments(y):
    lam, w = marchenko_pastur_quadrature(y, 12)
    for k in range(0, 24):  # exact up to degree 2K - 1 = 23
        ref = 1.0 if k == 0 else _narayana_moment(k, y)
        assert abs((w * lam**k).sum() - ref) <= 1e-9 * ref


def test_quadrature_matches_a_sampled_wishart_spectrum():
    # W^T W / N for W (N x D): ratio y = D / N; a 1000 x 500 sample, tolerance from the
    # O(1/D) finite-size error of the moments (measured < 0.5%)
    g = np.random.default_rng(0)
    N, D = 500, 1000
    W = g.standard_normal((N, D))
    ev = np.linalg.eigvalsh(W.T @ W / N)
    lam, w = marchenko_pastur_quadrature(D / N, 30)
    for k in (1, 2, 3, 4):
        assert abs((ev**k).mean() / (w * lam**k).sum() - 1.0) < 0.02
    # the atom at 0 of mass 1 - N/D (a Gauss node sits on it; 30 nodes: within 1e-6)
    assert abs(w[lam < 1e-6].sum() - (1 - N / D)) < 1e-6
    assert abs((ev < 1e-8).mean() - (1 - N / D)) < 1e-3


def test_enough_nodes_make_the_solution_exact():
    # after T steps the vectors are polynomials of degree <= T: K = T + 2 and K = 3 T agree
    T = 30
    a = dmft_deep_linear(0.7, steps=T, lr=0.05, gamma=1.3, n_nodes=T + 2).test_loss
    b = dmft_deep_linear(0.7, steps=T, lr=0.05, gamma=1.3, n_nodes=3 * T).test_loss
    assert np.abs(a - b).max() <= 1e-12
    c = dmft_deep_linear(0.7, steps=T, lr=0.05, gamma=1.3, n_nodes=6).test_loss
    assert np.abs(a - c).max() > 1e-8  # too few nodes is not exact


def test_lazy_limit_is_the_closed_form():
    for nu in (0.5, 2.0):
        th = dmft_deep_linear(nu, steps=40, lr=0.1, gamma=0.0).test_loss
        assert np.abs(th - lazy_linear_loss(nu, 0.1, 40)).max() <= 1e-13


def test_lazy_closed_form_matches_a_sampled_wishart():
    # independent: b_*^T (I - lr (1 + S_0))^{2t} b_* averaged over b_* on the sphere is
    # tr(...)/D for one sampled S_0 = W^T W / N (D = 900, O(1/sqrt(D)) error)
    g = np.random.default_rng(1)
    N, D = 600, 900
    W = g.standard_normal((N, D))
    ev = np.linalg.eigvalsh(W.T @ W / N)
    t = np.arange(41)
    ref = ((1 - 0.1 * (1 + ev))[None, :] ** (2 * t[:, None])).mean(1)
    assert np.abs(lazy_linear_loss(N / D, 0.1, 40) / ref - 1).max() < 0.01


def _closed_map(W, w, bstar, g, lr, steps):
    """The (S, b, q) map of the theory's docstring, at finite D, numpy float64."""
    N, D = W.shape
    S = W.T @ W / N
    q = w @ w / N
    b0 = W.T @ w / (g * N)
    b = b0.copy()
    out = []
    for _ in range(steps + 1):
        e = bstar - (b - b0)
        out.append(e @ e)
        be = g * g * (b @ e)
        Se = S @ e
        b, S, q = (
            b + lr * (Se + q * e) + lr * lr * be * e,
            S + lr * g * g * (np.outer(e, b) + np.outer(b, e)) + lr * lr * g * g * q * np.outer(e, e),
            q + 2 * lr * be + lr * lr * g * g * (e @ Se),
        )  # fmt: skip
    return np.array(out)


def test_closure_is_exactly_gradient_descent_of_a_network():
    # independent: torch autograd on the parameters (W, w) of one network at finite D
    g = torch.Generator().manual_seed(3)
    N, D, gam, lr, T = 40, 30, 0.8, 0.05, 25
    W = torch.randn(N, D, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(N, generator=g, dtype=torch.float64, requires_grad=True)
    bs = torch.randn(D, generator=g, dtype=torch.float64)
    bs = bs / bs.norm()
    ref = _closed_map(W.detach().numpy().copy(), w.detach().numpy().copy(), bs.numpy(), gam,
                      lr, T)  # fmt: skip
    b0 = (W.T @ w / (gam * N)).detach()
    eta = lr * gam * gam * N
    losses = []
    for k in range(T + 1):
        e = bs - (W.T @ w / (gam * N) - b0)
        loss = e @ e
        losses.append(loss.item())
        if k == T:
            break
        gW, gw = torch.autograd.grad(0.5 * loss, [W, w])
        with torch.no_grad():
            W -= eta * gW
            w -= eta * gw
    assert np.allclose(losses, ref, rtol=1e-10, atol=1e-14)
    assert ref[-1] < 0.5 * ref[0]  # it learned something


@pytest.mark.parametrize("param", ["mup", "ntk"])
def test_theory_matches_wide_networks(param):
    # independent: 24 networks at D = 300, nu = 1.5 (N = 450); 5 standard errors at
    # 4 logged steps (per-seed relative spread measured 5-15%)
    D, nu, T = 300, 1.5, 40
    meas = train_linear_online(D, [int(nu * D)], seeds=24, steps=T, lr=0.03, gamma=1.5,
                               parameterization=param, log_every=10)  # fmt: skip
    th = dmft_deep_linear(nu, steps=T, lr=0.03, gamma=1.5, parameterization=param).test_loss
    m = meas[meas.step > 0].groupby("step")["test_loss"].agg(["mean", "sem"])
    z = (m["mean"] - th[m.index]) / m["sem"]
    assert np.abs(z).max() < 5.0
    assert np.abs(m["mean"] / th[m.index] - 1).max() < 0.1


def test_wider_is_better_under_mup_in_the_theory():
    # the claim of the law, on the theory alone: at each fixed step the loss falls with nu
    curves = [dmft_deep_linear(nu, steps=50, lr=0.02, gamma=1.0).test_loss
              for nu in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)]  # fmt: skip
    C = np.array(curves)[:, 1:]
    assert (np.diff(C, axis=0) < 0).all()


@pytest.mark.parametrize("beta", [0.25, 1.0])
def test_sgd_noise_matches_paired_minibatch_networks(beta):
    # independent: the same 16 initializations at D = 256, nu = 2 trained by one-pass SGD
    # with B = beta D explicit Gaussian minibatches and on the population loss; the
    # measured mean loss ratio vs the theory's (paired, so the seed offsets cancel);
    # tolerance 4 SE of the paired ratio (measured within 1-1.5 SE)
    D, nu, T, lr = 256, 2.0, 40, 0.02
    kw = dict(seeds=16, steps=T, lr=lr, gamma=1.0, log_every=20, seed=2)
    sgd = train_linear_online(D, [int(nu * D)], batch=int(beta * D), **kw)
    full = train_linear_online(D, [int(nu * D)], **kw)
    r = (sgd.test_loss / full.test_loss).to_numpy().reshape(-1, 16)[1:]  # steps 20, 40
    th = dmft_deep_linear(nu, steps=T, lr=lr, batch_ratio=beta).test_loss
    th0 = dmft_deep_linear(nu, steps=T, lr=lr).test_loss
    want = (th / th0)[[20, 40]]
    se = r.std(1, ddof=1) / 4
    assert np.all(np.abs(r.mean(1) - want) <= 4 * se)
    assert want[-1] > 1 + 8 * se[-1] or beta == 1.0  # at beta = 1/4 the noise is resolved
