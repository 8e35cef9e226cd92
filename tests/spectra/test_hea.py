"""The HEA spectrum: enumeration, level coefficients, Hermite features, target decomposition.

Each number is checked against an independent computation: brute-force enumeration of
multi-indices, closed forms (Bessel polynomials, binomials, Mehler's formula), the
kernels of :mod:`lmech.kernels` evaluated on the shell, Monte Carlo, and a hand-written
Gram-Schmidt.
"""

import itertools
import math

import numpy as np
import pytest
import torch

from lmech.errors import InputError
from lmech.kernels.base import RBF, Laplace, Linear, Polynomial
from lmech.kernels.infinite import NNGP, NTK
from lmech.spectra.hea import (
    effective_dimension,
    hea_modes,
    hermite_features,
    kernel_series,
    level_coefficients,
    target_coefficients,
)
from tests.tolerances import RTOL


def _brute_force(gammas, c):
    """Every multi-index up to degree len(c) - 1 with its eigenvalue, sorted (decreasing)."""
    g = np.asarray(gammas) / np.sum(gammas)
    out = []
    for level, cl in enumerate(c):
        if cl == 0:
            continue
        for combo in itertools.combinations_with_replacement(range(g.size), level):
            out.append((cl * np.prod(g[list(combo)]), combo))
    out.sort(key=lambda t: -t[0])
    return out


@pytest.mark.parametrize(
    "c",
    [
        [1.0, 0.5, 0.25, 0.125, 0.0625],  # decaying
        [0.2, 3.0, 40.0, 500.0],  # growing: higher degrees outrank lower ones
        [1.0, 0.0, 2.0, 0.0, 3.0],  # zero levels are skipped
    ],
)
def test_enumeration_matches_brute_force(c):
    gammas = [5.0, 3.0, 2.0, 2.0, 1.0, 0.5]  # includes a tie
    brute = _brute_force(gammas, c)
    P = 60
    modes = hea_modes(gammas, c, P)
    expect = np.array([v for v, _ in brute[:P]])
    np.testing.assert_allclose(modes.eigenvalues, expect, rtol=RTOL["float64"])
    # each multi-index appears once and carries its own eigenvalue
    rows = [tuple(r[r >= 0]) for r in modes.indices]
    assert len(set(rows)) == len(rows)
    g = np.array(gammas) / np.sum(gammas)
    for value, deg, row in zip(modes.eigenvalues, modes.degrees, rows, strict=True):
        assert len(row) == deg
        assert value == pytest.approx(c[deg] * np.prod(g[list(row)]), rel=1e-12)
    # asking for more modes than exist returns all of them
    everything = hea_modes(gammas, c, 10**6)
    assert len(everything) == len(brute)


def test_enumeration_scales_to_1e5_modes():
    g = (np.arange(784) + 6.0) ** -2.0
    modes = hea_modes(g, level_coefficients(RBF(1.0), 1.0), 100_000)
    assert len(modes) == 100_000
    assert np.all(np.diff(modes.eigenvalues) <= 0)


def test_exponents_view():
    modes = hea_modes([2.0, 1.0], [1.0, 1.0, 1.0], 6)
    assert modes.exponents()[0] == {}
    assert {0: 2} in modes.exponents() and {0: 1, 1: 1} in modes.exponents()


def test_rbf_level_coefficients_closed_form():
    q, sigma = 2.5, 1.7
    s = sigma**2 / q
    c = level_coefficients(RBF(sigma), q, 8)
    expect = [math.exp(-1 / s) * s**-k for k in range(9)]
    np.testing.assert_allclose(c, expect, rtol=RTOL["float64"])


def _bessel(m, x):
    if m < 0:
        return 1.0
    return sum(
        math.factorial(m + k) / (math.factorial(m - k) * math.factorial(k)) * (x / 2) ** k
        for k in range(m + 1)
    )


def test_laplace_level_coefficients_are_bessel_polynomials():
    # lmech's Laplace is exp(-|x - x'| / sigma): on the shell exp(-sqrt(1 - u) / s) with
    # s = sigma / sqrt(2 q); derivatives e^{-1/s} B_{l-1}(s) / (2 s)^l (reference hea.md)
    q, sigma = 1.3, 2.2
    s = sigma / math.sqrt(2 * q)
    c = level_coefficients(Laplace(sigma), q, 8)
    expect = [math.exp(-1 / s) * _bessel(k - 1, s) / (2 * s) ** k for k in range(9)]
    np.testing.assert_allclose(c, expect, rtol=1e-12)
    assert level_coefficients(Laplace(sigma), q).size == 7  # truncated at degree 6


def _on_shell(kernel, q, u, d=8):
    x = np.zeros(d)
    x[0] = math.sqrt(q)
    z = np.zeros(d)
    z[0], z[1] = math.sqrt(q) * u, math.sqrt(q) * math.sqrt(1 - u * u)
    return kernel.block(torch.tensor(x[None]), torch.tensor(z[None])).item()


@pytest.mark.parametrize(
    "kernel",
    [
        RBF(1.3),
        Laplace(2.0),
        Polynomial(degree=3, scale=0.7, offset=0.4),
        Polynomial(degree=2),  # scale 1/d
        Linear(),
        NNGP(depth=2, weight_std=1.3, bias_std=0.3),
        NTK(depth=3, weight_std=2**0.5, bias_std=0.1),
        NTK(depth=1, weight_std=1.0),
    ],
    ids=lambda k: type(k).__name__,
)
def test_series_sums_to_the_kernel_on_the_shell(kernel):
    q, d = 2.0, 8
    series = kernel_series(kernel, q, 80, dimension=d)
    for u in (-0.5, -0.1, 0.0, 0.3, 0.5):
        value = _on_shell(kernel, q, u, d)
        approx = np.polyval(series[::-1], u)
        assert approx == pytest.approx(value, rel=1e-9, abs=1e-12), u


def test_rbf_hea_converges_to_mehler_eigenvalues():
    # exact eigenvalues of the RBF kernel on N(0, diag(gamma)) (Rasmussen & Williams 4.3.1):
    # lambda_alpha = prod_i sqrt(2 a_i / A_i) B_i^alpha_i, a = 1/(4 gamma), b = 1/(2 sigma^2),
    # A = a + b + sqrt(a^2 + 2ab), B = b / A. The HEA is their wide-bandwidth limit.
    g = (np.arange(12) + 2.0) ** -1.5
    g /= g.sum()

    def exact(sigma, row):
        a, b = 1 / (4 * g), 1 / (2 * sigma**2)
        A = a + b + np.sqrt(a * a + 2 * a * b)
        value = np.prod(np.sqrt(2 * a / A))
        for i in row:
            value *= b / A[i]
        return value

    errs = []
    for sigma in (4.0, 40.0, 400.0):
        modes = hea_modes(g, level_coefficients(RBF(sigma), 1.0), 30)
        rel = [
            abs(v / exact(sigma, row[row >= 0]) - 1)
            for v, row in zip(modes.eigenvalues, modes.indices, strict=True)
        ]
        errs.append(max(rel))
    # the error is first order in gamma_1 / sigma^2 (0.33 / 16 = 0.02 per degree and in the
    # prefactor at sigma = 4): it shrinks exactly 100x per 10x in sigma
    assert errs[0] < 0.1
    assert errs[1] / errs[0] == pytest.approx(0.01, rel=0.05)
    assert errs[2] / errs[1] == pytest.approx(0.01, rel=0.05)


def test_hermite_features_are_orthonormal_under_the_gaussian():
    rng = np.random.default_rng(0)
    N = 200_000
    Z = rng.standard_normal((N, 4))
    modes = hea_modes([4.0, 3.0, 2.0, 1.0], [1.0, 1.0, 1.0, 1.0], 25)
    H = hermite_features(Z, modes)
    G = H.T @ H / N
    # Monte Carlo: entries of G - I have standard error <= sqrt(E[phi^2 psi^2] / N);
    # E[h_3^4] = 1 + 9*... is bounded by ~100 for degree <= 3, so 6 SE = 6 * 10 / sqrt(N)
    assert np.abs(G - np.eye(len(modes))).max() < 6 * 10 / math.sqrt(N)
    # explicit values: h_2(z) = (z^2 - 1)/sqrt 2 for the {0: 2} mode
    m = modes.exponents().index({0: 2})
    np.testing.assert_allclose(H[:, m], (Z[:, 0] ** 2 - 1) / math.sqrt(2), rtol=1e-12)


def test_target_coefficients_equal_hand_written_gram_schmidt():
    rng = np.random.default_rng(1)
    N = 500
    H = rng.standard_normal((N, 6)) + 0.3 * rng.standard_normal((N, 1))  # correlated
    y = rng.standard_normal(N)
    v = target_coefficients(H, y)
    # modified Gram-Schmidt in column order, unit vectors under the empirical measure
    Q = []
    for j in range(H.shape[1]):
        w = H[:, j].copy()
        for qk in Q:
            w -= (qk @ w) / N * qk
        Q.append(w / math.sqrt((w @ w) / N))
    expect = np.array([(qk @ y) / N for qk in Q])
    np.testing.assert_allclose(v, expect, rtol=1e-10, atol=1e-12)


def test_target_coefficients_qr_fallback(monkeypatch):
    import lmech.spectra.hea as hea

    rng = np.random.default_rng(3)
    H = rng.standard_normal((400, 5)) * np.array([1.0, 1e-3, 1.0, 10.0, 1.0])
    y = rng.standard_normal(400)
    fast = target_coefficients(H, y)  # Cholesky path (well conditioned)
    monkeypatch.setattr(hea, "_CHOLESKY_MIN_RCOND", 2.0)  # force Householder QR
    np.testing.assert_allclose(target_coefficients(H, y), fast, rtol=1e-9, atol=1e-12)
    monkeypatch.undo()
    # an exactly repeated column: the Gram matrix is singular, QR keeps the rest and gives
    # the repeat no power
    dup = np.concatenate([H[:, :3], H[:, 1:2], H[:, 3:]], axis=1)
    v = target_coefficients(dup, y)
    assert v[3] == 0.0
    np.testing.assert_allclose(np.delete(v, 3), fast, rtol=1e-9, atol=1e-12)


def test_target_coefficients_recover_a_hermite_target():
    rng = np.random.default_rng(2)
    N = 100_000
    Z = rng.standard_normal((N, 3))
    modes = hea_modes([3.0, 2.0, 1.0], [1.0, 1.0, 1.0], 10)
    H = hermite_features(Z, modes)
    truth = np.zeros(len(modes))
    truth[modes.exponents().index({0: 1})] = 0.8
    truth[modes.exponents().index({1: 1, 2: 1})] = -0.5
    y = H @ truth + 0.3 * rng.standard_normal(N)
    v = target_coefficients(H, y)
    # each coefficient's error has standard deviation ~0.3 / sqrt(N); 6 SE
    np.testing.assert_allclose(v, truth, atol=6 * 0.3 / math.sqrt(N) * 3)


def test_effective_dimension():
    assert effective_dimension(np.ones(7)) == pytest.approx(7.0)
    assert effective_dimension([1.0, 0.0]) == pytest.approx(1.0)


def test_bad_input_is_rejected():
    with pytest.raises(InputError, match="data_eigenvalues"):
        hea_modes([1.0, float("nan")], [1.0], 3)
    with pytest.raises(InputError, match="no variance"):
        hea_modes([0.0, 0.0], [1.0], 3)
    with pytest.raises(InputError, match="level coefficients"):
        hea_modes([1.0], [1.0, -0.1], 3)
    with pytest.raises(InputError, match="num_modes"):
        hea_modes([1.0], [1.0], 0)
    with pytest.raises(InputError, match="trace"):
        kernel_series(RBF(1.0), -1.0, 3)
    with pytest.raises(InputError, match="ReLU"):
        kernel_series(NTK(depth=1, activation="erf"), 1.0, 3, dimension=4)
    with pytest.raises(InputError, match="NTK-parameterized"):
        kernel_series(NTK(depth=1, parameterization="standard", width=8), 1.0, 3, dimension=4)
    with pytest.raises(InputError, match="no HEA expansion"):
        kernel_series(object(), 1.0, 3)
    with pytest.raises(InputError, match="more samples than modes"):
        target_coefficients(np.ones((3, 3)), np.ones(3))
    with pytest.raises(InputError, match="whitened coordinates"):
        hermite_features(np.ones((5, 1)), hea_modes([2.0, 1.0], [1.0, 1.0], 3))
