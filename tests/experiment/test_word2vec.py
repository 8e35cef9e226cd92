"""lmech.experiment.word2vec: gradients against torch autograd, GD against the closed-form
mode dynamics, seeding."""

import numpy as np
import pytest
import torch

from lmech.experiment import word2vec as ex
from lmech.theory import word2vec as th


def _stats(V=10, seed=0):
    g = np.random.default_rng(seed)
    A = g.random((V, V)) ** 3 + 0.01
    P = (A + A.T) / (A + A.T).sum()
    return P, P.sum(axis=1)


def _one_step_gradient(train, W0, lr=1e-3, **kw):
    res = train(W0=W0, steps=1, lr=lr, init_scale=1.0, seed=0, log_every=1, **kw)
    return (W0 - res.W) / lr, res.loss[0]


def test_qwem_gradient_and_loss_match_autograd():
    P, Pi = _stats()
    M, G = th.qwem_target(P, Pi), th.qwem_weights(P, Pi)
    W0 = np.random.default_rng(1).standard_normal((10, 3)) * 0.3
    for weights in (None, G):
        grad, loss = _one_step_gradient(
            lambda weights=weights, **k: ex.train_qwem(M, 3, weights=weights, **k), W0
        )
        W = torch.tensor(W0, requires_grad=True)
        Gt = (
            torch.ones(10, 10, dtype=torch.float64)
            if weights is None
            else torch.tensor(G / G.mean())
        )
        ref = 0.25 * (Gt * (W @ W.T - torch.tensor(M)) ** 2).sum()
        ref.backward()
        np.testing.assert_allclose(grad, W.grad.numpy(), rtol=1e-6, atol=1e-9)
        assert loss == pytest.approx(ref.item(), rel=1e-12)


@pytest.mark.parametrize("reweight", ["none", "omniscient"])
def test_sgns_gradient_and_loss_match_autograd(reweight):
    P, Pi = _stats()
    psi = 2.0
    W0 = np.random.default_rng(2).standard_normal((10, 3)) * 0.5
    grad, loss = _one_step_gradient(
        lambda **k: ex.train_sgns(P, Pi, 3, psi=psi, reweight=reweight, **k), W0
    )
    W = torch.tensor(W0, requires_grad=True)
    neg = psi * np.outer(Pi, Pi)
    G = P + neg
    if reweight == "omniscient":
        qp, qn, scale = P / G, neg / G, 2.0
    else:
        qp, qn, scale = P, neg, 2.0 / G.mean()
    S = W @ W.T
    ref = (
        scale
        * (
            torch.tensor(qp) * torch.nn.functional.softplus(-S)
            + torch.tensor(qn) * torch.nn.functional.softplus(S)
        ).sum()
    )
    ref.backward()
    np.testing.assert_allclose(grad, W.grad.numpy(), rtol=1e-6, atol=1e-9)
    assert loss == pytest.approx(ref.item(), rel=1e-12)


def test_aligned_init_follows_the_mode_sigmoids():
    """From W_0 = U_d sqrt(u0) the modes decouple exactly; small-step GD tracks u_k(t)."""
    g = np.random.default_rng(3)
    Q, _ = np.linalg.qr(g.standard_normal((8, 8)))
    lam = np.array([4.0, 2.5, 1.5, 0.5, 0.2, 0.1, 0.05, 0.0])
    M = (Q * lam) @ Q.T
    u0, lr, d = 1e-6, 1e-3, 3
    W0 = Q[:, :d] * np.sqrt(u0)
    res = ex.train_qwem(M, d, steps=10000, lr=lr, init_scale=1.0, seed=0, log_every=100, W0=W0)
    pred = th.mode_trajectory(lam[:d], u0, res.steps, 2 * lr)
    # discrete steps: per-step growth (1 + lr lam)^2 vs e^{2 lr lam}; relative error <~ lr lam t lr lam
    np.testing.assert_allclose(res.singular_values**2, pred, rtol=0.03, atol=1e-3)
    np.testing.assert_allclose(res.singular_values[-1] ** 2, lam[:d], rtol=1e-3)


def test_training_is_seeded_and_random_init_has_the_stated_scale():
    M = np.diag([3.0, 2.0, 1.0, 0.5])
    a = ex.train_qwem(M, 2, steps=5, lr=0.01, init_scale=0.1, seed=4, log_every=5)
    b = ex.train_qwem(M, 2, steps=5, lr=0.01, init_scale=0.1, seed=4, log_every=5)
    c = ex.train_qwem(M, 2, steps=5, lr=0.01, init_scale=0.1, seed=5, log_every=5)
    np.testing.assert_array_equal(a.W, b.W)
    assert not np.array_equal(a.W, c.W)
    W0 = ex.init_embeddings(4000, 8, 0.5, 0).numpy()
    # squared projection on a unit vector: mean init_scale^2 (chi-square with d dof / d)
    proj = (W0[:, :] ** 2).sum(axis=1)
    assert proj.mean() == pytest.approx(0.25, rel=0.03)
