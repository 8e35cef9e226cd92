"""Law-specific checks of the ridge family against independent computations."""

from __future__ import annotations

import numpy as np
import pytest

from lmech.errors import DataUnavailableError
from lmech.laws.ridge import deterministic_equivalent, eigenframework, gcv, more_is_better
from lmech.theory.ridge import random_feature_risk, ridge_risk


def test_null_column_is_the_unrenormalized_risk():
    spec = deterministic_equivalent.PRESETS["smoke"]
    pred = deterministic_equivalent.theory(spec)
    s, w = spec.model()
    for _, row in pred.iterrows():
        lam = row["ridge"]
        # kappa = lambda, gamma = 0: lambda^2 w^T Sigma (Sigma + lambda)^-2 w + sigma^2
        ref = lam**2 * np.sum(w**2 * s / (s + lam) ** 2) + spec.noise_variance
        assert row["null_error"] == pytest.approx(ref, rel=1e-12)
    # the model has unit signal variance and unit trace
    assert np.sum(s) == pytest.approx(1.0) and np.sum(s * w**2) == pytest.approx(1.0)


def test_gcv_law_iid_rows_equal_plain_ridge_theory():
    spec = gcv.PRESETS["smoke"]
    pred = gcv.theory(spec)
    s, w = spec.model()
    iid = pred[pred["correlation_length"] == 0.0]
    ref = ridge_risk(s, w, spec.samples, iid["ridge"].to_numpy(), spec.noise_variance)
    np.testing.assert_allclose(iid["test_error"], ref.test_error, rtol=1e-9)


def test_more_is_better_theory_is_monotone_when_tuned():
    spec = more_is_better.PRESETS["quick"]
    pred = more_is_better.theory(spec)
    for axis in ("features", "samples"):
        tuned = pred[(pred["axis"] == axis) & pred["tuned"]].sort_values("size")
        assert np.all(np.diff(tuned["test_error"]) <= 1e-9)
        # the tuned error never exceeds the fixed-ridge error (independent evaluation)
        fixed = pred[(pred["axis"] == axis) & ~pred["tuned"]].sort_values("size")
        assert np.all(tuned["test_error"].to_numpy() <= fixed["test_error"].to_numpy() + 1e-12)
    # and the fixed-ridge column is the RF theory at that ridge
    s, w = spec.model()
    f = pred[(pred["axis"] == "features") & ~pred["tuned"]].sort_values("size")
    ref = random_feature_risk(s, w, spec.samples, f["size"].to_numpy(), spec.fixed_ridge,
                              spec.noise_variance).test_error  # fmt: skip
    np.testing.assert_allclose(f["test_error"], ref, rtol=1e-12)


def test_pool_eigensystem_trace_and_power():
    """Sum of eigenvalues = mean K(x, x) over the pool; sum v_i^2 = mean y^2 = 1."""
    spec = eigenframework.PRESETS["smoke"]
    try:
        lam, v = eigenframework.eigensystem(spec)
        X, y = spec.pool()
    except DataUnavailableError as err:
        pytest.skip(str(err))
    diag = (X**2).sum(axis=1) / (2 * X.shape[1])  # relu kernel at theta = 0: |x|^2 / (2 d)
    assert lam.sum() == pytest.approx(diag.mean(), rel=1e-10)
    assert (v**2).sum() == pytest.approx(np.mean(y**2), rel=1e-10)
