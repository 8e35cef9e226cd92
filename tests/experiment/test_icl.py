"""Simulators of lmech.experiment.icl against direct numpy solves and exact identities."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lmech.experiment.icl import (
    context_features,
    dmmse_errors,
    fit_gamma,
    sample_contexts,
    sample_tasks,
)
from lmech.seeding import torch_generator


@pytest.mark.parametrize("n", [40, 120])  # dual (n < d(d+1) = 72) and primal
def test_fit_gamma_equals_numpy_ridge_solve(n):
    d, ell, rho, lam = 8, 16, 0.1, 0.05
    got = fit_gamma(None, d, n, ell, rho, [lam, 1.0], torch_generator(0, "fit"))
    gen = torch_generator(0, "fit")  # replay the same draws
    tasks = sample_tasks(n, d, gen)
    h, xq, yq = sample_contexts(tasks, ell, rho, gen)
    F, y = context_features(h, xq).numpy(), yq.numpy()
    for r, g in zip([lam, 1.0], got, strict=True):
        v = np.linalg.solve(F.T @ F + (n / d) * r * np.eye(d * (d + 1)), F.T @ y)
        np.testing.assert_allclose(g.ravel(), v, rtol=1e-7, atol=1e-9)


def test_sphere_tasks_and_features():
    w = sample_tasks(5000, 6, torch_generator(1))
    np.testing.assert_allclose(w.norm(dim=1) ** 2, 6.0, rtol=1e-12)
    # E[w w^T] = I within Monte-Carlo error (5000 draws: SE ~ 0.02)
    np.testing.assert_allclose((w.T @ w / len(w)).numpy(), np.eye(6), atol=0.08)
    h, xq, _ = sample_contexts(w[:3], 10, 0.1, torch_generator(2))
    F = context_features(h, xq)
    assert torch.allclose(F[1].reshape(6, 7), torch.outer(xq[1], h[1]))


def test_dmmse_single_task_pool_is_exact():
    # with one task in the pool the posterior mean is that task: IDG error = rho exactly
    pool = sample_tasks(1, 5, torch_generator(3))
    icl_e, idg_e, _, _ = dmmse_errors(pool, 20, 0.1, 200, torch_generator(4))
    assert idg_e == pytest.approx(0.1, abs=1e-12)
    # and a fresh task is predicted by the wrong one: |w - w0|^2/d + rho = 2 + rho on average
    assert icl_e == pytest.approx(2.1, abs=4 * math.sqrt(2 / 200) + 0.05)


def test_deep_attention_losses_match_explicit_gd_iterations():
    # independent: run L explicit preconditioned GD steps on each context and average
    from lmech.experiment.icl import deep_linear_attention_losses

    D, alpha, L, noise, m = 6, 2.0, 3, 0.2, 50
    lam = np.linspace(0.5, 1.5, D)
    gammas = [0.4, 0.9]
    got = deep_linear_attention_losses(
        L, alpha, D, gammas, noise, m, torch_generator(5), spectrum=lam
    )
    gen = torch_generator(5)  # replay the draws of the one chunk
    P = round(alpha * D)
    G = torch.randn(m, P, D, generator=gen, dtype=torch.float64).numpy()
    w = torch.randn(m, D, generator=gen, dtype=torch.float64).numpy() / math.sqrt(D)
    eps = torch.randn(m, P, generator=gen, dtype=torch.float64).numpy()
    for gamma, g in zip(gammas, got, strict=True):
        losses = []
        for i in range(m):
            X = G[i] * np.sqrt(lam)
            y = X @ w[i] + math.sqrt(noise) * eps[i]
            wh = np.zeros(D)
            for _ in range(L):
                wh = wh + (gamma / L) * X.T @ (y - X @ wh) / P
            r = w[i] - wh
            losses.append(r @ (lam * r) + noise)
        assert g == pytest.approx(np.mean(losses), rel=1e-9)


def test_transformer_is_permutation_invariant_and_fits_its_data():
    from lmech.experiment.icl import train_transformer_icl
    from lmech.nn.attention import ICLTransformer

    torch.manual_seed(0)
    model = ICLTransformer(4, 8, layers=2, mlp=True).double()
    z = torch.randn(3, 7, 5, dtype=torch.float64)
    perm = torch.cat([torch.randperm(6), torch.tensor([6])])  # shuffle context, keep query last
    assert torch.allclose(model(z), model(z[:, perm]), atol=1e-12)
    state = torch.random.get_rng_state()
    a = train_transformer_icl(
        4,
        1.0,
        0.5,
        0.01,
        width=8,
        layers=1,
        mlp=False,
        steps=300,
        lr=1e-2,
        test_contexts=200,
        seed=0,
    )
    assert torch.equal(state, torch.random.get_rng_state())  # init keyed, global RNG untouched
    assert a == train_transformer_icl(
        4,
        1.0,
        0.5,
        0.01,
        width=8,
        layers=1,
        mlp=False,
        steps=300,
        lr=1e-2,
        test_contexts=200,
        seed=0,
    )
    # 8 sequences, ~600 parameters: it interpolates (the null "predict 0" has MSE 1 + rho)
    assert a[0] < 0.05


def test_linear_attention_layer_equals_its_reduced_form():
    # independent: the layer's output against x_q^T Gamma h + v_x^T Sigma_hat A_x x_q in numpy
    from lmech.nn.attention import LinearSelfAttention

    torch.manual_seed(0)
    d, ell = 5, 10
    model = LinearSelfAttention(d, init_scale=1.0, init="random").double()
    z = torch.randn(4, ell + 1, d + 1, dtype=torch.float64)
    z[:, -1, -1] = 0.0
    gamma, vx, ax = model.reduced_form()
    x, y, xq = z[:, :ell, :d].numpy(), z[:, :ell, d].numpy(), z[:, -1, :d].numpy()
    h = np.concatenate(
        [(d / ell) * np.einsum("nl,nld->nd", y, x), (y * y).mean(1, keepdims=True)], 1
    )
    S = np.einsum("nli,nlj->nij", x, x) / ell
    ref = np.einsum("ni,ij,nj->n", xq, gamma, h) + np.einsum("i,nij,jk,nk->n", vx, S, ax, xq)
    np.testing.assert_allclose(model(z).detach().numpy(), ref, rtol=1e-10, atol=1e-12)
    # the query's own label entry is never read, the context order does not matter
    z2 = z.clone()
    z2[:, -1, -1] = 7.0
    assert not torch.allclose(model(z2), model(z))  # (it is read through the residual)
    perm = torch.cat([torch.randperm(ell), torch.tensor([ell])])
    assert torch.allclose(model(z[:, perm]), model(z), atol=1e-12)
    # label-path init: v_x = 0, so the label-free part vanishes
    _, vx0, _ = LinearSelfAttention(d, init="label").reduced_form()
    assert np.all(vx0 == 0)


def test_attention_excess_error_is_paired_difference_of_exact_errors():
    from lmech.experiment.icl import attention_excess_error, symmetric_pool
    from lmech.nn.attention import LinearSelfAttention
    from lmech.theory.icl import gamma_error

    d, alpha, rho = 4, 2.0, 0.1
    torch.manual_seed(1)
    model = LinearSelfAttention(d, init_scale=2.0, init="label").double()
    g_model, vx, _ = model.reduced_form()
    assert np.all(vx == 0)
    # against itself the paired excess is exactly 0 and there is no label-free power
    ex, se, free = attention_excess_error(model, g_model, alpha, rho, None, 500, torch_generator(0))
    assert abs(ex) < 1e-12 and free == 0.0
    # against another Gamma: the difference of the two exact errors, within 4 SE
    pool = symmetric_pool(6, d, torch_generator(2))
    P = pool.numpy()
    m = {"task_mean": P.mean(0), "task_second_moment": P.T @ P / 6}
    other = 0.5 * np.hstack([np.eye(d), np.zeros((d, 1))])
    ex, se, _ = attention_excess_error(model, other, alpha, rho, pool, 20000, torch_generator(3))
    exact = gamma_error(g_model, alpha, rho, **m) - gamma_error(other, alpha, rho, **m)
    assert abs(ex - exact) < 4 * se
    assert np.allclose(symmetric_pool(6, d, torch_generator(2)).sum(0).numpy(), 0, atol=1e-12)


def test_pool_optimal_gamma_matches_ridge_fit_on_many_contexts():
    # independent: ridge regression on 80000 simulated contexts whose tasks come from a
    # Gaussian pool; the label-norm column, held at 0 in the closed form, is O(1/k)
    from lmech.experiment.icl import fit_gamma, pool_optimal_gamma
    from lmech.theory.icl import gamma_error_gaussian

    d, alpha, rho = 4, 2.0, 0.1
    cov = np.diag([2.0, 1.0, 0.6, 0.4])
    pool = sample_tasks(40, d, torch_generator(0, "gpool"), sphere=False, covariance=cov)
    best = pool_optimal_gamma(pool, alpha, rho)
    fit = fit_gamma(pool, d, 80_000, round(alpha * d), rho, 1e-9, torch_generator(1, "gfit"))
    assert np.linalg.norm(fit[:, :d] - best[:, :d]) / np.linalg.norm(best) < 0.04
    e_best = gamma_error_gaussian(best, alpha, rho, cov)
    assert gamma_error_gaussian(fit, alpha, rho, cov) == pytest.approx(e_best, rel=0.01)


def _moments(h, xq, yq, w):
    """Per-context values of the statistics whose exact conditional means are known."""
    d = w.numel()
    hx, hy = h[:, :d], h[:, d]
    return {
        "hx": hx,
        "hxhx": hx[:, :, None] * hx[:, None, :],
        "hy": hy,
        "hy2": hy * hy,
        "hyhx": hy[:, None] * hx,
        "yq2": yq * yq,
        "yqxq": yq[:, None] * xq,
    }


@pytest.mark.parametrize("sampler", ["fast", "direct"])
def test_context_statistics_have_the_exact_conditional_moments(sampler):
    # closed forms for one task w (|w|^2 = d), ell tokens x ~ N(0, I/d), s = |w|^2/d + rho:
    # E h_x = w, E h_x h_x^T = (1 + 1/ell) w w^T + s/alpha I, E h_y = s,
    # E h_y^2 = s^2 (1 + 2/ell), E h_y h_x = (1 + 2/ell) s w (Stein: E[x y^3] = 3 s w/d),
    # E y_q^2 = s, E y_q x_q = w/d; every entry within 5 of its own Monte-Carlo SE
    from lmech.experiment.icl import sample_context_statistics

    d, ell, rho, n = 5, 7, 0.3, 200_000
    w = sample_tasks(1, d, torch_generator(0, "w"))[0]
    tasks = w.expand(n, d)
    f = sample_context_statistics if sampler == "fast" else sample_contexts
    h, xq, yq = f(tasks, ell, rho, torch_generator(1, sampler))
    got = _moments(h, xq, yq, w)
    s, a = 1 + rho, ell / d
    exact = {
        "hx": w,
        "hxhx": (1 + 1 / ell) * torch.outer(w, w) + s / a * torch.eye(d, dtype=torch.float64),
        "hy": torch.tensor(s),
        "hy2": torch.tensor(s * s * (1 + 2 / ell)),
        "hyhx": (1 + 2 / ell) * s * w,
        "yq2": torch.tensor(s),
        "yqxq": w / d,
    }
    for key, val in exact.items():
        se = got[key].std(0) / math.sqrt(n)
        z = ((got[key].mean(0) - val).abs() / se).max()
        assert float(z) < 5, (key, float(z))


def test_fast_and_direct_context_samplers_agree_beyond_second_moments():
    # a 2-sample comparison of third/fourth-order statistics (not covered by the closed
    # forms above): E[h_y^3], E[|h_x|^4], E[(x_q . h_x) y_q] within 5 combined SE
    from lmech.experiment.icl import sample_context_statistics

    d, ell, rho, n = 4, 6, 0.2, 200_000
    tasks = sample_tasks(n, d, torch_generator(2, "tasks"))
    outs = [
        f(tasks, ell, rho, torch_generator(3, i))
        for i, f in enumerate((sample_context_statistics, sample_contexts))
    ]
    for stat in (
        lambda h, x, y: h[:, d] ** 3,
        lambda h, x, y: (h[:, :d] ** 2).sum(1) ** 2,
        lambda h, x, y: (x * h[:, :d]).sum(1) * y,
    ):
        a, b = (stat(*o) for o in outs)
        se = math.sqrt(float(a.var() / n + b.var() / n))
        assert abs(float(a.mean() - b.mean())) < 5 * se


@pytest.mark.parametrize("n", [30, 160])  # dual (n < D = 42) and primal
def test_ridge_gamma_routes_equal_numpy_ridge_solve(n):
    from lmech.experiment.icl import ridge_gamma

    d, lam, B = 6, 0.03, 3
    gen = torch_generator(4, n)
    xq = torch.randn(B, n, d, generator=gen, dtype=torch.float64) / math.sqrt(d)
    h = torch.randn(B, n, d + 1, generator=gen, dtype=torch.float64) + 0.5
    yq = torch.randn(B, n, generator=gen, dtype=torch.float64)
    methods = ("dual", "primal", "cg") if n > d * (d + 1) else ("dual", "primal")
    for b in range(B):
        F = (xq[b, :, :, None] * h[b, :, None, :]).reshape(n, -1).numpy()
        ref = np.linalg.solve(F.T @ F + (n / d) * lam * np.eye(F.shape[1]), F.T @ yq[b].numpy())
        for m in methods:
            got = ridge_gamma(xq, h, yq, lam, method=m)[b].numpy().ravel()
            np.testing.assert_allclose(got, ref, rtol=1e-7, atol=1e-9 * np.abs(ref).max())
        single = ridge_gamma(xq[b], h[b], yq[b], lam).numpy().ravel()
        np.testing.assert_allclose(single, ref, rtol=1e-7, atol=1e-9 * np.abs(ref).max())


def test_pretrained_gammas_draws_do_not_depend_on_their_batch():
    from lmech.experiment.icl import pretrained_gammas

    g4, p4 = pretrained_gammas(6, 2.0, 2.0, 2.0, 0.1, 1e-6, 0, range(4), "k")
    g1, p1 = pretrained_gammas(6, 2.0, 2.0, 2.0, 0.1, 1e-6, 0, [2], "k")
    np.testing.assert_allclose(g4[2], g1[0], rtol=1e-9, atol=1e-12)
    assert np.array_equal(p4[2], p1[0])
    assert not np.allclose(g4[1], g4[2])


def test_pretrained_errors_match_the_direct_token_pipeline():
    # independent path: fit_gamma on directly sampled tokens (pretrained_gamma) and the
    # exact error of each Gamma; the two pipelines' mean ICL and IDG errors over 150
    # independent draws agree within 4 combined standard errors
    from lmech.experiment.icl import pretrained_errors, pretrained_gamma
    from lmech.theory.icl import gamma_error

    d, a, k, t, r, m = 8, 2.0, 2.0, 2.0, 0.1, 150
    icl, idg = pretrained_errors(d, a, k, t, r, 1e-6, 0, m, "new")
    old_icl, old_idg = [], []
    for s in range(m):
        g, pool = pretrained_gamma(d, a, k, t, r, 1e-6, 0, "old", s)
        P = pool.numpy()
        old_icl.append(gamma_error(g, a, r))
        old_idg.append(
            gamma_error(g, a, r, task_mean=P.mean(0), task_second_moment=P.T @ P / len(P))
        )
    for new, old in ((icl, old_icl), (idg, old_idg)):
        old = np.asarray(old)
        se = math.sqrt(new.var(ddof=1) / m + old.var(ddof=1) / m)
        assert abs(new.mean() - old.mean()) < 4 * se
    # kappa = inf: the IDG error is the ICL error
    icl, idg = pretrained_errors(d, a, math.inf, 0.5, r, 1e-6, 0, 3)
    assert np.array_equal(icl, idg)
