"""The DMFT experiment engine: the NTK read off the parameters equals the engine's kernel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmech.experiment.dmft import (
    _deep_ntk_from_params,
    _deriv,
    _ntk_from_params,
    regression_task,
    train_mean_field,
    train_two_layer,
)
from lmech.experiment.ensemble import Ensemble
from lmech.nn.models import MLPSpec
from lmech.nn.param import Parameterization


def test_ntk_from_params_matches_autograd_kernel():
    # independent: sum_p lr_p J_p J_p^T from autograd, in units of the base lr (DMFT clock)
    X, _, _ = regression_task(6, 0, 4, 0)
    Xt = torch.as_tensor(X)
    N, g = 32, 0.5
    ens = Ensemble.from_spec(MLPSpec(4, N, depth=1, activation="tanh", bias=False),
                             Parameterization("mean-field", richness=g), [1], dtype="float64")  # fmt: skip
    m = ens.member(0)
    params = dict(m.named_parameters())
    J = []
    for i in range(6):
        gr = torch.autograd.grad(m(Xt[i : i + 1]).sum(), list(params.values()))
        J.append(gr)
    fac = {"input.weight": g * g * N / 4, "output.weight": g * g * N}
    K = torch.zeros(6, 6, dtype=torch.float64)
    for k, name in enumerate(params):
        Jm = torch.stack([j[k].reshape(-1) for j in J])
        K += fac[name] * Jm @ Jm.T
    mine = _ntk_from_params(ens.params, Xt, "tanh", _deriv("tanh"))[0]
    assert torch.allclose(mine, K, rtol=1e-10, atol=1e-12)


def test_train_two_layer_tables():
    X, y, yt = regression_task(8, 4, 4, 0)
    h, p = train_two_layer(X, y, yt, widths=[16, 32], seeds=2, gamma0=1.0, lr=0.2, steps=4,
                           log_every=2, predictions=True)  # fmt: skip
    assert len(h) == 2 * 2 * 3 and np.isfinite(h.to_numpy(float)).all()
    assert np.allclose(h[h.step == 0].train_loss, (y**2).mean())  # centred: f(0) = 0
    assert len(p) == 2 * 2 * 12
    assert np.allclose(h["t"], 0.4 * h["step"])


def test_linear_online_steps_are_autograd_gradient_descent():
    # independent: the same draws, trained by torch autograd on (1/2)|b - b_0 - b_*|^2
    from lmech.experiment.dmft import train_linear_online
    from lmech.seeding import torch_generator

    D, N, E, lr, g, T = 12, 20, 3, 0.05, 0.7, 6
    meas = train_linear_online(D, [N], seeds=E, steps=T, lr=lr, gamma=g, seed=5)
    gen = torch_generator(5, "dmft-linear", N, D)
    W = torch.randn(E, N, D, generator=gen, dtype=torch.float64).requires_grad_()
    w = torch.randn(E, N, 1, generator=gen, dtype=torch.float64).requires_grad_()
    bs = torch.randn(E, D, 1, generator=gen, dtype=torch.float64)
    bs = bs / bs.norm(dim=1, keepdim=True)
    b0 = (W.transpose(1, 2) @ w / (g * N)).detach()
    ref = []
    for k in range(T + 1):
        e = bs - (W.transpose(1, 2) @ w / (g * N) - b0)
        per = (e * e).sum((1, 2))
        ref.append(per.detach().numpy().copy())
        if k == T:
            break
        gW, gw = torch.autograd.grad(0.5 * per.sum(), [W, w])
        with torch.no_grad():
            W -= lr * g * g * N * gW
            w -= lr * g * g * N * gw
    got = meas.pivot(index="step", columns="seed", values="test_loss").to_numpy()
    assert np.allclose(got, np.array(ref), rtol=1e-11, atol=0)
    assert np.allclose(meas[meas.step == 0].test_loss, 1.0)  # centred: e(0) = b_*


def test_empirical_ntk_is_the_autograd_kernel():
    # independent: J J^T of f(x) = (1/sqrt(N)) sum_i a_i relu(w_i . x / sqrt(D)) by autograd
    from lmech.experiment.dmft import empirical_ntk

    g = torch.Generator().manual_seed(0)
    N, D, P = 16, 5, 7
    W = torch.randn(N, D, generator=g, dtype=torch.float64, requires_grad=True)
    a = torch.randn(N, generator=g, dtype=torch.float64, requires_grad=True)
    X = torch.randn(P, D, generator=g, dtype=torch.float64)
    J = []
    for i in range(P):
        f = (a * torch.relu(W @ X[i] / D**0.5)).sum() / N**0.5
        gw, ga = torch.autograd.grad(f, [W, a])
        J.append(torch.cat([gw.reshape(-1), ga]))
    J = torch.stack(J)
    K = empirical_ntk(W.detach(), a.detach(), X, "relu")
    assert torch.allclose(K, J @ J.T, rtol=1e-12, atol=1e-14)


def test_kernel_learning_curve_is_a_ridge_solve():
    from lmech.experiment.dmft import kernel_learning_curve

    g = np.random.default_rng(0)
    Z = g.standard_normal((30, 4))
    K = Z @ Z.T + 0.1 * np.eye(30)
    y = g.standard_normal(30)
    out = kernel_learning_curve(K, y, [5, 12], 20, ridge=1e-3)
    for P, e in zip([5, 12], out, strict=True):
        lam = 1e-3 * np.trace(K[:P, :P]) / P
        f = K[20:, :P] @ np.linalg.solve(K[:P, :P] + lam * np.eye(P), y[:P])
        assert abs(e - ((f - y[20:]) ** 2).mean()) < 1e-12


def test_trained_lazy_network_converges_to_its_kernel_regression():
    # the experiment of variance-limited-onset reads a converged lazy network as kernel
    # regression with its own initial NTK; check on the engine: gamma_0 = 0.005, width 256,
    # 6 points, trained to a train loss < 1e-6; the residual gap is O(gamma_0)
    X, y, yt = regression_task(6, 4, 4, 1)
    N, g0, lr, steps = 256, 0.005, 0.5, 3000
    hist, pred = train_two_layer(X, y, yt, widths=[N], seeds=1, gamma0=g0, lr=lr, steps=steps,
                                 log_every=steps, alignment=False, predictions=True)  # fmt: skip
    assert hist[hist.step == steps].train_loss.iloc[0] < 1e-6
    from lmech.seeding import derive_seed

    spec = MLPSpec(4, N, depth=1, activation="relu", bias=False)
    ens = Ensemble.from_spec(spec, Parameterization("mean-field", "sgd", richness=g0),
                             [derive_seed(0, "dmft-net", N, 0)], dtype="float64")  # fmt: skip
    Xt = torch.as_tensor(X)
    K = _ntk_from_params(ens.params, Xt, "relu", _deriv("relu"))[0].numpy()
    f_kr = K[6:, :6] @ np.linalg.solve(K[:6, :6], y)
    f_net = pred[pred.point >= 6].f.to_numpy()
    assert np.abs(f_net - f_kr).max() < 0.02 * np.abs(f_kr).max()


def test_linear_online_minibatch_step_is_autograd_sgd():
    # independent: explicit minibatches from the same stream, autograd on
    # (1/(2B)) sum_i (f(x_i) - f_0(x_i) - y_i)^2
    from lmech.experiment.dmft import train_linear_online
    from lmech.seeding import torch_generator

    D, N, E, B, lr, g, T = 10, 14, 2, 5, 0.05, 0.9, 4
    meas = train_linear_online(D, [N], seeds=E, steps=T, lr=lr, gamma=g, batch=B, seed=3)
    gen = torch_generator(3, "dmft-linear", N, D)
    gx = torch_generator(3, "dmft-linear-batches", D)
    W = torch.randn(E, N, D, generator=gen, dtype=torch.float64).requires_grad_()
    w = torch.randn(E, N, 1, generator=gen, dtype=torch.float64).requires_grad_()
    bs = torch.randn(E, D, 1, generator=gen, dtype=torch.float64)
    bs = bs / bs.norm(dim=1, keepdim=True)
    W0, w0 = W.detach().clone(), w.detach().clone()
    ref = []
    for k in range(T + 1):
        b = W.transpose(1, 2) @ w / (g * N)
        e = bs - (b - W0.transpose(1, 2) @ w0 / (g * N))
        ref.append((e * e).sum((1, 2)).detach().numpy().copy())
        if k == T:
            break
        X = torch.randn(E, B, D, generator=gx, dtype=torch.float64)
        f = (X @ (W.transpose(1, 2) @ w) - X @ (W0.transpose(1, 2) @ w0)) / (g * N)
        loss = 0.5 * ((f - X @ bs) ** 2).sum() / B
        gW, gw = torch.autograd.grad(loss, [W, w])
        with torch.no_grad():
            W -= lr * g * g * N * gW
            w -= lr * g * g * N * gw
    got = meas.pivot(index="step", columns="seed", values="test_loss").to_numpy()
    assert np.allclose(got, np.array(ref), rtol=1e-11, atol=0)


@pytest.mark.parametrize("depth", [2, 3])
def test_deep_ntk_from_params_matches_autograd_kernel(depth):
    # independent: sum_p lr_p J_p J_p^T from autograd with the DMFT clock's lr factors
    # (input gamma^2 N / D, hidden gamma^2, output gamma^2 N), after a few training steps
    X, y, _ = regression_task(6, 0, 4, 0)
    Xt = torch.as_tensor(X)
    N, g = 24, 0.7
    spec = MLPSpec(4, N, depth=depth, activation="tanh", bias=False)
    ens = Ensemble.from_spec(spec, Parameterization("mean-field", richness=g), [1],
                             dtype="float64")  # fmt: skip
    m = ens.member(0)
    params = dict(m.named_parameters())
    J = [torch.autograd.grad(m(Xt[i : i + 1]).sum(), list(params.values())) for i in range(6)]
    K = torch.zeros(6, 6, dtype=torch.float64)
    for k, name in enumerate(params):
        fac = g * g * (N / 4 if name == "input.weight" else 1.0 if "hidden" in name else N)
        Jm = torch.stack([j[k].reshape(-1) for j in J])
        K += fac * Jm @ Jm.T
    mine = _deep_ntk_from_params(ens.params, Xt, "tanh", _deriv("tanh"), depth)[0]
    assert torch.allclose(mine, K, rtol=1e-10, atol=1e-12)


def test_train_mean_field_depth_one_is_train_two_layer():
    X, y, yt = regression_task(8, 4, 4, 0)
    kw = dict(widths=[16], seeds=2, gamma0=1.0, lr=0.2, steps=4, log_every=2)
    a, _ = train_two_layer(X, y, yt, **kw)
    b, _ = train_mean_field(X, y, yt, depth=1, **kw)
    c, _ = train_mean_field(X, y, yt, depth=2, activation="tanh", **kw)
    assert a.equals(b)
    assert len(c) == len(a) and np.isfinite(c.to_numpy(float)).all()
    assert np.allclose(c[c.step == 0].train_loss, (y**2).mean())  # centred


@pytest.mark.parametrize("depth,act", [(1, "relu"), (2, "relu"), (3, "tanh")])
def test_feature_kernel_columns_are_the_models_features(depth, act):
    # independent: the built member module's named pre-activations (model.features), not
    # the parameter chain; at step 0 the members are the engine's initial draws
    from lmech.experiment.dmft import feature_kernel_columns
    from lmech.seeding import derive_seed

    X, y, yt = regression_task(5, 3, 4, 0)
    N, g0 = 24, 1.0
    kw = dict(widths=[N], seeds=2, gamma0=g0, lr=0.2, steps=3, log_every=1, activation=act,
              depth=depth, seed=7)  # fmt: skip
    h, _ = train_mean_field(X, y, yt, feature_kernels=True, **kw)
    base, _ = train_mean_field(X, y, yt, **kw)
    cols = feature_kernel_columns(depth, 5)
    assert len(cols) == depth * 15
    assert h[base.columns].equals(base)  # the option only adds columns
    keys = ("dmft-net", N) if depth == 1 else ("dmft-deep-net", depth, N)
    spec = MLPSpec(4, N, depth=depth, activation=act, bias=False)
    p = Parameterization("mean-field", "sgd", richness=g0)
    ens = Ensemble.from_spec(spec, p, [derive_seed(7, *keys, k) for k in range(2)],
                             dtype="float64")  # fmt: skip
    Xt = torch.as_tensor(X[:5])
    phi = {"relu": torch.relu, "tanh": torch.tanh}[act]
    iu = np.triu_indices(5)
    for e in range(2):
        feats = ens.member(e).features(Xt)
        pre = [feats["input"]] + [feats[f"hidden.{i}"] for i in range(depth - 1)]
        want = np.concatenate([(phi(a) @ phi(a).T / N).detach().numpy()[iu] for a in pre])
        got = h[(h.step == 0) & (h.seed == e)][cols].to_numpy()[0]
        assert np.allclose(got, want, rtol=1e-10, atol=1e-12)
    # training moves them (the columns are logged per step, not copied)
    first = h[(h.step == 0) & (h.seed == 0)][cols].to_numpy()
    last = h[(h.step == 3) & (h.seed == 0)][cols].to_numpy()
    assert np.abs(last - first).max() > 1e-4
