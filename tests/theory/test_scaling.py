"""lmech.theory.scaling against closed forms, brute force and Monte-Carlo simulation, and
the simulators of lmech.experiment.random_features against direct solves and the theory."""

import numpy as np
import pytest
import torch
from scipy.optimize import brentq
from scipy.special import gamma

from lmech.errors import InputError
from lmech.experiment.random_features import (
    nested_population_flow,
    population_flow,
    projection_loss,
    ridgeless_loss,
)
from lmech.seeding import torch_generator
from lmech.theory import scaling as sc


def test_exponents_closed_forms():
    # reference worked examples: (a, b) = (1.5, 1.0) -> L* ~ C^-0.25, N* ~ C^0.5
    e = sc.compute_optimal_exponents(1.5, 1.0)
    assert e["N"] == pytest.approx(0.5) and e["L"] == pytest.approx(-0.25)
    e = sc.compute_optimal_exponents(2.0, 1.5)
    assert e["N"] == pytest.approx(0.4) and e["t"] == pytest.approx(0.6)
    assert e["L"] == pytest.approx(-0.4)
    e = sc.compute_optimal_exponents(1.15, 2.0)
    assert e["N"] == pytest.approx(1 / 3) and e["L"] == pytest.approx(-0.05)
    assert sc.bottleneck_exponents(3.0, 0.5) == {"t": 4.0, "N": 0.5, "P": 1.0}
    # feature learning: hard task beta_s = 0.5 -> 2 * 0.5 / 1.5; easy task unchanged
    assert sc.feature_learning_time_exponent(1.5, 1.0) == pytest.approx(2 / 3)
    assert sc.feature_learning_time_exponent(4.0, 1.0) == pytest.approx(3.0)
    rich = sc.compute_optimal_exponents(1.5, 1.0, feature_learning=True)
    x, m = 2 / 3, 0.5
    assert rich["N"] == pytest.approx(x / (x + m))
    assert rich["L"] == pytest.approx(-x * m / (x + m))
    assert rich["L"] < sc.compute_optimal_exponents(1.5, 1.0)["L"]  # feature learning helps
    with pytest.raises(InputError, match="a must be > 1"):
        sc.time_exponent(1.0, 1.0)


def test_time_limited_sum_and_its_asymptote():
    lam, b2 = sc.power_law_model(200_000, 2.0, 1.5)
    t = np.array([1e2, 1e3])
    brute = np.array([(b2 * np.exp(-2 * lam * ti)).sum() for ti in t])
    np.testing.assert_allclose(sc.loss_time_limited(t, lam, b2), brute, rtol=1e-12)
    # the Gamma-function asymptote: relative error O(t^-1/b)
    x = 1 / 1.5
    want = gamma(x) * (2 * t) ** -x / 1.5
    np.testing.assert_allclose(sc.loss_time_asymptote(t, 2.0, 1.5), want, rtol=1e-12)
    np.testing.assert_allclose(brute, want, rtol=0.05)


def _kappa_brent(lam, n):
    return brentq(lambda k: (lam / (lam + k)).sum() - n, 1e-300, 1e6, xtol=1e-300, rtol=1e-15)


def test_model_and_data_limited_against_brentq():
    lam, b2 = sc.power_law_model(3000, 2.0, 1.5)
    for n in (10, 100, 1000):
        k = _kappa_brent(lam, n)
        want_n = (b2 * k / (lam + k)).sum()
        L = lam / (lam + k)
        want_p = n / (n - (L**2).sum()) * (b2 * (1 - L) ** 2).sum()
        assert sc.loss_model_limited(n, lam, b2) == pytest.approx(want_n, rel=1e-9)
        assert sc.loss_data_limited(n, lam, b2) == pytest.approx(want_p, rel=1e-9)


def test_model_limited_matches_projection():
    # Monte Carlo: residual of beta projected off the span of N Gaussian vectors ~ N(0, Lambda),
    # here with a - 1 > b, where min(a-1, b) and min(a-1, 2b) differ
    rng = np.random.default_rng(0)
    lam, b2 = sc.power_law_model(1000, 2.5, 0.6)
    beta = np.sqrt(b2)
    for n in (25, 100):
        res = []
        for _ in range(6):
            X = np.sqrt(lam)[:, None] * rng.standard_normal((1000, n))  # (M, N) columns
            v = X.T @ beta
            res.append(beta @ beta - v @ np.linalg.solve(X.T @ X, v))  # |(I - proj) beta|^2
        # finite-size fluctuations: the deterministic equivalent within 5%
        assert np.mean(res) == pytest.approx(sc.loss_model_limited(n, lam, b2), rel=0.05)


def test_data_limited_matches_ridgeless_simulation():
    rng = np.random.default_rng(1)
    lam, b2 = sc.power_law_model(1500, 2.0, 1.5)
    beta = np.sqrt(b2)
    p = 100
    res = []
    for _ in range(30):
        G = rng.standard_normal((p, 1500))
        alpha = np.linalg.solve((G * lam) @ G.T, G @ beta)
        err = beta - lam * (G.T @ alpha)
        res.append(err @ err)
    # 30 draws: standard error about 3%
    assert np.mean(res) == pytest.approx(sc.loss_data_limited(p, lam, b2), rel=0.1)


def test_compute_optimal_allocation_against_brute_force():
    lam, b2 = sc.power_law_model(2000, 2.0, 1.5)
    C = 1e4
    widths = np.geomspace(20, 800, 800)
    total = sc.loss_time_limited(C / widths, lam, b2) + sc.loss_model_limited(widths, lam, b2)
    n_star, t_star, l_star = sc.compute_optimal_allocation(C, lam, b2)
    assert n_star[0] == pytest.approx(widths[total.argmin()], rel=0.01)
    assert n_star[0] * t_star[0] == pytest.approx(C)
    assert l_star[0] == pytest.approx(total.min(), rel=1e-4)


def test_bad_inputs():
    lam, b2 = sc.power_law_model(10, 2.0, 1.0)
    with pytest.raises(InputError, match="N must be < the number of modes"):
        sc.loss_model_limited(20, lam, b2)
    with pytest.raises(InputError, match="equal-length"):
        sc.loss_time_limited(1.0, lam, b2[:5])
    with pytest.raises(InputError, match="> 0"):
        sc.loss_data_limited(0, lam, b2)


# the simulators of lmech.experiment.random_features (the rf-* laws' measurements)


def test_simulators_share_draws_and_agree_at_infinite_time():
    lam, b2 = sc.power_law_model(300, 2.0, 1.5)
    beta = np.sqrt(b2)
    times = np.array([1.0, 10.0, np.inf])

    def gen():
        return torch_generator(0, "projection", 0)

    flow = population_flow(lam, beta, 40, times, gen(), "cpu")
    # t = inf: the flow converges to the projection of beta on the span of the 40 features
    proj = projection_loss(lam, beta, (10, 40), gen(), "cpu")
    assert flow[-1] == pytest.approx(proj[-1], rel=1e-9)
    assert np.all(np.diff(flow) < 0) and proj[0] > proj[1]  # loss falls with t and with N
    # nesting: the widest width of the nested flow is the plain flow on the same draw
    nested = nested_population_flow(lam, beta, (10, 40), np.stack([times, times]), gen(), "cpu")
    np.testing.assert_allclose(nested[1], flow, rtol=1e-9)
    np.testing.assert_allclose(nested[0, -1], proj[0], rtol=1e-9)


def test_ridgeless_simulator_against_numpy_and_theory():
    lam, b2 = sc.power_law_model(1500, 2.0, 1.5)
    beta = np.sqrt(b2)
    sizes = (25, 100)
    draws = [ridgeless_loss(lam, beta, sizes, torch_generator(1, "P", k), "cpu") for k in range(20)]
    gen = torch_generator(1, "P", 0)
    G = torch.randn((100, 1500), generator=gen, dtype=torch.float64).numpy()  # the same draw
    for j, p in enumerate(sizes):  # min-norm interpolant error, solved directly
        a = np.linalg.solve((G[:p] * lam) @ G[:p].T, G[:p] @ beta)
        err = beta - lam * (G[:p].T @ a)
        assert draws[0][j] == pytest.approx(err @ err, rel=1e-8)
    # 20 draws: the mean within 10% of the deterministic equivalent (s.e. about 3%)
    np.testing.assert_allclose(
        np.mean(draws, axis=0), sc.loss_data_limited(np.array(sizes), lam, b2), rtol=0.1
    )
