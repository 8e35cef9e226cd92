"""Bad input to the DMFT solvers and laws: clear lmech.errors exceptions."""

from __future__ import annotations

import numpy as np
import pytest

from lmech.errors import ConfigError, ConvergenceError, InputError
from lmech.theory.dmft import dmft_two_layer, lazy_prediction_variance


def _ok():
    g = np.random.default_rng(0)
    X = g.standard_normal((10, 4))
    return X @ X.T / 4, X[:8, 0]


def test_negative_gamma0():
    Kx, y = _ok()
    with pytest.raises(InputError, match="gamma_0"):
        dmft_two_layer(Kx, y, t_grid=[0, 1], gamma0=-0.1, progress_label=None)


@pytest.mark.parametrize("g", [float("nan"), float("inf"), True, "1"])
def test_gamma0_not_a_number(g):
    Kx, y = _ok()
    with pytest.raises(InputError, match="gamma_0"):
        dmft_two_layer(Kx, y, t_grid=[0, 1], gamma0=g, progress_label=None)


def test_non_psd_gram():
    Kx, y = _ok()
    bad = Kx - 2.0 * np.eye(10) * np.linalg.eigvalsh(Kx)[-1]
    with pytest.raises(InputError, match="positive semi-definite"):
        dmft_two_layer(bad, y, t_grid=[0, 1], progress_label=None)
    with pytest.raises(InputError, match="positive semi-definite"):
        lazy_prediction_variance(bad, y, t_grid=[0, 1])


def test_asymmetric_or_nan_gram():
    Kx, y = _ok()
    a = Kx.copy()
    a[0, 1] += 1.0
    with pytest.raises(InputError, match="symmetric"):
        dmft_two_layer(a, y, t_grid=[0, 1], progress_label=None)
    a = Kx.copy()
    a[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        dmft_two_layer(a, y, t_grid=[0, 1], progress_label=None)


@pytest.mark.parametrize("t", [[0, 1, 1, 2], [0, 2, 1], [1, 2], [0], [0, np.nan]])
def test_time_grid_not_increasing(t):
    Kx, y = _ok()
    with pytest.raises(InputError, match="time grid"):
        dmft_two_layer(Kx, y, t_grid=t, progress_label=None)


def test_too_few_samples_for_tolerance():
    Kx, y = _ok()
    # before the run: without the control variate, 50 particles cannot give 1e-3
    with pytest.raises(InputError, match="at least .* particles"):
        dmft_two_layer(Kx, y, t_grid=[0, 1], n_particles=50, tol=1e-3,
                       control_variate=False, progress_label=None)  # fmt: skip
    # after the run: the rich kernel's MC error with 200 particles exceeds 1e-3
    with pytest.raises(ConvergenceError, match="at least .* particles"):
        dmft_two_layer(Kx, y, t_grid=[0, 5], gamma0=2.0, n_particles=200, tol=1e-3,
                       progress_label=None)  # fmt: skip
    with pytest.raises(InputError, match="n_samples"):
        lazy_prediction_variance(Kx, y, t_grid=[0, 1], n_samples=10)


def test_shapes_and_options():
    Kx, y = _ok()
    with pytest.raises(InputError, match="training targets"):
        dmft_two_layer(Kx, np.ones(11), t_grid=[0, 1], progress_label=None)
    with pytest.raises(InputError, match="y_test"):
        dmft_two_layer(Kx, y, t_grid=[0, 1], y_test=np.ones(3), progress_label=None)
    with pytest.raises(InputError, match="scheme"):
        dmft_two_layer(Kx, y, t_grid=[0, 1], scheme="leapfrog", progress_label=None)
    with pytest.raises(InputError, match="activation"):
        dmft_two_layer(Kx, y, t_grid=[0, 1], activation="softsign", progress_label=None)
    with pytest.raises(InputError, match="n_particles"):
        dmft_two_layer(Kx, y, t_grid=[0, 1], n_particles=1, progress_label=None)


def test_huge_request_refused_before_allocation():
    Kx, y = _ok()
    with pytest.raises(InputError, match="memory"):
        dmft_two_layer(Kx, y, t_grid=[0, 1], n_particles=10**13, progress_label=None)


def test_diverging_step_is_a_convergence_error():
    Kx, y = _ok()
    with pytest.raises(ConvergenceError, match="diverged"):
        dmft_two_layer(100 * Kx, 100 * y, t_grid=[0, 50, 100], gamma0=1.0, scheme="euler",
                       n_particles=500, progress_label=None)  # fmt: skip


def test_law_specs_refuse_bad_values():
    from lmech.laws.dmft.two_layer_rich import Spec

    with pytest.raises(ConfigError):
        Spec(gamma0=-1.0)
    with pytest.raises(ConfigError):
        Spec(widths=(512, 256, 1024))


def test_deep_linear_bad_input():
    from lmech.theory.dmft import dmft_deep_linear, marchenko_pastur_quadrature

    for nu in (0.0, -1.0, float("nan"), True):
        with pytest.raises(InputError, match="nu"):
            dmft_deep_linear(nu, steps=5)
    with pytest.raises(InputError, match="gamma"):
        dmft_deep_linear(1.0, steps=5, gamma=-0.5)
    with pytest.raises(InputError, match="depth=1"):  # the closure is one hidden layer
        dmft_deep_linear(1.0, steps=5, depth=3, solver="quadrature")
    with pytest.raises(InputError, match="parameterization"):
        dmft_deep_linear(1.0, steps=5, parameterization="sp")
    with pytest.raises(InputError, match="steps"):
        dmft_deep_linear(1.0, steps=0)
    with pytest.raises(InputError, match="n_nodes"):
        marchenko_pastur_quadrature(1.0, 0)
    with pytest.raises(InputError, match="batch_ratio"):
        dmft_deep_linear(1.0, steps=5, batch_ratio=-0.5)
    from lmech.experiment.dmft import train_linear_online

    with pytest.raises(InputError, match="batch"):
        train_linear_online(8, [8], seeds=2, steps=2, lr=0.01, batch=0)
    with pytest.raises(InputError, match="memory"):
        train_linear_online(10**5, [10**6], seeds=10**3, steps=2, lr=0.01)
    with pytest.raises(InputError, match="memory"):
        dmft_deep_linear(1.0, steps=5, n_nodes=10**7)
    # lr far beyond the edge 2 / (1 + (1 + nu^-1/2)^2) = 0.4: a ConvergenceError, no NaN
    # (just past the edge the rich dynamics shrink the kernel and recover, measured at 0.5)
    with pytest.raises(ConvergenceError, match="diverged"):
        dmft_deep_linear(1.0, steps=200, lr=1.0, gamma=1.0)


def test_deep_linear_spec_refuses_unstable_or_degenerate_settings():
    from lmech.laws.dmft.deep_linear import Spec

    with pytest.raises(ConfigError, match="unstable"):
        Spec(lr=0.4)
    with pytest.raises(ConfigError, match="widths"):
        Spec(input_dim=16, nus=(0.1, 0.12))
    with pytest.raises(ConfigError, match="log_every"):
        Spec(steps=10, log_every=20)
    with pytest.raises(ConfigError):
        Spec(nus=(2.0, 1.0))


def test_onset_spec_and_engine_refuse_bad_settings():
    from lmech.experiment.dmft import lazy_network_curves, sphere_polynomial_task
    from lmech.laws.dmft.variance_onset import Spec

    with pytest.raises(ConfigError, match="multiple of data_draws"):
        Spec(seeds=10, data_draws=4)
    with pytest.raises(ConfigError, match="max_train"):
        Spec(min_train=50, max_train=40, small_train=45)
    with pytest.raises(ConfigError, match="small_train"):
        Spec(small_train=500)
    with pytest.raises(ConfigError):
        Spec(widths=(1024, 256, 4096))
    with pytest.raises(InputError, match="input_dim >= 4"):
        sphere_polynomial_task(10, 5, 3, 0)
    X, y = sphere_polynomial_task(10, 5, 4, 0)
    with pytest.raises(InputError, match="memory"):
        lazy_network_curves([(X, y)], n_train=10, sizes=[5], widths=[10**12], seeds=1)


def _deep(Kx, y, **kw):
    from lmech.theory.dmft import dmft_deep

    base = dict(t_grid=[0.0, 0.5, 1.0], n_samples=64, n_jacobian=8, progress_label=None)
    base.update(kw)
    return dmft_deep(Kx, y, **base)


def test_deep_refuses_bad_richness_gram_and_grid():
    Kx, y = _ok()
    with pytest.raises(InputError, match="gamma_0"):
        _deep(Kx, y, gamma0=-0.5)
    bad = Kx - 2.0 * np.eye(10) * np.linalg.eigvalsh(Kx)[-1]
    with pytest.raises(InputError, match="positive semi-definite"):
        _deep(bad, y)
    for t in ([0.0, 1.0, 0.5], [0.0, 1.0, 1.0], [0.5, 1.0]):
        with pytest.raises(InputError, match="time grid"):
            _deep(Kx, y, t_grid=t)
    with pytest.raises(InputError, match="equally spaced"):
        _deep(Kx, y, t_grid=[0.0, 0.5, 2.0])


def test_deep_too_few_samples_for_the_requested_tolerance():
    Kx, y = _ok()
    # before the run: 64 samples cannot resolve a kernel to 1e-3; the message names the count
    with pytest.raises(InputError, match="at least .* samples"):
        _deep(Kx, y, mc_tol=1e-3)
    # after the run: the rich kernel's error with 256 samples is above 2e-3
    with pytest.raises(ConvergenceError, match="at least .* samples"):
        _deep(Kx, y, gamma0=2.0, n_samples=4096, n_jacobian=8, mc_tol=2e-2,
              t_grid=np.arange(6) * 1.0)  # fmt: skip


def test_deep_options_and_activation():
    Kx, y = _ok()
    with pytest.raises(InputError, match="unknown DMFT activation 'softsign'"):
        _deep(Kx, y, activation="softsign")
    with pytest.raises(InputError, match="twice-differentiable.*estimator='stein'"):
        _deep(Kx, y, activation="relu", estimator="jacobian")
    with pytest.raises(InputError, match="estimator must be one of"):
        _deep(Kx, y, estimator="jacobians")
    with pytest.raises(InputError, match="depth"):
        _deep(Kx, y, depth=0)
    with pytest.raises(InputError, match="n_samples"):
        _deep(Kx, y, n_samples=4)
    with pytest.raises(InputError, match="damping"):
        _deep(Kx, y, damping=0.0)
    with pytest.raises(InputError, match="y_test"):
        _deep(Kx, y, y_test=np.ones(5))
    with pytest.raises(InputError, match="memory"):
        _deep(Kx, y, n_samples=10**12)
    with pytest.raises(ConvergenceError, match="did not converge"):
        _deep(Kx, y, gamma0=1.0, max_iter=1, tol=1e-12)
    with pytest.raises(ConvergenceError, match="diverged"):
        _deep(100 * Kx, 100 * y, gamma0=1.0, t_grid=np.arange(8) * 50.0, max_iter=2)


def test_predict_and_deep_law_spec_refuse_bad_values():
    from lmech.laws.dmft.deep_rich import Spec
    from lmech.theory.dmft import dmft_predict

    g = np.random.default_rng(0)
    X = g.standard_normal((6, 3))
    for depth in (1, 2):
        with pytest.raises(InputError, match="unknown DMFT activation"):
            dmft_predict(X, X[:, 0], depth=depth, activation="swish", steps=2,
                         progress_label=None)  # fmt: skip
    # ReLU at depth 2 is solved (Stein-estimated responses), not refused
    r = dmft_predict(X, X[:, 0], depth=2, activation="relu", steps=2, n_samples=256,
                     progress_label=None)  # fmt: skip
    assert r.activation == "relu" and np.isfinite(r.train_loss).all()
    with pytest.raises(InputError, match="depth"):
        dmft_predict(X, X[:, 0], depth=0, progress_label=None)
    with pytest.raises(ConfigError):
        Spec(log_every=2)
    with pytest.raises(ConfigError):
        Spec(n_samples=256, n_jacobian=512)
    with pytest.raises(ConfigError):
        Spec(activation="softsign")


def test_mean_field_engine_refuses_unknown_activation():
    from lmech.experiment.dmft import regression_task, train_mean_field

    X, y, yt = regression_task(4, 2, 3, 0)
    with pytest.raises(InputError, match="activation must be one of"):
        train_mean_field(X, y, yt, widths=[8], seeds=1, gamma0=1.0, lr=0.1, steps=1,
                         log_every=1, activation="softsign")  # fmt: skip
