"""The deep linear DMFT against independent computations.

Independent references: the exact Marchenko-Pastur quadrature closure at depth 1 (a
different method: polynomials of the Wishart matrix instead of Gaussian fields), the
trace of (I - lr K)^{2t} for a sampled lazy NTK K at small gamma, and the seed mean of
real deep linear networks (torch, float64) at D = 256-384.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmech.experiment.deep_linear import train_deep_linear
from lmech.theory.dmft import dmft_deep_linear


@pytest.mark.parametrize(
    "nu, gamma, lr, param, beta",
    [(1.5, 1.5, 0.03, "mup", None), (0.7, 1.3, 0.05, "mup", None), (2.0, 1.0, 0.02, "ntk", None),
     (2.0, 1.0, 0.02, "mup", 0.25), (0.5, 0.7, 0.04, "mup", 1.0), (3.0, 1.0, 0.02, "ntk", 0.5)],
)  # fmt: skip
def test_depth_one_dmft_is_the_exact_closure(nu, gamma, lr, param, beta):
    # two different exact solutions of the same D -> infinity limit: round-off agreement
    kw = dict(steps=40, lr=lr, gamma=gamma, parameterization=param, batch_ratio=beta)
    quad = dmft_deep_linear(nu, **kw)
    dm = dmft_deep_linear(nu, solver="dmft", **kw)
    assert dm.iterations > 1 and dm.fixed_point_residual <= 1e-11
    assert np.abs(dm.test_loss - quad.test_loss).max() <= 1e-12
    assert np.abs(dm.readout_norm - quad.readout_norm).max() <= 1e-11
    assert quad.test_loss[-1] < 0.5  # a curve that moved, not a trivial agreement


def _lazy_ntk(D, N, L, residual, seed):
    """gamma^2 N sum_theta J_theta J_theta^T in b space at init (b = M^T w / (gamma N))."""
    g = np.random.default_rng(seed)
    W1 = g.standard_normal((N, D))
    Ws = [g.standard_normal((N, N)) for _ in range(L - 1)]
    w = g.standard_normal(N)
    c = 1 / math.sqrt(N * L) if residual else 1 / math.sqrt(N)
    A = [np.eye(N) + c * W if residual else c * W for W in Ws]  # A_2 .. A_L
    Q = [W1.T]  # Q_l = W_1^T A_2^T .. A_l^T (D x N), l = 1..L
    for Al in A:
        Q.append(Q[-1] @ Al.T)
    v = [w]  # v_L, then v_{L-1}, .. v_1
    for Al in reversed(A):
        v.append(Al.T @ v[-1])
    v = v[::-1]  # v[l - 1] = v_l
    K = Q[-1] @ Q[-1].T / N + (v[0] @ v[0] / N) * np.eye(D)  # readout w, input W_1
    for k in range(2, L + 1):  # hidden W_k: (c^2 N)(|v_k|^2 / N) Q_{k-1} Q_{k-1}^T / N
        K += (c * c * N) * (v[k - 1] @ v[k - 1] / N) * Q[k - 2] @ Q[k - 2].T / N
    return K


@pytest.mark.parametrize("L, residual", [(2, False), (3, False), (3, True)])
def test_small_gamma_is_the_sampled_lazy_ntk_descent(L, residual):
    # independent: at gamma -> 0 the loss is (1/D) tr (I - lr K)^{2t} with K the NTK at
    # init; scalars like |w|^2 / N make each sampled curve fluctuate by O(N^{-1/2}), so
    # the reference is the mean over 16 samples at D = 300 (4 SE of that mean); gamma =
    # 0.01 leaves an O(gamma^2) = 1e-4 rich correction
    D, nu, lr, T, S = 300, 1.2, 0.02, 20, 16
    t = np.arange(T + 1)[:, None]
    refs = []
    for s in range(S):
        ev = np.linalg.eigvalsh(_lazy_ntk(D, int(nu * D), L, residual, seed=100 * L + s))
        refs.append(((1 - lr * ev)[None, :] ** (2 * t)).mean(1))
    refs = np.array(refs)
    ref, se = refs.mean(0), refs.std(0, ddof=1) / math.sqrt(S)
    th = dmft_deep_linear(nu, steps=T, lr=lr, gamma=0.01, depth=L, residual=residual)
    assert np.all(np.abs(th.test_loss - ref)[1:] <= 4 * se[1:])
    assert np.abs(th.test_loss / ref - 1).max() < 0.05
    assert ref[-1] < 0.6  # the curve moved


@pytest.mark.parametrize(
    "D, nu, lr, L, residual, param, gamma, B",
    [(384, 2.0, 0.02, 2, False, "mup", 1.5, None), (512, 0.5, 0.03, 3, False, "mup", 1.0, None),
     (384, 1.0, 0.02, 3, True, "ntk", 1.0, None), (256, 1.0, 0.02, 2, False, "mup", 1.0, 64),
     (256, 1.0, 0.02, 3, True, "mup", 2.0, 128)],
)  # fmt: skip
def test_theory_matches_deep_linear_networks(D, nu, lr, L, residual, param, gamma, B):
    # independent: 24 real networks; 4 SE at 4 logged steps (|z| measured <= 2.4 at
    # these settings, the largest where the positive O(1/N) width bias is 1-2 SE: at
    # nu = 0.5, depth 3 it falls from z = 2.3 at D = 384 to |z| < 1 at D = 768)
    T = 40
    meas = train_deep_linear(D, [int(nu * D)], depth=L, seeds=24, steps=T, lr=lr, gamma=gamma,
                             parameterization=param, residual=residual, batch=B,
                             log_every=10)  # fmt: skip
    th = dmft_deep_linear(nu, steps=T, lr=lr, gamma=gamma, parameterization=param, depth=L,
                          residual=residual,
                          batch_ratio=None if B is None else B / D).test_loss  # fmt: skip
    m = meas[meas.step > 0].groupby("step")["test_loss"].agg(["mean", "sem"])
    z = (m["mean"] - th[m.index]) / m["sem"]
    assert np.abs(z).max() < 4.0
    assert th[-1] < 0.2  # learned


def test_depth_changes_the_curve_and_residual_depth_has_a_limit():
    # the theory tells depth apart (not a depth-1 curve in disguise), and with 1/sqrt(L)
    # branches the curves converge as L grows (Bordelon & Pehlevan 2025, Sec. 4)
    kw = dict(steps=30, lr=0.02, gamma=1.0)
    l1 = dmft_deep_linear(1.0, **kw).test_loss
    l2 = dmft_deep_linear(1.0, depth=2, **kw).test_loss
    assert np.abs(l2 - l1).max() > 0.05
    r = [dmft_deep_linear(1.0, depth=L, residual=True, **kw).test_loss for L in (2, 4, 8)]
    d1, d2 = np.abs(r[1] - r[0]).max(), np.abs(r[2] - r[1]).max()
    assert d2 < 0.6 * d1


@pytest.mark.parametrize(
    "L, residual, alpha, lr, gamma",
    [(1, False, 0.5, 0.05, 1.0), (1, False, 2.0, 0.05, 1.0), (2, False, 1.0, 0.03, 1.0),
     (3, True, 0.75, 0.03, 1.5)],
)  # fmt: skip
def test_repeated_data_matches_networks(L, residual, alpha, lr, gamma):
    # independent: 16 networks at D = 256, nu = 1 trained by full-batch GD on P = alpha D
    # points reused every step; test and train loss within 4 SE at 4 logged steps
    # (measured |z| <= 1.6)
    D, T = 256, 40
    meas = train_deep_linear(D, [D], depth=L, seeds=16, steps=T, lr=lr, gamma=gamma,
                             residual=residual, num_train=int(alpha * D),
                             log_every=10)  # fmt: skip
    th = dmft_deep_linear(1.0, steps=T, lr=lr, gamma=gamma, depth=L, residual=residual,
                          data_ratio=alpha)  # fmt: skip
    m = meas[meas.step > 0].groupby("step")
    for col, curve in (("test_loss", th.test_loss), ("train_loss", th.train_loss)):
        agg = m[col].agg(["mean", "sem"])
        assert np.abs((agg["mean"] - curve[agg.index]) / agg["sem"]).max() < 4.0
    # the gap the repeated data opens (train below test) is resolved, not a null
    assert th.test_loss[-1] > 3 * th.train_loss[-1]


def test_repeated_data_tends_to_the_population_dynamics():
    # alpha -> infinity: the sample covariance tends to I; the gap closes as O(1/alpha)
    kw = dict(steps=30, lr=0.03, gamma=1.0, depth=2)
    pop = dmft_deep_linear(1.0, **kw).test_loss
    gaps = [np.abs(dmft_deep_linear(1.0, data_ratio=a, **kw).test_loss - pop).max()
            for a in (10.0, 100.0)]  # fmt: skip
    assert 0.07 < gaps[1] / gaps[0] < 0.13  # 10x alpha: 10x smaller (measured 0.099)


def test_flat_spectrum_is_the_isotropic_closure():
    # a spectrum of ones with unit target power is isotropic data: the exact quadrature
    kw = dict(steps=30, lr=0.04, gamma=1.2)
    quad = dmft_deep_linear(1.5, **kw).test_loss
    flat = dmft_deep_linear(1.5, spectrum=np.ones(7), **kw).test_loss
    assert np.abs(flat - quad).max() <= 1e-12


@pytest.mark.parametrize(
    "L, residual, a, b, lr, gamma",
    [(1, False, 1.2, 0.0, 0.3, 1.0), (2, False, 1.2, 0.5, 0.2, 1.0), (3, True, 1.5, 0.3, 0.2, 1.5)],
)  # fmt: skip
def test_power_law_spectrum_matches_networks(L, residual, a, b, lr, gamma):
    # independent: 16 networks at D = 256, nu = 1 on inputs with covariance eigenvalues
    # k^-a and target power k^-b (one group per input direction); 4 SE at 4 logged
    # steps (measured |z| <= 0.7)
    D, T = 256, 40
    k = np.arange(1, D + 1)
    lam, beta = k**-a, k**-b
    meas = train_deep_linear(D, [D], depth=L, seeds=16, steps=T, lr=lr, gamma=gamma,
                             residual=residual, spectrum=lam, target_power=beta,
                             log_every=10)  # fmt: skip
    th = dmft_deep_linear(1.0, steps=T, lr=lr, gamma=gamma, depth=L, residual=residual,
                          spectrum=lam, target_power=beta).test_loss  # fmt: skip
    m = meas[meas.step > 0].groupby("step")["test_loss"].agg(["mean", "sem"])
    assert np.abs((m["mean"] - th[m.index]) / m["sem"]).max() < 4.0
    assert th[-1] < 0.5 * th[0]


@pytest.mark.parametrize("L, residual", [(2, False), (3, True)])
def test_wider_is_better_under_mup_at_depth(L, residual):
    # the paper's headline claim, on the theory: at every step the loss falls with nu
    curves = [dmft_deep_linear(nu, steps=30, lr=0.02, depth=L, residual=residual).test_loss
              for nu in (0.5, 1.0, 2.0, 4.0)]  # fmt: skip
    assert (np.diff(np.array(curves)[:, 1:], axis=0) < 0).all()
