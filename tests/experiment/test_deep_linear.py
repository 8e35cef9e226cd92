"""The deep linear trainer against independent computations: autograd and depth 1."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lmech.errors import InputError
from lmech.experiment.deep_linear import train_deep_linear
from lmech.experiment.dmft import train_linear_online


@pytest.mark.parametrize("param", ["mup", "ntk"])
@pytest.mark.parametrize("batch", [None, 40])
def test_depth_one_reproduces_train_linear_online(param, batch):
    kw = dict(seeds=3, steps=12, lr=0.05, gamma=1.3, parameterization=param, batch=batch,
              log_every=3, seed=4)  # fmt: skip
    a = train_linear_online(30, [20, 45], **kw)
    b = train_deep_linear(30, [20, 45], depth=1, **kw)
    assert list(a.columns) == list(b.columns)
    assert (
        a[["width", "seed", "step"]].to_numpy() == b[["width", "seed", "step"]].to_numpy()
    ).all()
    assert np.allclose(a.test_loss, b.test_loss, rtol=1e-11, atol=0)
    assert b.test_loss.iloc[-1] < 0.8 * b.test_loss.iloc[0]


def _autograd_run(W1, Ws, w, bs, *, g, lr, residual, steps, X=None):
    """Plain autograd gradient descent on (1/2) mean (f - f_0 - y)^2, one network."""
    W1, w = W1.clone().requires_grad_(), w.clone().requires_grad_()
    Ws = [W.clone().requires_grad_() for W in Ws]
    N, D = W1.shape
    L = len(Ws) + 1
    c = 1 / math.sqrt(N * L) if residual else 1 / math.sqrt(N)

    def f(x):  # x (n, D) -> (n,)
        h = x @ W1.T
        for W in Ws:
            h = h + c * h @ W.T if residual else c * h @ W.T
        return h @ w / (g * N)

    eye = torch.eye(D, dtype=torch.float64)
    f0 = f(eye).detach()  # b_0
    eta = lr * g * g * N
    out = []
    for k in range(steps + 1):
        e = bs - (f(eye) - f0)
        out.append((e @ e).item())
        if k == steps:
            break
        if X is None:
            loss = 0.5 * (e @ e)  # population loss (isotropic inputs)
        else:
            xb = X[k]
            loss = 0.5 * ((xb @ (f(eye) - f0) - xb @ bs) ** 2).mean()
        grads = torch.autograd.grad(loss, [W1, *Ws, w])
        with torch.no_grad():
            for p, gr in zip([W1, *Ws, w], grads, strict=True):
                p -= eta * gr
    return np.array(out)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("batch", [None, 7, "repeat"])
def test_gradients_match_autograd(residual, batch):
    # independent: torch autograd of the network written as a function, same draws
    from lmech.seeding import torch_generator

    D, N, L, E, T, g, lr, seed = 9, 11, 3, 2, 6, 0.9, 0.04, 5
    P = 5  # repeated data: P points reused every step
    rep = batch == "repeat"
    run = train_deep_linear(D, [N], depth=L, seeds=E, steps=T, lr=lr, gamma=g,
                            residual=residual, batch=None if rep else batch,
                            num_train=P if rep else None, seed=seed)  # fmt: skip
    gen = torch_generator(seed, "dmft-linear", N, D)
    W1 = torch.randn(E, N, D, generator=gen, dtype=torch.float64)
    w = torch.randn(E, N, 1, generator=gen, dtype=torch.float64)
    bs = torch.randn(E, D, 1, generator=gen, dtype=torch.float64)
    bs = bs / bs.norm(dim=1, keepdim=True)
    genh = torch_generator(seed, "deep-linear-hidden", N, D, L)
    Ws = [torch.randn(E, N, N, generator=genh, dtype=torch.float64) for _ in range(L - 1)]
    X = None
    if rep:
        gtr = torch_generator(seed, "deep-linear-train-set", D, P)
        X = torch.randn(E, P, D, generator=gtr, dtype=torch.float64)[None].expand(T, -1, -1, -1)
        assert "train_loss" in run.columns
    elif batch is not None:
        gx = torch_generator(seed, "dmft-linear-batches", D)
        X = torch.stack([torch.randn(E, batch, D, generator=gx, dtype=torch.float64)
                         for _ in range(T)])  # fmt: skip
    for s in range(E):
        ref = _autograd_run(W1[s], [W[s] for W in Ws], w[s, :, 0], bs[s, :, 0], g=g, lr=lr,
                            residual=residual, steps=T,
                            X=None if X is None else X[:, s])  # fmt: skip
        got = run[run.seed == s].sort_values("step").test_loss.to_numpy()
        assert np.allclose(got, ref, rtol=1e-10, atol=1e-14)
    assert got[-1] < got[0]  # it learns


def test_bad_input():
    for kw in (dict(depth=0), dict(depth=2.0), dict(parameterization="sp"), dict(lr=0.0),
               dict(gamma=0.0), dict(batch=0), dict(residual=1), dict(seeds=0),
               dict(steps=-1), dict(num_train=0), dict(num_train=8, batch=8)):  # fmt: skip
        args = {**dict(depth=2, seeds=2, steps=3, lr=0.1), **kw}
        with pytest.raises(InputError):
            train_deep_linear(8, [8], **args)
    with pytest.raises(InputError, match="widths"):
        train_deep_linear(8, [], depth=2, seeds=2, steps=3, lr=0.1)
    with pytest.raises(InputError, match="memory"):
        train_deep_linear(8, [10**6], depth=3, seeds=64, steps=3, lr=0.1)


def test_spectrum_gradients_match_autograd():
    # population loss (1/2) e^T Sigma e: the same autograd reference with Sigma inserted
    from lmech.seeding import torch_generator

    D, N, L, T, g, lr, seed = 6, 8, 2, 5, 1.1, 0.05, 2
    lam = torch.linspace(2.0, 0.2, D, dtype=torch.float64)
    beta = torch.linspace(0.5, 1.5, D, dtype=torch.float64)
    run = train_deep_linear(D, [N], depth=L, seeds=1, steps=T, lr=lr, gamma=g,
                            spectrum=lam.numpy(), target_power=beta.numpy(), seed=seed)  # fmt: skip
    gen = torch_generator(seed, "dmft-linear", N, D)
    W1 = torch.randn(1, N, D, generator=gen, dtype=torch.float64)[0].requires_grad_()
    w = torch.randn(1, N, 1, generator=gen, dtype=torch.float64)[0, :, 0].requires_grad_()
    bs = torch.randn(1, D, 1, generator=gen, dtype=torch.float64)[0, :, 0] * (beta / D).sqrt()
    genh = torch_generator(seed, "deep-linear-hidden", N, D, L)
    W2 = torch.randn(1, N, N, generator=genh, dtype=torch.float64)[0].requires_grad_()

    def b_of():
        return W1.T @ (W2.T @ w / math.sqrt(N)) / (g * N)

    b0 = b_of().detach()
    ref = []
    for k in range(T + 1):
        e = bs - (b_of() - b0)
        loss = e @ (lam * e)
        ref.append(loss.item())
        if k < T:
            grads = torch.autograd.grad(0.5 * loss, [W1, W2, w])
            with torch.no_grad():
                for p, gr in zip([W1, W2, w], grads, strict=True):
                    p -= lr * g * g * N * gr
    assert np.allclose(run.sort_values("step").test_loss, ref, rtol=1e-10, atol=1e-14)
    with pytest.raises(InputError, match="spectrum"):
        train_deep_linear(D, [N], depth=L, seeds=1, steps=T, lr=lr, spectrum=lam.numpy(),
                          batch=4)  # fmt: skip
    with pytest.raises(InputError, match="spectrum"):
        train_deep_linear(D, [N], depth=L, seeds=1, steps=T, lr=lr, spectrum=-lam.numpy())
