"""lmech.experiment.word2vec.train_sgns_minibatch: the samplers against exact
probabilities, one step against the exact expected gradient, and the fixed point against
an L-BFGS minimum of the expected SGNS loss and the full-batch trainer."""

import numpy as np
import pytest
import scipy.optimize as so
import scipy.sparse as sp
import torch

from lmech.experiment import word2vec as ex
from lmech.theory import word2vec as th


def _stats(V=20, seed=0):
    g = np.random.default_rng(seed)
    A = g.random((V, V)) ** 3 + 0.01
    P = (A + A.T) / (A + A.T).sum()
    return P, P.sum(axis=1)


def _chi2_bound(df):
    # chi-square with df degrees of freedom: mean df, sd sqrt(2 df); 6 sd is p < 1e-6
    return df + 6 * np.sqrt(2 * df)


def test_guide_table_sampler_draws_the_exact_distribution():
    # heavy, tiny and zero masses side by side (the zeros must never be drawn)
    g = np.random.default_rng(3)
    p = g.pareto(1.0, 300) + 1e-6
    p[::17] = 0.0
    p /= p.sum()
    sampler = ex._Sampler(np.cumsum(p), "cpu")
    n = 400_000
    draws = sampler(torch.Generator().manual_seed(0), (n,)).numpy()
    counts = np.bincount(draws, minlength=p.size)
    assert counts[p == 0].sum() == 0
    live = p > 0
    chi2 = ((counts[live] - n * p[live]) ** 2 / (n * p[live])).sum()
    assert chi2 < _chi2_bound(live.sum() - 1)
    # and it is exact inversion: the same uniforms through a binary search
    u = torch.rand((n,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ref = torch.searchsorted(sampler.cdf, u, right=True).clamp(max=p.size - 1).numpy()
    assert np.array_equal(draws, ref)


def test_negative_distribution_is_the_unigram_to_the_three_quarters():
    U = np.array([100.0, 10.0, 1.0, 0.0])
    q = ex.negative_distribution(U)
    w = np.array([100**0.75, 10**0.75, 1.0, 0.0])
    np.testing.assert_allclose(q, w / w.sum(), rtol=1e-14)
    np.testing.assert_allclose(ex.negative_distribution(U, 1.0), U / U.sum(), rtol=1e-14)


def test_pairs_per_epoch_is_word2vecs_dynamic_window_count():
    # one sentence of 6 tokens, window 2: word2vec uses distance 1 always and distance 2
    # with probability 1/2, both directions: 2 * (5 + 4 / 2) = 14 pairs on average
    from lmech.data.text import build_corpus, cooccurrence

    corpus = build_corpus([list("abcdef")])
    assert ex.pairs_per_epoch(cooccurrence(corpus, 2, "linear"), 2) == 14


@pytest.mark.parametrize("tied", [True, False])
def test_one_large_batch_step_follows_the_expected_gradient(tied):
    # per-pair SGD at rate lr over B pairs moves W by -lr B grad E[loss] up to O(1/sqrt(B))
    V, d, k = 12, 3, 3
    P, Pi = _stats(V, seed=1)
    U = np.random.default_rng(2).random(V) + 0.1  # counts unrelated to P: q is U^0.75
    q = U**0.75 / (U**0.75).sum()
    W0 = np.random.default_rng(4).standard_normal((V, d)) * 0.5
    B, lr = 400_000, 1e-7
    res = ex.train_sgns_minibatch(
        sp.csr_matrix(P),
        U,
        d,
        negatives=k,
        steps=1,
        batch_size=B,
        lr=lr,
        schedule="constant",
        tied=tied,
        init_scale=1.0,
        seed=0,
        dtype="float64",
        log_every=1,
        W0=W0,
    )
    pos, neg = P, k * np.outer(Pi, q)  # E over (i, j) ~ P and n ~ q of the per-pair loss
    if tied:
        S = W0 @ W0.T
        D = -pos / (1 + np.exp(S)) + neg / (1 + np.exp(-S))
        expected = (D + D.T) @ W0
        moved = (W0 - res.W) / (lr * B)
    else:  # C_0 = 0: s = 0, W does not move and C moves by D^T W0 with D = (neg - pos) / 2
        assert np.array_equal(res.W, W0)
        expected = ((neg - pos) / 2).T @ W0
        moved = -res.C / (lr * B)
    err = np.linalg.norm(moved - expected) / np.linalg.norm(expected)
    assert err < 0.03  # Monte Carlo error ~ sqrt((1 + k) / B) * (spread / mean) ~ 0.01


def _lbfgs_minimum(P, Pi, d, k):
    """Rank-d minimizer of the expected tied SGNS loss with negatives k P_i P_j (float64
    L-BFGS on the analytic gradient, to |grad| < 1e-8)."""
    V = P.shape[0]
    neg = k * np.outer(Pi, Pi)

    def loss(w):
        W = w.reshape(V, d)
        S = W @ W.T
        f = (P * np.logaddexp(0, -S) + neg * np.logaddexp(0, S)).sum()
        D = -P / (1 + np.exp(S)) + neg / (1 + np.exp(-S))
        return f, (2 * D @ W).ravel()

    w0 = np.random.default_rng(0).standard_normal(V * d) * 0.1
    opts = dict(maxiter=20000, gtol=1e-12, ftol=1e-15)
    r = so.minimize(loss, w0, jac=True, method="L-BFGS-B", options=opts)
    assert np.abs(r.jac).max() < 1e-8
    return r.x.reshape(V, d)


def _gram_err(W, ref):
    G, R = W @ W.T, ref @ ref.T
    return np.linalg.norm(G - R) / np.linalg.norm(R)


def test_minibatch_reaches_the_full_batch_fixed_point():
    V, d, k = 20, 3, 2
    P, Pi = _stats(V)
    Wref = _lbfgs_minimum(P, Pi, d, k)
    # the peer: full-batch GD on the same expected loss (psi = k, negatives psi P_i P_j)
    fb = ex.train_sgns(P, Pi, d, psi=k, steps=6000, lr=0.05, init_scale=0.1, seed=0, log_every=6000)
    assert _gram_err(fb.W, Wref) < 1e-5
    # the same loss by sampled pairs: q = P_i (power 1 on exact unigrams), k negatives
    mb = ex.train_sgns_minibatch(
        P,
        Pi,
        d,
        negatives=k,
        power=1.0,
        steps=2000,
        batch_size=1024,
        lr=0.02,
        optimizer="adam",
        init_scale=0.1,
        seed=0,
        dtype="float64",
        log_every=500,
    )
    # stochastic floor after 2000 Adam steps of 1024 pairs (lr decayed linearly): measured
    # Gram errors 0.063, 0.055, 0.049, 0.047 at seeds 0-3 (0.023 with 16x the pairs). The bound
    # 0.12 is below the 0.26 by which the optimum moves when k = 3 instead of 2, so a wrong
    # negative count or weight fails this test.
    assert _gram_err(mb.W, Wref) < 0.12
    assert _gram_err(mb.W, fb.W) < 0.12
    assert th.principal_cosines(mb.W, Wref).min() > 0.99  # measured >= 0.9978
    wrong = _lbfgs_minimum(P, Pi, d, k + 1)
    assert _gram_err(wrong, Wref) > 2 * 0.12
    # the logged loss (mean per-pair loss, a positive and its k negatives) estimates the
    # expected loss L itself: sum P = 1 and the k negatives weigh k P_i P_j in total
    S = mb.W @ mb.W.T
    L = (P * np.logaddexp(0, -S) + k * np.outer(Pi, Pi) * np.logaddexp(0, S)).sum()
    # mean of 500 batch losses of 1024 pairs; per-pair sd ~ 1, so SE ~ 1.4e-3 (measured
    # |error| <= 4.2e-4 at seeds 0-3); 0.005 is 3.5 SE
    assert mb.loss[-1] == pytest.approx(L, abs=0.005)


def test_minibatch_is_seeded_and_float32_by_default():
    P, Pi = _stats(10)
    kw = dict(steps=30, batch_size=64, lr=0.05, init_scale=0.1, log_every=10)
    a = ex.train_sgns_minibatch(P, Pi, 2, seed=0, **kw)
    b = ex.train_sgns_minibatch(P, Pi, 2, seed=0, **kw)
    c = ex.train_sgns_minibatch(P, Pi, 2, seed=1, **kw)
    assert np.array_equal(a.W, b.W) and not np.array_equal(a.W, c.W)
    assert a.W.dtype == np.float64 and np.array_equal(a.W, a.W.astype(np.float32))
    assert list(a.steps) == [0, 10, 20, 30] and a.singular_values.shape == (4, 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_minibatch_runs_on_cuda():
    P, Pi = _stats(10)
    kw = dict(steps=200, batch_size=256, lr=0.02, optimizer="adam", init_scale=0.1, seed=0)
    r = ex.train_sgns_minibatch(P, Pi, 2, device="cuda", **kw)
    assert np.isfinite(r.W).all() and r.loss[-1] < r.loss[0]
