"""Spectrum dimensions against closed forms and numpy."""

import numpy as np
import pytest

from lmech.data.manifolds import power_law_gaussian
from lmech.measure.geometry import (
    Moments,
    covariance_eigenvalues,
    effective_rank,
    participation_ratio,
    spectral_entropy,
    spectrum_statistics,
    stable_rank,
)


def _with_singular_values(s, n=50, seed=0):
    """A centred (n, p) matrix with exactly the singular values s."""
    g = np.random.default_rng(seed)
    U, _ = np.linalg.qr(g.standard_normal((n, len(s))) - 0.0)
    U -= U.mean(axis=0)
    U, _ = np.linalg.qr(U)
    V, _ = np.linalg.qr(g.standard_normal((len(s), len(s))))
    return U @ np.diag(s) @ V.T


def test_closed_forms_from_known_singular_values():
    s = np.array([3.0, 2.0, 1.0, 0.5])
    X = _with_singular_values(s)
    lam = s**2
    p = lam / lam.sum()
    q = s / s.sum()
    assert participation_ratio(X) == pytest.approx(lam.sum() ** 2 / (lam**2).sum(), rel=1e-10)
    assert spectral_entropy(X) == pytest.approx(-(p * np.log(p)).sum(), rel=1e-10)
    assert effective_rank(X, "eigen") == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-10)
    assert effective_rank(X) == pytest.approx(np.exp(-(q * np.log(q)).sum()), rel=1e-10)
    assert stable_rank(X) == pytest.approx(lam.sum() / 9.0, rel=1e-10)
    assert participation_ratio(X) <= effective_rank(X, "eigen")  # PR <= exp(H)


def test_equal_singular_values_give_the_rank():
    X = _with_singular_values(np.ones(6))
    for value in spectrum_statistics(covariance_eigenvalues(X)).values():
        assert value in (pytest.approx(6.0, rel=1e-10), pytest.approx(np.log(6.0), rel=1e-10))


def test_eigenvalues_match_numpy_covariance():
    X, _ = power_law_gaussian(400, 10, 1.0, seed=1)
    want = np.sort(np.linalg.eigvalsh(np.cov(X.T)))[::-1]
    np.testing.assert_allclose(covariance_eigenvalues(X), want, rtol=1e-10, atol=1e-15)


def test_streamed_moments_equal_direct_covariance():
    X, _ = power_law_gaussian(1000, 12, 1.5, seed=2)
    m = Moments()
    for i in range(0, 1000, 128):
        m.update(X[i : i + 128] + 100.0)  # a large offset: the shift keeps precision
    np.testing.assert_allclose(m.covariance(), np.cov(X.T), rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(m.mean(), X.mean(axis=0) + 100.0, rtol=1e-12)
    np.testing.assert_allclose(m.eigenvalues(), covariance_eigenvalues(X), rtol=1e-8, atol=1e-14)


def test_power_law_cloud_has_its_spectrum():
    X, lam = power_law_gaussian(20000, 8, 1.0, seed=3)
    # sample eigenvalues concentrate within ~ sqrt(2/n) * lam (+ O(p/n) spreading)
    np.testing.assert_allclose(covariance_eigenvalues(X), lam, rtol=0.06)
