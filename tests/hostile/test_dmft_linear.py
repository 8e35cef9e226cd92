"""Bad input to the finite-width variance solvers and the deep-linear theory: clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from lmech.errors import ConvergenceError, InputError
from lmech.theory.dmft import dmft_deep_linear
from lmech.theory.dmft.finite_width import rich_prediction_variance


def _task(P=6, PT=3, D=4):
    X = np.random.default_rng(0).standard_normal((P + PT, D))
    return X @ X.T / D, np.ones(P)


@pytest.mark.parametrize("gamma0", [0.0, -1.0, float("nan"), float("inf"), True, "1"])
def test_bad_gamma0(gamma0):
    Kx, y = _task()
    with pytest.raises(InputError, match="gamma0"):
        rich_prediction_variance(Kx, y, gamma0=gamma0, lr=0.1, steps=2, n_particles=500)


@pytest.mark.parametrize("M", [10, 499, 1000.5, True])
def test_too_few_particles(M):
    Kx, y = _task()
    with pytest.raises(InputError, match="n_particles"):
        rich_prediction_variance(Kx, y, gamma0=1.0, lr=0.1, steps=2, n_particles=M)


def test_non_psd_gram_and_bad_points_and_steps():
    Kx, y = _task()
    bad = Kx.copy()
    bad[0, 0] = -5.0
    with pytest.raises(InputError):
        rich_prediction_variance(bad, y, gamma0=1.0, lr=0.1, steps=2, n_particles=500)
    with pytest.raises(InputError, match="points"):
        rich_prediction_variance(Kx, y, gamma0=1.0, lr=0.1, steps=2, n_particles=500,
                                 points=[99])  # fmt: skip
    with pytest.raises(InputError, match="points"):
        rich_prediction_variance(Kx, y, gamma0=1.0, lr=0.1, steps=2, n_particles=500,
                                 points=[])  # fmt: skip
    for steps in (0, -3, 2.5):
        with pytest.raises(InputError, match="steps"):
            rich_prediction_variance(Kx, y, gamma0=1.0, lr=0.1, steps=steps, n_particles=500)
    for lr in (0.0, -0.1, float("inf")):
        with pytest.raises(InputError, match="lr"):
            rich_prediction_variance(Kx, y, gamma0=1.0, lr=lr, steps=2, n_particles=500)
    with pytest.raises(InputError, match="activation"):
        rich_prediction_variance(Kx, y, gamma0=1.0, lr=0.1, steps=2, n_particles=500,
                                 activation="gelu")  # fmt: skip


def test_divergence_is_a_convergence_error():
    Kx, y = _task()
    with pytest.raises(ConvergenceError, match="lower lr"):
        rich_prediction_variance(Kx, 50 * y, gamma0=1.0, lr=50.0, steps=200, n_particles=500)


@pytest.mark.parametrize(
    "kw",
    [dict(nu=0.0), dict(nu=-1.0), dict(nu=1.0, lr=0.0), dict(nu=1.0, gamma=-1.0),
     dict(nu=1.0, depth=0), dict(nu=1.0, parameterization="sp"), dict(nu=1.0, steps=0),
     dict(nu=1.0, batch_ratio=0.0)],
)  # fmt: skip
def test_deep_linear_bad_input(kw):
    kw = {"steps": 5, **kw}
    with pytest.raises(InputError):
        dmft_deep_linear(kw.pop("nu"), **kw)


def test_deep_linear_divergence():
    with pytest.raises(ConvergenceError, match="lower lr"):
        dmft_deep_linear(0.25, steps=200, lr=0.6, gamma=1.0)


@pytest.mark.parametrize(
    "kw, match",
    [(dict(depth=2.5), "depth"), (dict(depth=True), "depth"), (dict(depth=-1), "depth"),
     (dict(depth=2, residual="yes"), "residual"), (dict(solver="exact"), "solver"),
     (dict(depth=2, solver="quadrature"), "quadrature"), (dict(depth=2, gamma=0.0), "gamma > 0"),
     (dict(depth=2, tol=0.0), "tol"), (dict(depth=2, tol=float("nan")), "tol"),
     (dict(depth=2, max_iter=0), "max_iter"), (dict(depth=3, batch_ratio=-1.0), "batch_ratio"),
     (dict(data_ratio=0.0), "data_ratio"), (dict(data_ratio=1.0, batch_ratio=1.0), "not both"),
     (dict(data_ratio=1.0, solver="quadrature"), "repeated data"),
     (dict(spectrum=[1.0, -0.5]), "spectrum"), (dict(spectrum=[[1.0]]), "spectrum"),
     (dict(spectrum=[1.0, 0.5], target_power=[1.0]), "target_power"),
     (dict(target_power=[1.0]), "needs spectrum"),
     (dict(spectrum=[1.0], batch_ratio=1.0), "population"),
     (dict(spectrum=np.ones(10**7), steps=20), "memory")],
)  # fmt: skip
def test_deep_linear_dmft_bad_input(kw, match):
    with pytest.raises(InputError, match=match):
        dmft_deep_linear(1.0, **{"steps": 5, **kw})


def test_deep_linear_dmft_not_converged_and_diverged():
    with pytest.raises(ConvergenceError, match="did not converge"):
        dmft_deep_linear(1.0, steps=20, lr=0.02, depth=2, max_iter=3)
    with pytest.raises(ConvergenceError, match="lower lr"):
        dmft_deep_linear(1.0, steps=60, lr=0.5, depth=3)


def test_deep_linear_dmft_refuses_a_huge_system():
    with pytest.raises(InputError, match="memory"):
        dmft_deep_linear(1.0, steps=20000, lr=0.01, depth=4)
