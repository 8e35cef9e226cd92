"""Tests of lmech.theory.eigenlearning against independent computations.

References used here: scipy's brentq on the kappa equation (written independently of the
solver), mpmath at 50 digits, closed forms, and Monte-Carlo simulation of kernel ridge
regression with Gaussian features.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import expit

# Imported as a module: its public `test_mse` must not look like a test here.
import lmech.theory.eigenlearning as el
from lmech.errors import InputError

# Tolerances of this module, in one place; each says why it is what it is.
TOL = {
    # effective_ridge vs brentq: both converge in log kappa to a few ulp; at kappa ~ 1e-300
    # one ulp of log(kappa) is 1.1e-13 relative, so 1e-12 leaves room but not slack.
    "solver": 1e-12,
    # Formulas recomputed in the test from the same kappa: only rounding differs.
    "closed_form": 1e-12,
    # The reference's sanity table prints 3-4 significant figures.
    "table": 1e-3,
    # Monte Carlo: this many standard errors, plus the eigenlearning estimate's known
    # O(1/n) finite-size bias, allowed as MC_BIAS * theory / n.
    "mc_sigmas": 4.0,
    "mc_bias": 1.0,
}


# --------------------------------------------------------------------------------------
# Independent references.


def brentq_kappa(lam, n, ridge, mult=None) -> float:
    """kappa from scipy's brentq in t = log kappa; 0 where delta = 0 and n >= p.

    The residual sum_i m L_i + delta/kappa - n is written as
    (count above kappa - n) - sum_above m (1 - L) + sum_below m L + delta/kappa with
    L = expit(log lambda - t), so it keeps its precision when n is within rounding of p.
    """
    lam = np.asarray(lam, dtype=float)
    mult = np.ones_like(lam) if mult is None else np.asarray(mult, dtype=float)
    pos = lam > 0
    log_lam, mult = np.log(lam[pos]), mult[pos]
    if ridge == 0 and n >= mult.sum():
        return 0.0
    log_ridge = np.log(ridge) if ridge > 0 else None

    def resid(t):
        above = log_lam > t
        out = mult[above].sum() - n
        out -= np.sum(mult[above] * expit(t - log_lam[above]))
        out += np.sum(mult[~above] * expit(log_lam[~above] - t))
        return out + (np.exp(log_ridge - t) if ridge > 0 else 0.0)

    hi = np.log(np.sum(mult * lam[pos]) + ridge) - np.log(n) + 1.0
    # below delta/n, delta/kappa alone exceeds n; without a ridge, step down until positive
    lo = np.log(ridge / n) - 1.0 if ridge > 0 else min(log_lam.min(), hi) - 10.0
    while resid(lo) < 0:
        lo -= 50.0
    return float(np.exp(brentq(resid, lo, hi, xtol=1e-14, rtol=1e-15, maxiter=500)))


def direct_predictions(lam, v, n, ridge, noise, kappa):
    """The eigenlearning equations written out plainly with numpy at a given kappa."""
    L = lam / (lam + kappa)
    e0 = n / (n - np.sum(L**2))
    test = e0 * (np.sum((1 - L) ** 2 * v**2) + noise)
    train = (ridge / (n * kappa)) ** 2 * test
    return e0, test, train


def power_law(d, alpha):
    x = np.arange(1, d + 1, dtype=float) ** -alpha
    return x / x.sum()


# --------------------------------------------------------------------------------------
# 1. The sanity-check table of the reference (linear kernel, d = 2000).

SANITY = {  # n: (kappa, E_0, test MSE, train MSE): an independent Brent solve of kappa on [1e-14, 1e6]
    10: (4.070e-2, 1.458, 0.5513, 3.33e-6),
    100: (1.201e-3, 1.601, 0.2786, 1.93e-5),
    1000: (1.872e-5, 2.309, 0.2473, 7.06e-4),
}


@pytest.fixture(scope="module")
def sanity_spec():
    lam = power_law(2000, 1.5)
    v = np.sqrt(power_law(2000, 1.5))  # v_i^2 ~ i^-1.5, sum v^2 = 1
    return lam, v, 0.1, 1e-3  # eigenvalues, coefficients, eps^2, delta


@pytest.mark.parametrize("n", sorted(SANITY))
def test_sanity_table(sanity_spec, n):
    lam, v, noise, ridge = sanity_spec
    # Independent solve, as the table's spec says: Brent on [1e-14, 1e6].
    kappa_ref = brentq(
        lambda k: np.sum(lam / (lam + k)) + ridge / k - n, 1e-14, 1e6, xtol=1e-300, rtol=1e-15
    )
    e0_ref, test_ref, train_ref = direct_predictions(lam, v, n, ridge, noise, kappa_ref)
    table = el.learning_curve(lam, v, n, ridge, noise_variance=noise).iloc[0]
    got = np.array(
        [table["kappa"], table["overfitting_coefficient"], table["test_mse"], table["train_mse"]]
    )
    np.testing.assert_allclose(
        got, [kappa_ref, e0_ref, test_ref, train_ref], rtol=TOL["closed_form"] * 100
    )
    np.testing.assert_allclose(got, SANITY[n], rtol=TOL["table"])


# --------------------------------------------------------------------------------------
# 2. Monte Carlo: linear KRR on Gaussian features.


def simulate_krr(lam, v, n, ridge, noise, trials, seed, hidden=0.0):
    """Per-trial test MSE (noisy test label) and train MSE of KRR with a linear kernel.

    x ~ N(0, diag(lam)), so phi_i = x_i / sqrt(lam_i) are orthonormal and the linear kernel
    has eigenvalues lam; f*(x) = sum_i v_i phi_i(x) + sqrt(hidden) z with z ~ N(0, 1) a
    direction the kernel cannot see (an eigenvalue-0 mode). The test MSE is exact given the
    fitted weights: sum_i lam_i (w_hat_i - w_i)^2 + hidden + eps^2.
    """
    rng = np.random.default_rng(seed)
    d = lam.size
    w = v / np.sqrt(lam)
    X = rng.standard_normal((trials, n, d)) * np.sqrt(lam)  # (T, n, d) features
    y = X @ w + np.sqrt(noise + hidden) * rng.standard_normal((trials, n))  # (T, n)
    Xt = X.transpose(0, 2, 1)
    if n <= d:  # kernel form: w_hat = X^T (X X^T + delta I)^-1 y
        alpha = np.linalg.solve(X @ Xt + ridge * np.eye(n), y[..., None])
        w_hat = (Xt @ alpha)[..., 0]
    else:  # primal form, the same predictor; the delta -> 0 limit is OLS
        w_hat = np.linalg.solve(Xt @ X + ridge * np.eye(d), Xt @ y[..., None])[..., 0]
    test = np.sum(lam * (w_hat - w) ** 2, axis=1) + hidden + noise
    train = np.mean((y - (X @ w_hat[..., None])[..., 0]) ** 2, axis=1)
    return test, train


def assert_mc_close(samples, theory, n):
    mean = samples.mean()
    se = samples.std(ddof=1) / np.sqrt(samples.size)
    allowed = TOL["mc_sigmas"] * se + TOL["mc_bias"] * abs(theory) / n
    assert abs(mean - theory) <= allowed, (mean, se, theory)


@pytest.mark.parametrize("n", [20, 100])
@pytest.mark.parametrize("ridge", [0.0, 1e-2])
def test_monte_carlo_krr(n, ridge):
    d, noise = 200, 0.1
    lam = power_law(d, 1.5)
    v = np.sqrt(power_law(d, 1.0))
    test, train = simulate_krr(lam, v, n, ridge, noise, trials=300, seed=1000 + n)
    assert_mc_close(test, float(el.test_mse(lam, v, n, ridge, noise_variance=noise)), n)
    train_theory = float(el.train_mse(lam, v, n, ridge, noise_variance=noise))
    if ridge == 0:
        assert train_theory == 0.0
        assert train.max() < 1e-20  # KRR interpolates
    else:
        assert_mc_close(train, train_theory, n)


@pytest.mark.parametrize("n", [30, 60, 200])
def test_monte_carlo_ols_limit(n):
    """delta = 0 with n > p: kappa = 0 and the OLS risks, the unseen target power as noise."""
    p, noise, hidden = 20, 0.1, 0.2
    lam = power_law(p, 1.0)
    v = np.sqrt(0.7 * lam)
    lam_all, v_all = np.append(lam, 0.0), np.append(v, np.sqrt(hidden))
    assert el.effective_ridge(lam_all, n) == 0.0
    test, train = simulate_krr(lam, v, n, 0.0, noise, trials=400, seed=2000 + n, hidden=hidden)
    train_theory = float(el.train_mse(lam_all, v_all, n, noise_variance=noise))
    # E[train MSE of OLS] = (n - p)/n sigma^2 exactly, sigma^2 = hidden + eps^2
    assert train_theory == pytest.approx((n - p) / n * (hidden + noise), rel=TOL["closed_form"])
    assert_mc_close(train, train_theory, n)
    test_theory = float(el.test_mse(lam_all, v_all, n, noise_variance=noise))
    assert test_theory == pytest.approx(n / (n - p) * (hidden + noise), rel=TOL["closed_form"])
    if n >= 3 * p:  # the exact Gaussian OLS risk is (n-1)/(n-p-1) sigma^2: bias O(p/n^2)
        assert_mc_close(test, test_theory, n)


# --------------------------------------------------------------------------------------
# 3. The kappa solver.


def random_spectrum(seed):
    """A spectrum from one of several families, with optional zeros and multiplicities."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 600))
    family = seed % 5
    if family == 0:
        lam = np.arange(1, size + 1, dtype=float) ** -rng.uniform(0.5, 3.0)
    elif family == 1:
        lam = np.exp(-rng.uniform(0, 50) * np.arange(size) / size)
    elif family == 2:
        lam = np.exp(rng.normal(0, rng.uniform(0.1, 20), size))
    elif family == 3:
        lam = 10.0 ** rng.uniform(-300, 3, size)
    else:
        lam = rng.exponential(size=size)
        lam[rng.random(size) < 0.3] = 0.0
        lam[0] = 1.0
    mult = rng.integers(1, 20, size).astype(float) if seed % 2 else None
    return lam, mult, rng


@pytest.mark.parametrize("seed", range(20))
def test_effective_ridge_matches_brentq(seed):
    lam, mult, rng = random_spectrum(seed)
    p = float((lam > 0).sum() if mult is None else mult[lam > 0].sum())
    ns = np.concatenate([rng.uniform(0.05, 2 * p, 4), [p - 1e-6, max(p - 1, 0.5), p, p + 0.5]])
    ns = ns[ns > 0]
    ridges = np.array([0.0, 10.0 ** rng.uniform(-300, -100), 10.0 ** rng.uniform(-8, 1)])
    got = el.effective_ridge(lam, ns[:, None], ridges[None, :], multiplicities=mult)
    assert got.shape == (ns.size, ridges.size)
    want = np.array([[brentq_kappa(lam, n, r, mult) for r in ridges] for n in ns])
    np.testing.assert_array_equal(got == 0, want == 0)
    np.testing.assert_allclose(got, want, rtol=TOL["solver"], atol=0)


def test_wide_spectrum_1e300():
    lam = np.logspace(3, -300, 400)
    ns = np.array([0.5, 3.0, 50.0, 200.0, 399.0, 399.999, 400.0, 1000.0])
    ridges = np.array([0.0, 1e-280, 1e-3, 1e5])
    with np.errstate(all="raise"):
        got = el.effective_ridge(lam, ns[:, None], ridges[None, :])
    assert np.isfinite(got).all() and (got >= 0).all()
    want = np.array([[brentq_kappa(lam, n, r) for r in ridges] for n in ns])
    np.testing.assert_allclose(got, want, rtol=TOL["solver"], atol=0)
    assert (got[ns >= 400, 0] == 0).all() and (got[ns < 400, 0] > 0).all()


def test_tiny_ridge_at_interpolation_threshold_matches_mpmath():
    """n = p and delta -> 0: kappa ~ sqrt(delta / sum 1/lambda), far below rounding of p."""
    mpmath = pytest.importorskip("mpmath")
    lam = power_law(40, 2.0)
    cases = [(40.0, 1e-200), (40.0 - 1e-9, 0.0), (39.0, 0.0), (45.0, 1e-250)]
    got = [float(el.effective_ridge(lam, n, r)) for n, r in cases]
    with mpmath.workdps(50):
        lam_mp = [mpmath.mpf(x) for x in lam]
        for (n, ridge), kappa in zip(cases, got, strict=True):

            def resid(t, n=n, ridge=ridge):
                k = mpmath.exp(t)
                return mpmath.fsum(x / (x + k) for x in lam_mp) + mpmath.mpf(ridge) / k - n

            # the root is unique, so starting the secant search at our kappa is harmless
            want = mpmath.exp(mpmath.findroot(resid, mpmath.log(kappa)))
            assert kappa == pytest.approx(float(want), rel=TOL["solver"])


def test_ridgeless_at_or_above_p_returns_exact_zero():
    lam = np.array([1.0, 0.5, 0.0, 0.25, 0.0])
    mult = np.array([1.0, 3.0, 7.0, 2.0, 1.0])  # p = 6 positive modes
    kappa = el.effective_ridge(lam, [5.0, 6.0, 6.5, 100.0], multiplicities=mult)
    assert kappa[0] > 0
    np.testing.assert_array_equal(kappa[1:], 0.0)
    np.testing.assert_array_equal(el.learnabilities(lam, 0.0), [1, 1, 0, 1, 0])
    e0 = el.overfitting_coefficient(lam, [6.0, 6.5, 100.0], 0.0, multiplicities=mult)
    np.testing.assert_allclose(e0, [np.inf, 6.5 / 0.5, 100 / 94], rtol=TOL["closed_form"])


@pytest.mark.parametrize("seed", range(4))
def test_conservation_law(seed):
    lam, mult, rng = random_spectrum(seed)
    m = np.ones_like(lam) if mult is None else mult
    p = m[lam > 0].sum()
    ns = rng.uniform(0.1, 0.99 * p, 5)
    ridges = np.array([0.0, 1e-6, 1.0])
    kappa = el.effective_ridge(lam, ns[:, None], ridges[None, :], multiplicities=mult)
    L = el.learnabilities(lam, kappa)  # (5, 3, P)
    assert L.shape == kappa.shape + lam.shape
    # eq. conservation law: sum_i m_i L_i = n - delta / kappa
    np.testing.assert_allclose(np.sum(m * L, axis=-1), ns[:, None] - ridges / kappa, rtol=1e-10)
    # the same through 1 - L_i = kappa / (lambda_i + kappa), exact where L_i is near 1
    one_minus_l = np.where(lam > 0, kappa[..., None] / (lam + kappa[..., None]), 0.0)
    np.testing.assert_allclose(
        np.sum(m * one_minus_l, axis=-1),
        p - ns[:, None] + ridges / kappa,
        rtol=1e-10,
        atol=1e-10 * p,
    )


def test_zero_eigenvalues_contribute_nothing_to_kappa():
    lam = power_law(50, 1.3)
    v = np.sqrt(power_law(50, 1.0))
    lam0, v0 = np.concatenate([lam, np.zeros(5)]), np.concatenate([v, np.full(5, 0.1)])
    np.testing.assert_array_equal(
        el.effective_ridge(lam, [5.0, 20.0], 1e-3), el.effective_ridge(lam0, [5.0, 20.0], 1e-3)
    )
    kappa = el.effective_ridge(lam0, 10.0, 1e-3)
    np.testing.assert_array_equal(el.learnabilities(lam0, kappa)[-5:], 0.0)
    # zero modes are pure bias: the bracket grows by their power
    clean = el.test_mse(lam0, v0, 10.0, 1e-3, include_noise=False)
    e0 = el.overfitting_coefficient(lam0, 10.0, kappa)
    assert clean == pytest.approx(
        float(el.test_mse(lam, v, 10.0, 1e-3, include_noise=False)) + e0 * 5 * 0.01,
        rel=TOL["closed_form"],
    )


def test_multiplicities_equal_repeated_modes():
    lam = np.array([1.0, 0.3, 0.02, 1e-4])
    mult = np.array([1.0, 4.0, 10.0, 30.0])
    power = np.array([0.5, 0.3, 0.15, 0.05])  # total target power of each level
    reps = mult.astype(int)
    lam_rep = np.repeat(lam, reps)
    v_rep = np.repeat(np.sqrt(power / mult), reps)
    ns, ridge = np.array([2.0, 7.5, 30.0, 44.0, 60.0]), np.array([[0.0], [1e-3]])
    for func in (el.test_mse, el.train_mse):
        got = func(lam, np.sqrt(power), ns, ridge, noise_variance=0.05, multiplicities=mult)
        want = func(lam_rep, v_rep, ns, ridge, noise_variance=0.05)
        np.testing.assert_allclose(got, want, rtol=TOL["solver"])


def test_shapes_and_scalars():
    lam = power_law(30, 1.5)
    kappa = el.effective_ridge(lam, 10, 0.1)
    assert isinstance(kappa, np.ndarray) and kappa.shape == ()
    assert el.effective_ridge(lam, [[5], [10], [20]], [0.0, 1e-2]).shape == (3, 2)
    assert el.learnabilities(lam, np.ones((2, 3))).shape == (2, 3, 30)
    assert el.test_mse(lam, np.sqrt(lam), [5, 10]).shape == (2,)


def test_large_spectrum_is_fast_and_a_root():
    """2e6 modes x 20 sizes x 3 ridges: each kappa brackets a sign change of the residual."""
    lam = np.arange(1, 2_000_001, dtype=float) ** -1.2
    ns = np.logspace(0, 5.5, 20)
    ridges = np.array([0.0, 1e-6, 1e-1])
    start = time.perf_counter()
    kappa = el.effective_ridge(lam, ns[:, None], ridges[None, :])
    elapsed = time.perf_counter() - start
    assert elapsed < 10.0, f"took {elapsed:.1f} s"  # about 1 s on 2 cores
    assert (kappa > 0).all()
    for i, j in [(0, 0), (10, 1), (19, 0), (19, 2)]:
        n, ridge, k = ns[i], ridges[j], kappa[i, j]

        def resid(kk, n=n, ridge=ridge):  # plain numpy, as written in the paper
            return np.sum(lam / (lam + kk)) + ridge / kk - n

        eps = 1e-10
        assert resid(k * (1 - eps)) > 0 > resid(k * (1 + eps))


# --------------------------------------------------------------------------------------
# Risks.


def test_risks_match_direct_formulas():
    lam = power_law(300, 1.4)
    v = np.sqrt(power_law(300, 1.1))
    noise = 0.05
    frame = el.learning_curve(lam, v, [3.5, 40, 250], [0.0, 1e-4, 0.3], noise_variance=noise)
    assert list(frame.columns) == [
        "n", "ridge", "kappa", "overfitting_coefficient", "learnability",
        "test_mse", "test_mse_clean", "train_mse",
    ]  # fmt: skip
    assert len(frame) == 9
    np.testing.assert_array_equal(frame["n"], np.repeat([3.5, 40, 250], 3))
    np.testing.assert_array_equal(frame["ridge"], np.tile([0.0, 1e-4, 0.3], 3))
    for row in frame.itertuples():
        kappa = brentq_kappa(lam, row.n, row.ridge)
        e0, test, train = direct_predictions(lam, v, row.n, row.ridge, noise, kappa)
        L = lam / (lam + kappa)
        want = [kappa, e0, np.sum(L * v**2), test, test - noise, train]
        got = [row.kappa, row.overfitting_coefficient, row.learnability]
        got += [row.test_mse, row.test_mse_clean, row.train_mse]
        np.testing.assert_allclose(got, want, rtol=1e-9)
        assert row.train_mse == (0.0 if row.ridge == 0 else pytest.approx(train))
        assert float(el.target_learnability(lam, v, row.kappa)) == pytest.approx(row.learnability)
        assert float(el.overfitting_coefficient(lam, row.n, row.kappa)) == pytest.approx(e0)


def test_train_mse_at_kappa_zero_is_the_ridge_limit():
    """The delta = 0, n > p value equals (delta/(n kappa))^2 E_te as delta -> 0."""
    lam = np.array([1.0, 0.4, 0.1, 0.0])
    v = np.array([0.6, 0.5, 0.3, 0.2])
    n, noise = 9.0, 0.1
    at_zero = float(el.train_mse(lam, v, n, 0.0, noise_variance=noise))
    near_zero = el.train_mse(lam, v, n, [1e-6, 1e-9, 1e-12], noise_variance=noise)
    assert at_zero == pytest.approx((n - 3) / n * (0.2**2 + noise), rel=TOL["closed_form"])
    np.testing.assert_allclose(near_zero, at_zero, rtol=1e-5)
    assert np.all(np.diff(np.abs(near_zero - at_zero)) < 0)  # converging
    test_at_zero = float(el.test_mse(lam, v, n, 0.0, noise_variance=noise))
    test_near = el.test_mse(lam, v, n, 1e-12, noise_variance=noise)
    assert test_near == pytest.approx(test_at_zero, rel=1e-9)


def test_interpolation_threshold_n_equals_p():
    lam = np.array([1.0, 0.5, 0.25])
    v = np.array([0.5, 0.5, 0.5])
    assert el.test_mse(lam, v, 3.0, noise_variance=0.1) == np.inf
    assert el.test_mse(lam, v, 3.0, noise_variance=0.1, include_noise=False) == np.inf
    assert el.train_mse(lam, v, 3.0, noise_variance=0.1) == 0.0
    # nothing to amplify: the delta -> 0 limit of E_0 * 0 is 0, not NaN
    assert el.test_mse(lam, v, 3.0) == 0.0
    assert el.test_mse(lam, v, 3.0, 1e-14) < 1e-6


# --------------------------------------------------------------------------------------
# 4. Bad inputs: InputError with a one-line message.

GOOD_LAM, GOOD_V = np.array([1.0, 0.5, 0.1]), np.array([0.3, 0.2, 0.1])
BAD_INPUTS = {
    "nan_eigenvalues": (lambda: el.effective_ridge([np.nan, 1.0, np.nan], 2.0), "2 NaN"),
    "inf_eigenvalues": (lambda: el.effective_ridge([1.0, np.inf], 2.0), "inf"),
    "negative_eigenvalues": (lambda: el.effective_ridge([1.0, -0.1], 2.0), "negative"),
    "all_zero_eigenvalues": (lambda: el.effective_ridge([0.0, 0.0], 2.0), "positive"),
    "2d_eigenvalues": (lambda: el.effective_ridge(np.ones((2, 2)), 2.0), "1-D"),
    "empty_eigenvalues": (lambda: el.effective_ridge([], 2.0), "1-D"),
    "text_eigenvalues": (lambda: el.effective_ridge(["a", "b"], 2.0), "dtype"),
    "zero_n": (lambda: el.effective_ridge(GOOD_LAM, 0), "n must be"),
    "negative_n": (lambda: el.effective_ridge(GOOD_LAM, [5, -1]), "n must be"),
    "nan_n": (lambda: el.effective_ridge(GOOD_LAM, np.nan), "n must be"),
    "negative_ridge": (lambda: el.effective_ridge(GOOD_LAM, 2.0, -1e-3), "ridge must be"),
    "inf_ridge": (lambda: el.effective_ridge(GOOD_LAM, 2.0, np.inf), "ridge must be"),
    "unbroadcastable": (lambda: el.effective_ridge(GOOD_LAM, [1, 2], [0, 1, 2]), "broadcast"),
    "short_multiplicities": (
        lambda: el.effective_ridge(GOOD_LAM, 2.0, multiplicities=[1, 2]),
        "one entry per eigenvalue",
    ),
    "zero_multiplicities": (
        lambda: el.effective_ridge(GOOD_LAM, 2.0, multiplicities=[1, 0, 2]),
        "multiplicities must be > 0",
    ),
    "short_coefficients": (lambda: el.test_mse(GOOD_LAM, [1.0, 2.0], 2.0), "coefficients"),
    "nan_coefficients": (lambda: el.train_mse(GOOD_LAM, [1.0, np.nan, 0], 2.0), "NaN"),
    "negative_noise": (
        lambda: el.test_mse(GOOD_LAM, GOOD_V, 2.0, noise_variance=-0.1),
        "noise_variance",
    ),
    "array_noise": (
        lambda: el.test_mse(GOOD_LAM, GOOD_V, 2.0, noise_variance=[0.1, 0.2]),
        "noise_variance",
    ),
    "negative_kappa": (lambda: el.learnabilities(GOOD_LAM, -1.0), "kappa"),
    "overfitting_bad_n": (lambda: el.overfitting_coefficient(GOOD_LAM, -2.0, 0.1), "n must"),
    "zero_target_curve": (lambda: el.learning_curve(GOOD_LAM, np.zeros(3), 2.0), "zero"),
    "zero_target_learnability": (lambda: el.target_learnability(GOOD_LAM, [0, 0, 0], 1.0), "zero"),
    "2d_grid_curve": (lambda: el.learning_curve(GOOD_LAM, GOOD_V, [[1.0, 2.0]]), "1-D"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_inputs_raise_one_line_input_error(case):
    call, fragment = BAD_INPUTS[case]
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    assert fragment in message
    assert "; got " in message  # what was expected; what came; how to fix


def test_nan_message_names_the_indices():
    with pytest.raises(InputError, match=r"got 3 NaN values at indices \[0, 5, 7\]; drop or fix"):
        el.effective_ridge(np.where(np.isin(np.arange(9), [0, 5, 7]), np.nan, 1.0), 2.0)


# --------------------------------------------------------------------------------------
# 5. No torch.


def test_import_does_not_pull_torch():
    code = (
        "import sys, lmech.theory.eigenlearning, lmech.theory; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
