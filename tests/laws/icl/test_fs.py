"""The FS trainers' context sampler and SGD against independent computations."""

from __future__ import annotations

import math

import numpy as np
import torch

from lmech.laws.icl import _fs
from lmech.seeding import torch_generator
from lmech.theory import icl


def test_sufficient_statistic_sampler_matches_token_sampling():
    # independent: b = X^T y / P from explicit tokens; compare E[b b^T] and E[b w^T]
    D, P, s2, m = 5, 9, 0.3, 200_000
    lam = torch.tensor([2.0, 1.0, 0.6, 0.3, 0.1], dtype=torch.float64)
    w, b = _fs.sample_statistics(lam, P, s2, m, torch_generator(0, "fast"))
    g = torch_generator(0, "slow")
    X = torch.randn(m, P, D, generator=g, dtype=torch.float64) * lam.sqrt()
    w2 = torch.randn(m, D, generator=g, dtype=torch.float64) / math.sqrt(D)
    y = torch.einsum("mpd,md->mp", X, w2) + math.sqrt(s2) * torch.randn(
        m, P, generator=g, dtype=torch.float64
    )
    b2 = torch.einsum("mpd,mp->md", X, y) / P
    for u, v, u2, v2 in ((b, b, b2, b2), (b, w, b2, w2)):
        fast = (u.T @ v / m).numpy()
        slow = (u2.T @ v2 / m).numpy()
        np.testing.assert_allclose(fast, slow, atol=0.02 * np.abs(slow).max())
    # and the loss of a fixed Gamma is the exact formula
    gam = np.diag(1 / lam.numpy()) * 0.6
    r = w - b @ torch.tensor(gam).T
    loss = (r * r * lam).sum(1) + s2
    se = float(loss.std()) / math.sqrt(m)
    exact = icl.fs_one_layer_error(gam, lam.numpy(), P / D, s2)
    assert abs(float(loss.mean()) - exact) < 4 * se


def test_sgd_tracks_gradient_flow_and_low_rank_reaches_its_optimum():
    lam = np.array([3.0, 1.0, 0.4, 0.15])
    alpha, s2 = 4.0, 0.05
    curve = _fs.sgd_learning_curve(
        lam,
        alpha,
        s2,
        batch=64,
        steps=400,
        rate_fraction=0.2,
        checkpoints=(50, 400),
        gen=torch_generator(0, "sgd"),
    )
    for T, g in curve:
        e = icl.fs_one_layer_error(g, lam, alpha, s2)
        assert abs(e / icl.fs_gradient_flow_error(T, lam, alpha, s2) - 1) < 0.02
    g = _fs.train_low_rank(
        lam, alpha, s2, 2, batch=128, steps=400, lr=0.05, init_scale=0.01, gen=torch_generator(1)
    )
    e = icl.fs_one_layer_error(g, lam, alpha, s2)
    best = icl.fs_rank_optimum(2, lam, alpha, s2)
    assert best <= e < best * 1.01
    assert np.linalg.matrix_rank(g, tol=1e-8) == 2
