"""Point clouds of known dimension: geometry checked in closed form."""

import numpy as np
import pytest

from lmech.data.manifolds import (
    hypercube,
    linear_subspace,
    manifold,
    power_law_gaussian,
    random_rotation,
    sphere,
    swiss_roll,
    torus,
)
from lmech.errors import ConfigError


def _rank(X, tol=1e-9):
    s = np.linalg.svd(X, compute_uv=False)
    return int((s > tol * s[0]).sum())


def test_rotation_is_orthogonal_and_seeded():
    Q = random_rotation(7, 3)
    np.testing.assert_allclose(Q @ Q.T, np.eye(7), atol=1e-12)
    np.testing.assert_array_equal(Q, random_rotation(7, 3))
    assert not np.allclose(Q, random_rotation(7, 4))


def test_sphere_points_have_unit_norm_and_span_d_plus_one():
    X = sphere(500, 3, 20, seed=1)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-12)
    assert _rank(X) == 4


def test_torus_is_a_product_of_circles():
    d = 3
    X = torus(400, d, 10, seed=2)
    assert _rank(X) == 2 * d
    np.testing.assert_allclose(
        np.linalg.norm(X, axis=1), 1.0, rtol=1e-12
    )  # sum of d circles / sqrt(d)


def test_hypercube_and_subspace_ranks_and_noise():
    assert _rank(hypercube(300, 4, 12, seed=0)) == 4
    assert _rank(linear_subspace(300, 5, 12, seed=0)) == 5
    noisy = linear_subspace(300, 5, 12, noise=0.01, seed=0)
    assert _rank(noisy) == 12
    resid = noisy - linear_subspace(300, 5, 12, seed=0)
    assert resid.std() == pytest.approx(0.01, rel=0.05)  # 3600 draws: 1.2% standard error


def test_swiss_roll_distances_are_preserved_by_the_embedding():
    a = swiss_roll(200, 3, seed=5)
    b = swiss_roll(200, 9, seed=5)
    Da = np.linalg.norm(a[:, None] - a[None], axis=-1)
    Db = np.linalg.norm(b[:, None] - b[None], axis=-1)
    np.testing.assert_allclose(Da, Db, atol=1e-10)


def test_power_law_cloud_population_spectrum():
    X, lam = power_law_gaussian(50000, 6, 2.0, seed=0)
    assert lam.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(lam[0] / lam[1], 4.0)
    emp = np.sort(np.linalg.eigvalsh(np.cov(X.T)))[::-1]
    np.testing.assert_allclose(emp, lam, rtol=0.04)  # sqrt(2/n) = 0.6% per eigenvalue


def test_manifold_dispatch_and_errors():
    np.testing.assert_array_equal(manifold("sphere", 10, 2, 5, seed=1), sphere(10, 2, 5, seed=1))
    with pytest.raises(ConfigError, match="one of"):
        manifold("klein", 10, 2, 5)
    with pytest.raises(ConfigError, match="swiss roll"):
        manifold("swiss_roll", 10, 3, 5)
    with pytest.raises(ConfigError, match="ambient_dim"):
        sphere(10, 5, 4)
    with pytest.raises(ConfigError):
        hypercube(10, 2, 5, noise=-1.0)
