"""eigenlearning-digits / eigenlearning-fashion-mnist and the held-out pool engine."""

import numpy as np
import pytest

import lmech.data.images as images_module
from lmech.data.cache import digits
from lmech.data.digits import load_digits_data, one_hot_targets
from lmech.data.images import binary_task, flatten_images, load_fashion_mnist
from lmech.errors import ConfigError
from lmech.experiment.pool import split_pool
from lmech.laws.eigenlearning.pool import (
    LAW_DIGITS,
    LAW_FASHION,
    DigitsSpec,
    FashionSpec,
    experiment,
    theory,
)
from lmech.seeding import rng


def test_split_pool_is_a_seeded_partition():
    pool, rest = split_pool(100, 30, 7, needed=70)
    np.testing.assert_array_equal(np.sort(np.concatenate([pool, rest])), np.arange(100))
    perm = rng(7, "pool-split").permutation(100)  # the stream the docstring names
    np.testing.assert_array_equal(pool, perm[:30])
    assert not np.array_equal(pool, split_pool(100, 30, 8, 70)[0])
    with pytest.raises(ConfigError, match="outside the pool"):
        split_pool(100, 30, 7, needed=71)


def _rbf(A, B, sigma):
    d2 = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T
    return np.exp(-np.maximum(d2, 0) / (2 * sigma**2))


def test_experiment_rows_are_krr_on_the_documented_draws():
    spec = DigitsSpec(pool_size=1500, sizes=(10, 20), ridges=(1e-2,), trials=2)
    meas = experiment(spec, 5, "cpu")
    X, labels = load_digits_data()
    Y = one_hot_targets(labels, 10)
    _, rest = split_pool(1797, 1500, 0, 21)
    order = rng(5, "pool-trial", 1).permutation(rest)
    train, test = order[:10], order[20:]  # prefix of the trial's n_max = 20; tests on the rest
    K = _rbf(X[train], X[train], 3.0)
    pred = _rbf(X[test], X[train], 3.0) @ np.linalg.solve(K + 1e-2 * np.eye(10), Y[train])
    row = meas[(meas["trial"] == 1) & (meas["n"] == 10)]
    assert row["test_mse"].item() == pytest.approx(((pred - Y[test]) ** 2).mean(), rel=1e-10)


def test_theory_at_a_huge_ridge_is_the_pool_target_power():
    # kappa -> infinity: nothing is learned and E_te = sum_i v_i^2 = E_pool[|y|^2] / outputs
    spec = DigitsSpec(pool_size=600, sizes=(10, 40), ridges=(1e9,), trials=2)
    pred = theory(spec)
    pool, _ = split_pool(1797, 600, 0, 41)
    Y = one_hot_targets(digits().labels, 10)[pool]
    np.testing.assert_allclose(pred["test_mse"], (Y**2).mean(), rtol=1e-6)


def test_spec_cross_field_checks():
    with pytest.raises(ConfigError, match="sizes"):
        DigitsSpec(pool_size=1700, sizes=(10, 97))  # 97 images left, none to test on
    DigitsSpec(pool_size=1700, sizes=(10, 96))
    with pytest.raises(ConfigError, match="disjoint"):
        FashionSpec(positive=(5, 7), negative=(7,))
    with pytest.raises(ConfigError, match="one count per size"):
        FashionSpec(trials=(3, 2))


def test_two_laws_share_the_protocol():
    assert (
        LAW_DIGITS.theory is LAW_FASHION.theory and LAW_DIGITS.experiment is LAW_FASHION.experiment
    )
    assert LAW_DIGITS.spec is DigitsSpec and LAW_FASHION.spec is FashionSpec
    # both perturbations exceed twice their law's tolerance
    for law in (LAW_DIGITS, LAW_FASHION):
        assert law.prediction.relative >= 2 * law.criterion.checks[0].bound


def test_fashion_task_is_the_two_classes_pixels_over_255():
    if not (images_module.FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").is_file():
        pytest.skip("dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)")
    X, t = LAW_FASHION.preset("smoke").task()
    (xa, ya), (xb, yb) = load_fashion_mnist("train"), load_fashion_mnist("test")
    images, labels = np.concatenate([xa, xb]), np.concatenate([ya, yb])
    keep = np.flatnonzero(np.isin(labels, [5, 7]))[[0, 1, -1]]
    Xr, tr = binary_task(flatten_images(images[keep]), labels[keep], [5], [7])
    assert len(X) == 14_000
    np.testing.assert_array_equal(X[np.array([0, 1, 13_999])], Xr)
    np.testing.assert_array_equal(t[[0, 1, 13_999]], tr)
