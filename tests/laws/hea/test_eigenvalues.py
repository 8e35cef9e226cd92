"""hea-eigenvalues-gaussian: the measured spectrum and the per-kernel statistics."""

import numpy as np
import pandas as pd
import pytest

from lmech.laws.hea.eigenvalues import LAW, METRICS, Spec, evaluate, experiment, theory
from lmech.seeding import rng


def test_measured_eigenvalues_are_those_of_an_rbf_gram_matrix_on_the_documented_draw():
    spec = Spec(dim=20, top=20, rbf_samples=300, rbf_trials=2, ntk_samples=300)
    meas = experiment(spec, 3, "cpu")
    Z = rng(3, "gaussian-data", "rbf", 1).standard_normal((300, 20))
    Q = np.linalg.qr(Z)[0] * np.sqrt(300)
    np.testing.assert_allclose(Q.T @ Q / 300, np.eye(20), atol=1e-12)  # exact second moments
    X = Q * np.sqrt(spec.gammas("rbf"))
    d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    K = np.exp(-d2 / (2 * spec.bandwidth**2))  # RBF, sigma = bandwidth
    ev = np.sort(np.linalg.eigvalsh(K / 300))[::-1][:20]
    got = meas[(meas["kernel"] == "rbf") & (meas["trial"] == 1)].sort_values("rank")
    np.testing.assert_allclose(got["eigenvalue"], ev, rtol=1e-9)


def test_theory_top_rbf_eigenvalue_is_the_constant_mode():
    # degree 0: lambda = c_0 = E-shell value of the RBF, exp(-q / sigma^2) with q = Tr Sigma = 1
    spec = Spec(dim=20, top=20, rbf_samples=300, rbf_trials=1, ntk_samples=300)
    pred = theory(spec)
    top = pred[(pred["kernel"] == "rbf") & (pred["rank"] == 1)]
    assert top["degree"].item() == 0
    assert top["eigenvalue"].item() == pytest.approx(np.exp(-1.0 / spec.bandwidth**2), rel=1e-10)


def test_evaluate_is_the_max_relative_error_per_kernel():
    pred = pd.DataFrame(
        {
            "kernel": ["rbf", "rbf", "relu-ntk", "relu-ntk"],
            "rank": [1, 2, 1, 2],
            "eigenvalue": [1.0, 0.5, 2.0, 1.0],
            "degree": [0, 1, 0, 1],
        }
    )
    meas = pd.DataFrame(
        {
            "kernel": ["rbf"] * 4 + ["relu-ntk"] * 2,
            "trial": [0, 0, 1, 1, 0, 0],
            "rank": [1, 2, 1, 2, 1, 2],
            "eigenvalue": [0.9, 0.5, 1.1, 0.5, 2.0, 0.8],  # rbf rank 1 averages to 1.0
        }
    )
    values = evaluate(pred, meas).values
    assert values[METRICS["rbf"]] == pytest.approx(0.0)
    assert values[METRICS["relu-ntk"]] == pytest.approx(0.25)  # |1.0 - 0.8| / 0.8
    assert LAW.criterion.statistics == tuple(METRICS.values())
