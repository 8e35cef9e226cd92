"""The geometry laws' theory functions against Monte Carlo and direct integration."""

import numpy as np
import pytest

from lmech.laws.geometry import cka_invariances as cka_law
from lmech.laws.geometry import effective_rank_steps as rank_law
from lmech.measure.geometry import linear_cka, spectrum_statistics


def test_population_cka_matches_a_large_sample():
    spec = cka_law.PRESETS["quick"]
    lam, A = spec.covariance(), spec.linear_map()
    g = np.random.default_rng(0)
    X = g.standard_normal((40_000, lam.size)) * np.sqrt(lam)
    # debiased CKA at n = 4e4: spread ~ 0.003 (the law measures 0.0023 at n = 2000 / sqrt(20))
    want = cka_law.population_cka(lam, A)
    assert linear_cka(X, X @ A, debiased=True) == pytest.approx(want, abs=0.01)
    assert abs(linear_cka(X, X @ A, debiased=True) - 1) > 0.2  # and far from invariance


def test_wishart_moments_of_the_biased_independent_cka():
    lam = np.array([0.5, 0.3, 0.2])
    n, trials = 20, 20000
    g = np.random.default_rng(1)
    X = g.standard_normal((trials, n, 3)) * np.sqrt(lam)
    Y = g.standard_normal((trials, n, 3)) * np.sqrt(lam)
    Xc, Yc = X - X.mean(1, keepdims=True), Y - Y.mean(1, keepdims=True)
    cross = (np.einsum("tni,tnj->tij", Xc, Yc) ** 2).sum((1, 2))
    selfx = (np.einsum("tni,tnj->tij", Xc, Xc) ** 2).sum((1, 2))
    t, f2 = lam.sum(), (lam**2).sum()
    for sample, want in ((cross, (n - 1) * t * t), (selfx, (n - 1) * n * f2 + (n - 1) * t * t)):
        se = sample.std() / np.sqrt(trials)
        assert abs(sample.mean() - want) < 4 * se
    assert cka_law.biased_independent_cka(lam, n) == pytest.approx(
        (n - 1) * t * t / ((n - 1) * n * f2 + (n - 1) * t * t)
    )


def test_saxe_sigmoid_matches_gradient_descent_on_an_aligned_mode():
    # one decoupled mode of a balanced 2-layer net: a = b, u = a b, du/dt = 2 u (s - u)
    s, u0, lr = 2.0, 1e-6, 1e-3
    a = np.sqrt(u0)
    b = a
    times = np.arange(0, 8000) * lr
    us = []
    for _ in times:
        us.append(a * b)
        ga, gb = -(s - a * b) * b, -(s - a * b) * a
        a, b = a - lr * ga, b - lr * gb
    exact = s * np.exp(2 * s * times) / (np.exp(2 * s * times) - 1 + s / u0)
    np.testing.assert_allclose(us, exact, atol=0.02 * s)
    t_half = times[np.searchsorted(np.asarray(us), s / 2)]
    assert t_half == pytest.approx(np.log(s / u0) / (2 * s), rel=0.02)


def test_plateau_erank_is_the_singular_effective_rank():
    s = np.array([8.0, 2.0, 0.5])
    for k in (1, 2, 3):
        want = spectrum_statistics(s[:k])[
            "effective_rank_singular"
        ]  # eigenvalues s: sigma ~ sqrt(s)
        assert rank_law._erank_sqrt(s[:k]) == pytest.approx(want, rel=1e-12)
