import numpy as np
import pytest
import torch

from lmech.experiment._band import band_reduce, native_blas
from lmech.experiment.krr import (
    TrialData,
    _ridge_path_band,
    _ridge_path_eigh,
    krr_learning_curve,
    ridge_path,
)
from lmech.kernels.base import RBF, gram


def _symmetric(n, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    S = rng.standard_normal((n, n))
    return ((S + S.T) / 2).astype(dtype)


def _dense_band(band):
    """The symmetric matrix B from LAPACK lower band storage band[i, j] = B[j + i, j]."""
    b, n = band.shape[0] - 1, band.shape[1]
    B = np.zeros((n, n), dtype=band.dtype)
    for i in range(b + 1):
        idx = np.arange(n - i)
        B[idx + i, idx] = band[i, : n - i]
        B[idx, idx + i] = band[i, : n - i]
    return B


def test_native_blas_is_found_and_checked():
    assert native_blas(np.dtype(np.float64)) is not None
    assert native_blas(np.dtype(np.float32)) is not None
    assert native_blas(np.dtype(np.int64)) is None


@pytest.mark.parametrize(("n", "width"), [(1, 64), (2, 64), (3, 1), (7, 2), (65, 64), (66, 64),
                                          (130, 16), (200, 64), (97, 10)])  # fmt: skip
def test_band_reduce_is_an_orthogonal_similarity(n, width):
    K = _symmetric(n, seed=n)
    A = np.asfortranarray(K.copy())
    red = band_reduce(A, n, width)
    assert red is not None
    b = red.band.shape[0] - 1
    assert b == max(1, min(width, n - 1))
    Q = red.apply_q(np.eye(n))
    np.testing.assert_allclose(Q.T @ Q, np.eye(n), atol=1e-13)  # orthogonal
    np.testing.assert_allclose(red.apply_qt(np.eye(n)), Q.T, atol=1e-13)
    # K = Q B Q^T with B banded by construction of the storage
    np.testing.assert_allclose(Q @ _dense_band(red.band) @ Q.T, K, atol=1e-12 * n)


def test_band_reduce_in_a_larger_buffer_leaves_the_rest_alone():
    n, ld = 150, 170
    K = _symmetric(n, seed=3)
    buf = np.full((ld, ld), 7.0, order="F")
    buf[:n, :n] = K
    red = band_reduce(buf[:n, :n], n, 32)  # leading dimension 170 > n
    np.testing.assert_array_equal(buf[n:, :], 7.0)
    np.testing.assert_array_equal(buf[:, n:], 7.0)
    Q = red.apply_q(np.eye(n))
    np.testing.assert_allclose(Q @ _dense_band(red.band) @ Q.T, K, atol=1e-11)


def test_solve_shifted_matches_a_dense_solve_and_flags_indefinite():
    n = 120
    rng = np.random.default_rng(1)
    G = rng.standard_normal((n, 40))
    K = G @ G.T  # PSD, rank 40
    C = rng.standard_normal((n, 2))
    red = band_reduce(np.asfortranarray(K.copy()), n, 16)
    top = np.linalg.eigvalsh(K)[-1]
    for delta in (1e-6, 1e-2, 10.0):
        z = red.apply_q(red.solve_shifted(red.apply_qt(C), delta))
        ref = np.linalg.solve(K + delta * np.eye(n), C)
        # both solves are backward stable: norm-wise error <= c * cond * eps (c = 50)
        cond = (top + delta) / delta
        err = np.linalg.norm(z - ref) / np.linalg.norm(ref)
        assert err <= 50 * cond * np.finfo(float).eps, (delta, err, cond)
    assert red.solve_shifted(red.apply_qt(C), -1.0) is None  # K - I is indefinite


def test_float32_reduction_agrees_with_float64():
    n = 100
    K = _symmetric(n, seed=5)
    red32 = band_reduce(np.asfortranarray(K.astype(np.float32)), n, 16)
    assert red32.band.dtype == np.float32
    Q = red32.apply_q(np.eye(n, dtype=np.float32))
    np.testing.assert_allclose(Q @ _dense_band(red32.band) @ Q.T, K, atol=2e-5)


def test_band_path_reuses_a_workspace_and_falls_back_when_indefinite():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(90, 3, generator=g, dtype=torch.float64)
    K = torch.exp(-(torch.cdist(X, X) ** 2))
    y = torch.randn(90, 1, generator=g, dtype=torch.float64)
    r = torch.tensor([1e-3, 1e-1, 1.0], dtype=torch.float64)
    ws = np.full(100 * 100, np.nan)  # larger than needed; stale contents must not matter
    for n in (30, 90, 70):
        fresh = _ridge_path_band(K[:n, :n], y[:n], r, None)
        reused = _ridge_path_band(K[:n, :n], y[:n], r, None, ws)
        eig = _ridge_path_eigh(K[:n, :n], y[:n], r, None)
        torch.testing.assert_close(reused[0], fresh[0], rtol=0, atol=0)
        torch.testing.assert_close(fresh[0], eig[0], rtol=1e-8, atol=1e-10)
    # an indefinite "Gram" matrix: the banded Cholesky of K - 2 I + delta I fails, the band
    # path says so and ridge_path answers from the eigendecomposition (pseudo-inverse)
    bad = K - 2.0 * torch.eye(90, dtype=K.dtype)
    assert _ridge_path_band(bad, y, r, None) is None
    torch.testing.assert_close(ridge_path(bad, y, r)[0], _ridge_path_eigh(bad, y, r, None)[0])


def test_band_path_in_place_matches_and_hands_back_an_intact_k_on_failure():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(100, 3, generator=g, dtype=torch.float64)
    K = torch.exp(-(torch.cdist(X, X) ** 2))
    K = (K + K.T) / 2  # exactly symmetric, like lmech.kernels.gram
    y = torch.randn(100, 1, generator=g, dtype=torch.float64)
    r = torch.tensor([1e-3, 1.0, 10.0], dtype=torch.float64)
    expected = _ridge_path_band(K, y, r, None)
    scratch = K.clone()
    in_place = _ridge_path_band(scratch, y, r, None, overwrite_k=True)
    torch.testing.assert_close(in_place[0], expected[0], rtol=0, atol=0)
    assert not torch.equal(scratch, K)  # it did work in place
    # the banded Cholesky fails (K - 2 I + delta I is indefinite for delta < 2) after the
    # reduction has overwritten the matrix: it must be restored before the caller falls
    # back to the eigendecomposition of the same matrix
    bad = K - 2.0 * torch.eye(100, dtype=K.dtype)
    scratch = bad.clone()
    assert _ridge_path_band(scratch, y, r, None, overwrite_k=True) is None
    assert torch.equal(scratch, bad)


def test_learning_curve_matches_direct_solves_at_every_size():
    # sizes around the band width, several trials: the in-place last size and the reused
    # workspace must give what a dense solve per (trial, n, ridge) gives
    g = torch.Generator().manual_seed(2)
    draws = [
        TrialData(*(torch.randn(s, generator=g, dtype=torch.float64) for s in ((150, 3), (150,), (20, 3), (20,))))
        for _ in range(2)
    ]  # fmt: skip
    k = RBF(0.8)
    sizes, ridges = [30, 70, 150], [1e-3, 1e-1, 1.0]
    df = krr_learning_curve(k, lambda t, n: draws[t], sizes, ridges, 2)
    for row in df.itertuples():
        d = draws[row.trial]
        K = gram(k, d.X_train[: row.n])
        c = torch.linalg.solve(K + row.ridge * torch.eye(row.n, dtype=K.dtype), d.y_train[: row.n])
        mse = float(((gram(k, d.X_test, d.X_train[: row.n]) @ c - d.y_test) ** 2).mean())
        assert row.test_mse == pytest.approx(mse, rel=1e-9)


def test_blas_routines_with_another_signature_are_refused():
    # an ILP64 build (64-bit integers) would be called with the wrong argument sizes: the
    # capsule's C signature is checked before any call
    import ctypes
    import types

    from lmech.experiment._band import _capsule_function

    api = ctypes.pythonapi
    api.PyCapsule_New.restype = ctypes.py_object
    api.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    name = b"void (char *, char *, long *, long *, double *, double *, long *, double *, long *, double *, double *, long *)"
    fake = types.SimpleNamespace(__pyx_capi__={"dsymm": api.PyCapsule_New(1, name, None)})
    with pytest.raises(TypeError, match="unexpected signature"):
        _capsule_function(fake, "dsymm", [], "d")
