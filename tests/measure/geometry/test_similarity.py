"""CKA, HSIC, CCA and Procrustes against brute-force and peer computations."""

import itertools

import numpy as np
import pytest
import scipy.linalg
import torch

from lmech.measure.geometry import (
    MinibatchCKA,
    StreamingCKA,
    cca,
    hsic,
    kernel_cka,
    linear_cka,
    procrustes_distance,
    pwcca,
    rbf_cka,
    svcca,
)


def _pair(n=60, p=5, q=4, seed=0):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, p)) + 3.0
    Y = X @ g.standard_normal((p, q)) + g.standard_normal((n, q)) - 1.0
    return X, Y


def _hsic_u_bruteforce(K, L):
    """Song et al. 2012, eq. (3): the U-statistic over ordered 4-tuples of distinct indices."""
    n = K.shape[0]
    total = 0.0
    for i, j, q, r in itertools.permutations(range(n), 4):
        total += K[i, j] * L[i, j] + K[i, j] * L[q, r] - 2 * K[i, j] * L[i, q]
    return total / (n * (n - 1) * (n - 2) * (n - 3))


def test_unbiased_hsic_equals_the_u_statistic():
    X, Y = _pair(n=7)
    K, L = X @ X.T, Y @ Y.T
    assert hsic(K, L, debiased=True) == pytest.approx(_hsic_u_bruteforce(K, L), rel=1e-10)


def test_biased_hsic_is_trace_khlh():
    X, Y = _pair(n=20)
    K, L = X @ X.T, np.tanh(Y @ Y.T)
    H = np.eye(20) - 1 / 20
    assert hsic(K, L) == pytest.approx(np.trace(K @ H @ L @ H) / 19**2, rel=1e-10)


@pytest.mark.parametrize("debiased", [False, True])
def test_feature_space_cka_equals_gram_cka(debiased):
    X, Y = _pair(n=80)
    gram = kernel_cka(X @ X.T, Y @ Y.T, debiased=debiased)
    assert linear_cka(X, Y, debiased=debiased) == pytest.approx(gram, rel=1e-10)


def test_streaming_cka_over_batches_equals_one_shot():
    X, Y = _pair(n=500, p=12, q=7)
    acc = StreamingCKA()
    for i in range(0, 500, 64):
        acc.update(X[i : i + 64], Y[i : i + 64])
    for d in (False, True):
        assert acc.cka(debiased=d) == pytest.approx(linear_cka(X, Y, debiased=d), rel=1e-9)


def test_minibatch_mean_over_all_subsets_is_full_hsic_u():
    # HSIC_u is a U-statistic: its mean over all size-b subsets is HSIC_u of the whole set
    X, Y = _pair(n=9, p=3, q=2)
    mb = MinibatchCKA()
    for idx in itertools.combinations(range(9), 5):
        mb.update(X[list(idx)], Y[list(idx)])
    want = [hsic(A @ A.T, B @ B.T, debiased=True) for A, B in ((X, Y), (X, X), (Y, Y))]
    np.testing.assert_allclose(mb.hsic(), want, rtol=1e-10)
    assert mb.cka() == pytest.approx(linear_cka(X, Y, debiased=True), rel=1e-10)


def test_invariances_and_identity():
    X, _ = _pair(n=100, p=6)
    Q, _ = np.linalg.qr(np.random.default_rng(5).standard_normal((6, 6)))
    for d in (False, True):
        assert linear_cka(X, X, debiased=d) == pytest.approx(1.0, abs=1e-12)
        assert linear_cka(X, 2.5 * X @ Q + 7.0, debiased=d) == pytest.approx(1.0, abs=1e-12)
    assert procrustes_distance(X, 2.5 * X @ Q) == pytest.approx(0.0, abs=1e-6)


def test_rbf_cka_against_explicit_kernels():
    X, Y = _pair(n=40)

    def gram(Z, frac):
        D2 = ((Z[:, None] - Z[None]) ** 2).sum(-1)
        sigma = frac * np.median(np.sqrt(D2[np.triu_indices(len(Z), 1)]))
        return np.exp(-D2 / (2 * sigma**2))

    for frac in (0.4, 0.8):
        want = kernel_cka(gram(X, frac), gram(Y, frac))
        assert rbf_cka(X, Y, frac) == pytest.approx(want, rel=1e-10)


def test_cca_equals_the_generalized_eigenproblem():
    X, Y = _pair(n=300, p=5, q=3)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Sxx, Syy, Sxy = Xc.T @ Xc, Yc.T @ Yc, Xc.T @ Yc
    M = np.linalg.solve(Sxx, Sxy) @ np.linalg.solve(Syy, Sxy.T)
    rho2 = np.sort(np.linalg.eigvals(M).real)[::-1][:3]
    np.testing.assert_allclose(cca(X, Y), np.sqrt(rho2), rtol=1e-8)
    # CCA (unlike CKA) is invariant to any invertible linear map
    A = np.random.default_rng(1).standard_normal((5, 5))
    np.testing.assert_allclose(cca(X @ A, Y), cca(X, Y), rtol=1e-8)
    assert svcca(X, Y, variance=1.0) == pytest.approx(np.sqrt(rho2).mean(), rel=1e-8)


def test_pwcca_weights_follow_morcos():
    X, Y = _pair(n=300, p=4, q=4)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    Ux = np.linalg.svd(Xc, full_matrices=False)[0]
    Uy = np.linalg.svd(Yc, full_matrices=False)[0]
    A, rho, _ = np.linalg.svd(Ux.T @ Uy)
    H = Ux @ A
    alpha = np.abs(H.T @ Xc).sum(axis=1)
    assert pwcca(X, Y) == pytest.approx((alpha / alpha.sum() * rho).sum(), rel=1e-10)
    assert pwcca(X, X) == pytest.approx(1.0, rel=1e-10)


def test_procrustes_against_scipy_orthogonal_procrustes():
    X, Y = _pair(n=100, p=5, q=5)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    R, _ = scipy.linalg.orthogonal_procrustes(Yc, Xc)  # argmin |Yc R - Xc|
    cos = np.trace(Xc.T @ Yc @ R) / (np.linalg.norm(Xc) * np.linalg.norm(Yc))
    assert procrustes_distance(X, Y) == pytest.approx(np.arccos(cos), rel=1e-9)


def test_torch_and_numpy_agree():
    X, Y = _pair()
    a = linear_cka(X, Y, debiased=True)
    b = linear_cka(torch.tensor(X), torch.tensor(Y, dtype=torch.float32), debiased=True)
    assert a == pytest.approx(b, rel=1e-6)  # Y passed as float32: its rounding, ~1e-7


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    from lmech.measure.geometry import LevinaBickel, TwoNN

    X, Y = _pair(n=400, p=8, q=6)
    for d in (False, True):
        assert linear_cka(X, Y, debiased=d, device="cuda") == pytest.approx(
            linear_cka(X, Y, debiased=d), rel=1e-10
        )
    Xt = torch.tensor(X, device="cuda")
    assert TwoNN().fit(Xt).dimension_ == pytest.approx(TwoNN().fit(X).dimension_, rel=1e-10)
    assert LevinaBickel(10).fit(Xt).dimension_ == pytest.approx(
        LevinaBickel(10).fit(X).dimension_, rel=1e-10
    )


def test_streaming_shift_keeps_precision_under_a_large_offset():
    # sums about the first batch's mean: an offset of 1e6 costs no accuracy
    X, Y = _pair(n=400, p=6, q=5)
    acc = StreamingCKA()
    for i in range(0, 400, 50):
        acc.update(X[i : i + 50] + 1e6, Y[i : i + 50] - 1e6)
    for d in (False, True):
        assert acc.cka(debiased=d) == pytest.approx(linear_cka(X, Y, debiased=d), rel=1e-8)
