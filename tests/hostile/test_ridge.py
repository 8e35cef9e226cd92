"""Bad input to the ridge theory and simulators: each gets an lmech.errors exception whose
message names what was expected and what came."""

from __future__ import annotations

import numpy as np
import pytest

from lmech.errors import ConfigError, InputError, LmechError
from lmech.experiment.ridge import ar1_gaussian, nonlinear_rf_errors
from lmech.laws import registry
from lmech.seeding import torch_generator
from lmech.theory.ridge import (
    corr_gcv,
    correlated_ridge_risk,
    exponential_correlation,
    gcv,
    kare,
    nearest_neighbour_correlation,
    optimal_ridge,
    random_feature_risk,
    renormalized_ridge,
    rf_krr_risk,
    ridge_risk,
)

S = np.arange(1, 21) ** -1.0
W = np.ones(20)


@pytest.mark.parametrize("P", [0, -5, np.nan, np.inf, [10, 0]])
def test_samples_must_be_positive(P):
    with pytest.raises(InputError, match="samples must be finite and > 0"):
        ridge_risk(S, W, P, 1e-2)
    with pytest.raises(InputError, match="samples"):
        random_feature_risk(S, W, P, 10, 1e-2)


def test_features_must_be_positive():
    with pytest.raises(InputError, match="features must be > 0"):
        random_feature_risk(S, W, 10, 0, 1e-2)
    with pytest.raises(InputError, match="features"):
        rf_krr_risk(S, W, 10, -1, 1e-2)


def test_covariance_not_psd():
    C = np.diag(S)
    C[0, 0] = -0.5
    with pytest.raises(InputError, match="positive semi-definite; got an eigenvalue -0.5"):
        ridge_risk(C, W, 10, 1e-2)
    with pytest.raises(InputError, match="eigenvalues must be >= 0"):
        ridge_risk(-S, W, 10, 1e-2)
    asym = np.diag(S)
    asym[0, 1] = 1.0
    with pytest.raises(InputError, match="symmetric"):
        ridge_risk(asym, W, 10, 1e-2)
    with pytest.raises(InputError, match="at least one positive"):
        ridge_risk(np.zeros(5), np.ones(5), 10, 1e-2)
    with pytest.raises(InputError, match="finite"):
        ridge_risk(np.array([1.0, np.nan]), np.ones(2), 10, 1e-2)


@pytest.mark.parametrize("noise", [-0.1, np.nan, np.inf, "a"])
def test_noise_must_be_nonnegative(noise):
    with pytest.raises(InputError, match="noise_variance must be"):
        ridge_risk(S, W, 10, 1e-2, noise)
    with pytest.raises(InputError, match="noise_variance"):
        correlated_ridge_risk(S, W, np.eye(10), 1e-2, noise)


@pytest.mark.parametrize("ridge", [-1e-3, [1e-2, -1.0], np.nan])
def test_ridge_must_be_nonnegative(ridge):
    with pytest.raises(InputError, match="ridge"):
        ridge_risk(S, W, 10, ridge)
    with pytest.raises(InputError, match="ridge"):
        renormalized_ridge(S, 10, ridge, features=5)


def test_estimators_need_a_positive_ridge():
    X = np.random.default_rng(0).normal(size=(10, 4))
    y = np.ones(10)
    for fn in (lambda: gcv(X, y, 0.0), lambda: corr_gcv(X, y, 0.0, np.eye(10)),
               lambda: kare(X @ X.T, y, 0.0)):  # fmt: skip
        with pytest.raises(InputError, match="ridge must be > 0"):
            fn()
    with pytest.raises(InputError, match="one label per row"):
        gcv(X, np.ones(9), 0.1)
    with pytest.raises(InputError, match=r"\(10, 10\) for 10 samples"):
        corr_gcv(X, y, 0.1, np.eye(9))


@pytest.mark.parametrize("xi", [0.0, -1.0, np.nan, np.inf])
def test_correlation_length_must_be_positive(xi):
    with pytest.raises(InputError, match="correlation length must be finite and > 0"):
        exponential_correlation(10, xi)
    with pytest.raises(InputError, match="correlation length"):
        ar1_gaussian(S, 10, xi, torch_generator(0, "x"))


def test_bad_correlation_matrix():
    K = np.eye(10)
    K[0, 0] = -1.0
    with pytest.raises(InputError, match="correlation must be positive semi-definite"):
        correlated_ridge_risk(S, W, K, 1e-2)
    with pytest.raises(InputError, match=r"strength must be in \[-1/2, 1/2\]"):
        nearest_neighbour_correlation(10, 0.7)
    with pytest.raises(InputError, match="samples must be a positive integer"):
        exponential_correlation(0, 2.0)


def test_teacher_and_ensemble_shapes():
    with pytest.raises(InputError, match="one coefficient per dimension"):
        ridge_risk(S, np.ones(3), 10, 1e-2)
    with pytest.raises(InputError, match="ensemble_size must be an integer >= 1"):
        random_feature_risk(S, W, 10, 5, 1e-2, ensemble_size=0)
    with pytest.raises(InputError, match="broadcast"):
        ridge_risk(S, W, [10, 20], [1e-2, 1e-1, 1.0])
    with pytest.raises(InputError, match="ridge_range"):
        optimal_ridge(S, W, 10, ridge_range=(1.0, 0.1))


def test_activation_must_be_known():
    import torch

    X = torch.zeros(3, 2, dtype=torch.float64)
    with pytest.raises(InputError, match="activation must be 'relu' or 'erf'"):
        nonlinear_rf_errors(X, torch.zeros(3), X, torch.zeros(3), 4, [0.1],
                            torch_generator(0, "a"), activation="tanh")  # fmt: skip


def test_huge_request_is_refused_before_allocating(monkeypatch):
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "0.001")
    from lmech.experiment.ridge import linear_ridge_errors

    with pytest.raises(InputError, match="LMECH_MEMORY_LIMIT_GB"):
        linear_ridge_errors(np.ones(2000), np.ones(2000), 5000, [0.1], 0.1, torch_generator(0, "m"))


@pytest.mark.parametrize(
    ("law", "changes"),
    [
        ("rf-double-descent", {"features": (40, 80, 300)}),  # misses N = P
        ("rf-ensembles-no-free-lunch", {"members": (1, 3)}),  # 3 does not divide 200
        ("rf-kernel-eigenframework", {"positive": 6}),  # same class twice
        ("more-is-better", {"ridge_grid": (1.0, 0.1, 5)}),
    ],
)
def test_law_specs_refuse_inconsistent_fields(law, changes):
    import dataclasses

    spec = registry.get(law).preset("quick")
    with pytest.raises(ConfigError):
        dataclasses.replace(spec, **changes)


def test_every_error_is_an_lmech_error():
    with pytest.raises(LmechError):
        ridge_risk("not an array", W, 10, 1e-2)
