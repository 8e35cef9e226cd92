"""lmech.fit's public bootstrap pieces against direct computations."""

import numpy as np
import pytest

from lmech.fit import percentile_interval, resample_counts
from lmech.fit.chinchilla import REPORTED, named_parameters
from lmech.seeding import rng


def test_resample_counts_keep_size_and_groups_and_take_generators():
    c = resample_counts(7, 500, 3)
    assert c.shape == (500, 7) and np.all(c.sum(axis=1) == 7)
    # each row is drawn with probability 1/n: mean count 1, variance (1 - 1/n)
    assert c.mean() == pytest.approx(1.0, abs=0.05)
    assert c.var(axis=0).mean() == pytest.approx(6 / 7, rel=0.1)
    groups = np.array([0, 0, 0, 1, 1, 2, 2])
    g = resample_counts(7, 200, 3, groups)
    for label, size in ((0, 3), (1, 2), (2, 2)):
        assert np.all(g[:, groups == label].sum(axis=1) == size)
    # a keyed Generator stream gives the same counts as the same stream again, and
    # differs from another key
    a = resample_counts(7, 5, rng(0, "bootstrap", 1))
    assert np.array_equal(a, resample_counts(7, 5, rng(0, "bootstrap", 1)))
    assert not np.array_equal(a, resample_counts(7, 5, rng(0, "bootstrap", 2)))


def test_percentile_interval_matches_numpy_and_ignores_nan():
    x = np.random.default_rng(0).standard_normal((1000, 2))
    lo, hi = percentile_interval(x, 0.9)
    np.testing.assert_allclose(lo, np.percentile(x, 5, axis=0))
    np.testing.assert_allclose(hi, np.percentile(x, 95, axis=0))
    y = np.vstack([x, np.full((10, 2), np.nan)])
    np.testing.assert_allclose(percentile_interval(y, 0.9)[0], lo)


def test_named_parameters_maps_fit_rows_to_reported_values():
    a, b, e, al, be = np.log(400.0), np.log(410.0), np.log(1.7), 0.34, 0.28
    got = dict(zip(REPORTED, named_parameters(np.array([a, b, e, al, be])), strict=True))
    want = {"E": 1.7, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28}
    want |= {"a": 0.28 / 0.62, "b": 0.34 / 0.62}
    assert got == pytest.approx(want, rel=1e-12)
