"""DMFT solvers against independent computations: network GD, Monte Carlo, closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmech.experiment.dmft import regression_task
from lmech.experiment.ensemble import Ensemble, train
from lmech.kernels.infinite import NTK
from lmech.nn.models import MLPSpec
from lmech.nn.param import Parameterization
from lmech.theory.dmft import (
    dmft_two_layer,
    kernel_alignment,
    lazy_kernel_flow,
    lazy_prediction_variance,
)
from lmech.theory.dmft._common import activation, pair_expectations


def _task(P=12, Pt=6, D=6, seed=0):
    X, y, yt = regression_task(P, Pt, D, seed)
    return X, X @ X.T / D, y, yt


@pytest.mark.parametrize("name", ["relu", "erf", "tanh", "identity"])
def test_pair_expectations_match_monte_carlo(name):
    # independent: 200k Gaussian samples; tolerance 5 standard errors
    X, Kx, _, _ = _task(P=4, Pt=1)
    e1, e2 = pair_expectations(activation(name), Kx)
    L = np.linalg.cholesky(Kx + 1e-12 * np.eye(len(Kx)))
    z = np.random.default_rng(1).standard_normal((200_000, len(Kx))) @ L.T
    a = activation(name)
    for e, g in ((e1, a.fn(z)), (e2, a.deriv(z))):
        prod = g[:, :, None] * g[:, None, :]
        se = prod.std(0) / np.sqrt(len(z))
        assert np.all(np.abs(prod.mean(0) - e) <= 5 * se + 1e-12)


@pytest.mark.parametrize("name", ["relu", "erf", "tanh"])
def test_lazy_kernel_is_lmech_ntk(name):
    # the DMFT's K(0) = E[phi phi] + E[phi' phi'] K^x from numpy closed forms (tanh:
    # 160-node Gauss-Hermite) equals the torch NTK recursion of lmech.kernels
    X, Kx, y, yt = _task()
    r = dmft_two_layer(Kx, y, t_grid=[0.0, 1.0], activation=name, gamma0=0.0, y_test=yt,
                       n_particles=2, progress_label=None)  # fmt: skip
    Xt = torch.as_tensor(X)
    K = NTK(depth=1, activation=name).block(Xt, Xt).numpy()
    assert np.abs(r.kernel[0] - K).max() <= 2e-6 * np.abs(K).max()


def test_lazy_flow_closed_form_matches_ode():
    # independent: scipy's adaptive ODE solver on df/dt = K (y - f)/P
    from scipy.integrate import solve_ivp

    _, Kx, y, _ = _task()
    K = Kx + 0.5 * np.eye(len(Kx))
    P = y.size
    t = np.linspace(0, 5, 6)
    sol = solve_ivp(lambda s, f: K[:, :P] @ (y - f[:P]) / P, (0, 5), np.zeros(len(K)),
                    t_eval=t, rtol=1e-11, atol=1e-12)  # fmt: skip
    F = lazy_kernel_flow(K, y, t)
    assert np.abs(F - sol.y.T).max() < 1e-8
    # descent: explicit recursion f <- f + dt K (y - f)/P
    dt, f = 0.25, np.zeros(len(K))
    out = [f.copy()]
    for _ in range(8):
        f = f + dt * K[:, :P] @ (y - f[:P]) / P
        out.append(f.copy())
    G = lazy_kernel_flow(K, y, dt * np.arange(9), dt=dt)
    assert np.abs(G - np.array(out)).max() < 1e-12


def test_particles_are_exactly_a_trained_network():
    # the Euler scheme with a network's own neurons reproduces that network's
    # gradient descent (engine, muP/mean-field, centred) to round-off
    X, Kx, y, yt = _task(P=10, Pt=4, D=5)
    N, lr, steps = 40, 0.3, 6
    spec = MLPSpec(5, N, depth=1, activation="tanh", bias=False)
    ens = Ensemble.from_spec(spec, Parameterization("mean-field", "sgd", richness=0.7), [2],
                             dtype="float64")  # fmt: skip
    fac = dict(ens.lr_factors)
    fac["input.weight"] /= 5
    ens = Ensemble(ens.template, ens.params, fac)
    Xt = torch.as_tensor(X)
    W = ens.params["input.weight"][0].clone()
    a = ens.params["output.weight"][0, 0].clone().numpy()
    h0 = (Xt @ W.T).numpy().T
    run = train(ens, Xt[:10], torch.as_tensor(y), lr=lr, steps=steps, center=True,
                log_steps=range(steps + 1), test=(Xt[10:], torch.as_tensor(yt)))  # fmt: skip
    r = dmft_two_layer(Kx, y, t_grid=2 * lr * np.arange(steps + 1), activation="tanh",
                       gamma0=0.7, y_test=yt, particles=(a, h0), scheme="euler",
                       control_variate=False, progress_label=None)  # fmt: skip
    np.testing.assert_allclose(r.train_loss, run.scalar("loss").to_numpy()[:, 0], rtol=1e-10)
    np.testing.assert_allclose(r.test_loss, run.scalar("loss", "test").to_numpy()[:, 0], rtol=1e-10)


def test_rk4_converges_and_matches_euler_limit():
    # flow (RK4) vs Euler: the Euler (gradient-descent) gap shrinks like dt (erf: smooth;
    # ReLU's kinks slow RK4 down, measured 2e-4 between 8 and 32 substeps)
    _, Kx, y, yt = _task()
    t = np.linspace(0, 4, 5)
    kw = dict(t_grid=t, gamma0=1.0, y_test=yt, n_particles=3000, progress_label=None,
              activation="erf")  # fmt: skip
    flow = dmft_two_layer(Kx, y, scheme="rk4", substeps=8, **kw).train_loss
    e1 = dmft_two_layer(Kx, y, scheme="euler", substeps=20, **kw).train_loss
    e2 = dmft_two_layer(Kx, y, scheme="euler", substeps=40, **kw).train_loss
    g1, g2 = np.abs(e1 - flow).max(), np.abs(e2 - flow).max()
    assert 1.6 < g1 / g2 < 2.4  # first order in dt


def test_rich_kernel_moves_as_gamma_squared_and_aligns():
    # the mean kernel change is even in a (first order averages out): O(gamma_0^2)
    _, Kx, y, yt = _task()
    t = np.linspace(0, 4, 3)
    kw = dict(t_grid=t, y_test=yt, n_particles=8000, progress_label=None, scheme="rk4", substeps=4)
    ch = []
    for g in (0.1, 0.2):
        r = dmft_two_layer(Kx, y, gamma0=g, activation="erf", **kw)
        ch.append(np.linalg.norm(r.kernel[-1] - r.kernel[0]))
    assert 3.3 < ch[1] / ch[0] < 4.7
    r = dmft_two_layer(Kx, y, gamma0=1.5, **kw)
    P = y.size
    assert (
        kernel_alignment(r.kernel[-1][:P, :P], y) > kernel_alignment(r.kernel[0][:P, :P], y) + 0.02
    )


def test_lazy_variance_matches_brute_force_finite_networks():
    # independent: 3000 draws of width-100 empirical NTKs, each trained by kernel descent
    _, Kx, y, yt = _task(P=8, Pt=3, D=4)
    N, dt, n = 100, 0.5, 10
    t = dt * np.arange(n + 1)
    lv = lazy_prediction_variance(Kx, y, t_grid=t, activation="relu", n_samples=40000,
                                  scheme="euler")  # fmt: skip
    g = np.random.default_rng(7)
    L = np.linalg.cholesky(Kx + 1e-12 * np.eye(len(Kx)))
    finals = []
    for _ in range(3000):
        h = g.standard_normal((N, len(Kx))) @ L.T
        a = g.standard_normal(N)
        ph, dph = np.maximum(h, 0), (h > 0).astype(float)
        K = (ph.T @ ph + ((a[:, None] * dph).T @ (a[:, None] * dph)) * Kx) / N
        finals.append(lazy_kernel_flow(K, y, t, dt=dt)[-1])
    var = np.array(finals).var(0, ddof=1)
    pred = lv.prefactor[-1] / N
    # 3000 draws: variance SE sqrt(2/3000) = 2.6%; plus O(1/N) = 1% higher-order terms
    assert np.all(np.abs(var / pred - 1) < 0.12)
    assert np.abs(lv.mean[-1] - lazy_kernel_flow(pair_ntk(Kx), y, t, dt=dt)[-1]).max() < 1e-12


def pair_ntk(Kx):
    e1, e2 = pair_expectations(activation("relu"), Kx)
    return e1 + e2 * Kx


def test_two_time_kernel_and_tolerance_guard():
    _, Kx, y, yt = _task()
    r = dmft_two_layer(Kx, y, t_grid=[0, 1, 2], gamma0=1.0, n_particles=4000, n_store=4000,
                       progress_label=None)  # fmt: skip
    # equal-time Phi from the stored particles equals the full estimate up to the
    # control-variate shift (same particles)
    d = r.feature_kernel_two_time(2, 2) - r.phi_kernel[2]
    d0 = r.feature_kernel_two_time(0, 0) - r.phi_kernel[0]
    assert np.abs(d - d0).max() < 1e-12
    assert r.kernel_stderr > 0 and r.n_steps == 2


def test_kernels_off_keeps_the_same_losses():
    _, Kx, y, yt = _task()
    kw = dict(t_grid=[0, 1, 2], gamma0=1.0, y_test=yt, n_particles=2000, progress_label=None,
              scheme="euler", substeps=3)  # fmt: skip
    on = dmft_two_layer(Kx, y, **kw)
    off = dmft_two_layer(Kx, y, kernels=False, **kw)
    np.testing.assert_array_equal(on.train_loss, off.train_loss)
    np.testing.assert_array_equal(on.test_loss, off.test_loss)
    assert np.isnan(off.alignment).all() and np.isfinite(on.alignment).all()
