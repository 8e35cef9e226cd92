"""lmech.fit against independent computations: scipy minimizers, closed forms, brute force."""

import numpy as np
import pytest
import scipy.optimize as so
from scipy.special import logsumexp

from lmech.errors import InputError
from lmech.fit import (
    HOFFMANN_2022,
    chinchilla_loss,
    compute_optimal_exponents,
    efficient_frontier,
    fit_chinchilla,
    fit_envelope,
    fit_isoflop,
    fit_powerlaw,
    hoffmann_grid,
)
from lmech.fit._solver import huber, minimize_batched

SMALL_GRID = hoffmann_grid((0.25, 0.75), (0.25, 0.75), (0.0, 0.5, 1.0), (5.0, 10.0), (5.0, 10.0))


def _runs(n=48, seed=0, noise=0.0):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), n))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), n))
    L = chinchilla_loss(N, D, **HOFFMANN_2022) * np.exp(noise * rng.standard_normal(n))
    return N, D, L


def _huber_objective(theta, lN, lD, lL, delta):
    a, b, e, al, be = theta
    pred = logsumexp(np.stack([a - al * lN, b - be * lD, np.full_like(lN, e)]), axis=0)
    r = pred - lL
    return np.where(np.abs(r) <= delta, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta)).sum()


def test_huber_matches_definition():
    r = np.array([-0.01, -1e-3, -5e-4, 0.0, 2e-4, 1e-3, 0.3])
    h, h1, h2 = huber(r, 1e-3)
    want = np.where(np.abs(r) <= 1e-3, r**2 / 2, 1e-3 * (np.abs(r) - 5e-4))
    np.testing.assert_allclose(h, want, rtol=1e-14)
    # derivative by central differences away from the kinks
    eps = 1e-9
    num = (huber(r + eps, 1e-3)[0] - huber(r - eps, 1e-3)[0]) / (2 * eps)
    np.testing.assert_allclose(h1[[0, 2, 3, 4, 6]], num[[0, 2, 3, 4, 6]], atol=1e-7)


def test_solver_gradient_free_check_against_scipy_on_noisy_data():
    # the batched optimum equals a tightly converged scipy L-BFGS-B from the same start
    N, D, L = _runs(noise=0.01)
    fit = fit_chinchilla(N, D, L, grid=SMALL_GRID)
    lN, lD, lL = np.log(N), np.log(D), np.log(L)
    est = fit.estimate
    theta = np.log([est["A"], est["B"], est["E"]]).tolist() + [est["alpha"], est["beta"]]
    ref = so.minimize(
        _huber_objective,
        theta,
        args=(lN, lD, lL, 1e-3),
        method="Nelder-Mead",
        options={"xatol": 1e-12, "fatol": 1e-16, "maxiter": 20000},
    )
    # Nelder-Mead started at our optimum finds nothing lower (to rounding)
    assert ref.fun >= fit.objective - 1e-12 * max(fit.objective, 1e-300)
    assert fit.objective == pytest.approx(
        _huber_objective(np.array(theta), lN, lD, lL, 1e-3), rel=1e-10
    )


def test_noiseless_recovery_to_1e_minus_10():
    N, D, L = _runs()
    fit = fit_chinchilla(N, D, L, grid=SMALL_GRID)
    for k, v in HOFFMANN_2022.items():
        assert fit.estimate[k] == pytest.approx(v, rel=1e-8), k


def test_batched_least_squares_matches_linear_regression():
    # one LSE term: log y = a - alpha u is linear; LS solution is closed form
    rng = np.random.default_rng(3)
    u = rng.standard_normal(30)
    y = 0.7 - 1.3 * u + 0.05 * rng.standard_normal(30)
    design = np.zeros((30, 1, 2))
    design[:, 0, 0], design[:, 0, 1] = 1.0, -u
    res = minimize_batched(rng.standard_normal((7, 2)), design, y, delta=None)
    X = np.stack([np.ones(30), -u], 1)
    want = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(res.theta, np.tile(want, (7, 1)), rtol=1e-9)
    assert res.converged.all()


def test_weights_equal_repeated_rows():
    # bootstrap counts as weights == fitting the data set with rows repeated
    rng = np.random.default_rng(4)
    u = rng.standard_normal(12)
    y = np.log(0.5 + np.exp(1.0 - 0.8 * u)) + 0.01 * rng.standard_normal(12)
    design = np.zeros((12, 2, 3))
    design[:, 0, 0], design[:, 0, 1], design[:, 1, 2] = 1.0, -u, 1.0
    w = rng.integers(0, 3, 12).astype(float)
    theta0 = np.array([[1.0, 0.8, np.log(0.5)]])
    a = minimize_batched(theta0, design, y, w, delta=1e-3)
    rep = np.repeat(np.arange(12), w.astype(int))
    b = minimize_batched(theta0, design[rep], y[rep], delta=1e-3)
    np.testing.assert_allclose(a.value, b.value, rtol=1e-10)
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-6)


def test_efficient_frontier_matches_brute_force():
    p = HOFFMANN_2022
    C = 5.88e23
    n_opt, d_opt = efficient_frontier(C, p["A"], p["B"], p["alpha"], p["beta"])
    grid = np.geomspace(1e9, 1e12, 200001)
    loss = chinchilla_loss(grid, C / (6 * grid), **p)
    assert n_opt == pytest.approx(grid[loss.argmin()], rel=1e-4)
    assert n_opt * d_opt * 6 == pytest.approx(C, rel=1e-12)
    # reference notes: precise values give N_opt ~ 4.07e10, D_opt ~ 2.41e12
    assert n_opt == pytest.approx(4.07e10, rel=5e-3)
    assert d_opt == pytest.approx(2.41e12, rel=5e-3)
    e = compute_optimal_exponents(0.34, 0.28)
    assert e["a"] == pytest.approx(0.28 / 0.62) and e["a"] + e["b"] == pytest.approx(1.0)


def test_bootstrap_intervals_contain_estimate_and_shrink_with_data():
    N, D, L = _runs(n=40, noise=0.01)
    small = fit_chinchilla(N, D, L, grid=SMALL_GRID, bootstrap=60)
    N2, D2, L2 = _runs(n=400, noise=0.01, seed=1)
    big = fit_chinchilla(N2, D2, L2, grid=SMALL_GRID, bootstrap=60)
    for name in ("E", "alpha", "beta", "a"):
        lo, hi = small.interval(name)
        assert lo <= small.estimate[name] <= hi
        blo, bhi = big.interval(name)
        assert bhi - blo < hi - lo, name
    d = small.to_dict()
    assert set(d) == {"E", "A", "B", "alpha", "beta", "a", "b"}
    assert set(d["E"]) == {"estimate", "ci_low", "ci_high", "note"}
    assert small.warnings == () and small.unidentified == {}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"N": [1.0, -2, 3, 4, 5]}, "N must be > 0"),
        ({"loss": [1.0, 2, np.nan, 4, 5]}, "loss must be finite"),
        ({"D": [1.0, 2, 3, 4]}, "same length"),
        ({"N": [1.0] * 4, "D": [1.0] * 4, "loss": [1.0] * 4}, "at least 10 distinct"),
    ],
)
def test_fit_chinchilla_rejects_bad_input(kwargs, match):
    args = {"N": [1e8, 2e8, 3e8, 4e8, 5e8], "D": [1e9] * 5, "loss": [3.0, 2.9, 2.8, 2.7, 2.6]}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        fit_chinchilla(args["N"], args["D"], args["loss"])


def test_powerlaw_with_offset_matches_curve_fit():
    x = np.geomspace(10, 1e5, 40)
    rng = np.random.default_rng(5)
    y = (0.3 + 5 * x**-0.4) * np.exp(0.01 * rng.standard_normal(40))
    fit = fit_powerlaw(x, y)

    def logmodel(x, E, A, alpha):
        return np.log(E + A * x ** (-alpha))

    ref, _ = so.curve_fit(logmodel, x, np.log(y), p0=[0.3, 5, 0.4], xtol=1e-14, ftol=1e-14)
    got = [fit.estimate[k] for k in ("E", "A", "alpha")]
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    exact = fit_powerlaw(x, 5 * x**-0.4, offset=False)
    assert exact.estimate["alpha"] == pytest.approx(0.4, rel=1e-10)
    with pytest.raises(InputError, match="needs at least 4 distinct x values"):
        fit_powerlaw([1.0, 2.0, 3.0], [1.0, 0.5, 0.3])


def _isoflop_data(p=HOFFMANN_2022):
    rows = []
    for C in np.geomspace(6e18, 3e21, 9):
        n0 = efficient_frontier(C, p["A"], p["B"], p["alpha"], p["beta"])[0]
        for N in n0 * np.geomspace(0.3, 3.0, 9):
            rows.append((N, C, chinchilla_loss(N, C / (6 * N), **p)))
    return map(np.array, zip(*rows, strict=True))


def test_isoflop_recovers_parametric_exponent():
    N, C, L = _isoflop_data()
    fit = fit_isoflop(N, C, L, bootstrap=50)
    want = compute_optimal_exponents(HOFFMANN_2022["alpha"], HOFFMANN_2022["beta"])
    # the parabola in log N is an approximation of the exact profile: 3 decimals
    assert fit.estimate["a"] == pytest.approx(want["a"], abs=2e-3)
    assert fit.estimate["a"] + fit.estimate["b"] == pytest.approx(1.0, abs=1e-12)
    lo, hi = fit.table().set_index("parameter").loc["a", ["ci_low", "ci_high"]]
    assert lo <= hi


def test_envelope_recovers_parametric_exponent():
    p = HOFFMANN_2022
    rows = []
    for n in np.geomspace(1e8, 1e11, 16):
        for d in np.geomspace(1e9, 1e13, 80):
            rows.append((n, d, chinchilla_loss(n, d, **p)))
    N, D, L = map(np.array, zip(*rows, strict=True))
    fit = fit_envelope(N, D, L, num_compute=25)
    want = compute_optimal_exponents(p["alpha"], p["beta"])["a"]
    # the envelope picks among 16 discrete sizes (a factor 1.58 apart): slope to ~0.03
    assert fit.estimate["a"] == pytest.approx(want, abs=0.03)
    with pytest.raises(InputError, match=">= 2 model sizes"):
        fit_envelope(np.full(5, 1e8), np.geomspace(1e9, 1e10, 5), np.linspace(3, 2, 5))
