"""The identifiability checks of lmech.fit against direct computations and known answers."""

import numpy as np
import pytest

from lmech.fit import HOFFMANN_2022, chinchilla_loss, efficient_frontier, fit_chinchilla
from lmech.fit._checks import distinct_labels
from lmech.fit._identify import present_counts, weak_directions
from lmech.fit.chinchilla import COARSE_GRID

H = HOFFMANN_2022


def test_distinct_labels_match_a_set_of_tuples():
    rng = np.random.default_rng(0)
    a = rng.choice([1.0, 2.0, 3.0], 50)
    b = rng.choice([10.0, 20.0], 50)
    k, labels = distinct_labels(a, b)
    assert k == len(set(zip(a, b, strict=True)))
    for i in range(50):
        for j in range(50):
            assert (labels[i] == labels[j]) == ((a[i], b[i]) == (a[j], b[j]))
    # values equal to 1e-12 relative are one value; 1e-6 apart are two
    assert distinct_labels(np.array([1.0, 1.0 + 1e-12, 1.0 + 1e-6]))[0] == 2


def test_present_counts_match_a_loop():
    rng = np.random.default_rng(1)
    counts = rng.multinomial(12, np.full(12, 1 / 12), size=300).astype(float)
    labels = rng.integers(0, 5, 12)
    want = [len({labels[j] for j in range(12) if row[j] > 0}) for row in counts]
    np.testing.assert_array_equal(present_counts(counts, labels, budget=100), want)


def test_weak_directions_find_the_null_space():
    rng = np.random.default_rng(2)
    g = rng.standard_normal((30, 4))
    g[:, 3] = 2 * g[:, 0] - g[:, 1]  # null vector (2, -1, 0, -1)/sqrt(6)
    (ratio, coords), *rest = weak_directions(g)
    assert not rest and ratio < 1e-12
    assert list(coords) == [0, 1, 3]
    assert weak_directions(rng.standard_normal((30, 4))) == []


def test_well_posed_fit_recovers_its_parameters_without_warnings():
    rng = np.random.default_rng(3)
    N = np.exp(rng.uniform(np.log(7e7), np.log(1.6e10), 200))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), 200))
    L = chinchilla_loss(N, D, **H) * np.exp(0.005 * rng.standard_normal(200))
    res = fit_chinchilla(N, D, L, grid=COARSE_GRID, bootstrap=100)
    assert res.warnings == () and res.unidentified == {}
    assert res.n_distinct == 200
    for name in ("E", "alpha", "beta"):
        lo, hi = res.interval(name)
        assert lo < H[name] < hi, name
        assert res.estimate[name] == pytest.approx(H[name], rel=0.1), name


def test_repeated_measurements_at_one_point_are_runs_not_copies():
    # 12 distinct (N, D), 4 noisy seeds each: accepted, counted as 12 distinct runs
    n = np.geomspace(7e7, 1.6e10, 4)
    d = np.geomspace(5e9, 5e11, 3)
    N, D = (np.repeat(v.ravel(), 4) for v in np.meshgrid(n, d))
    L = chinchilla_loss(N, D, **H) * np.exp(0.005 * np.random.default_rng(4).standard_normal(48))
    res = fit_chinchilla(N, D, L, grid=COARSE_GRID)
    assert res.n_points == 48 and res.n_distinct == 12
    assert not any("repeat another row" in w for w in res.warnings)


def test_efficient_frontier_in_log_space_matches_the_closed_form_and_does_not_overflow():
    p = H
    C = np.geomspace(1e18, 1e25, 8)
    G = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))
    want_n = G * (C / 6) ** (p["beta"] / (p["alpha"] + p["beta"]))
    got_n, got_d = efficient_frontier(C, p["A"], p["B"], p["alpha"], p["beta"])
    np.testing.assert_allclose(got_n, want_n, rtol=1e-12)
    np.testing.assert_allclose(got_n * got_d * 6, C, rtol=1e-12)
    n_big, _ = efficient_frontier(1e21, 1e300, 1e-300, 0.3, 0.3)  # G = 1e1000: inf, no error
    assert np.isinf(n_big)


def test_weak_directions_on_many_rows_need_no_n_by_n_factor():
    # 200,000 rows x 4: the full left factor would be 320 GB; the null vector is found
    # from the (P, P) right factor alone, and agrees with the eigenvectors of G^T G
    rng = np.random.default_rng(5)
    g = rng.standard_normal((200_000, 4))
    g[:, 2] = g[:, 0] + 3 * g[:, 3]  # null vector (1, 0, -1, 3)/sqrt(11)
    (ratio, coords), *rest = weak_directions(g)
    assert not rest and ratio < 1e-12
    w, v = np.linalg.eigh(g.T @ g)
    assert w[0] < 1e-18 * w[-1]
    assert sorted(coords) == sorted(np.flatnonzero(np.abs(v[:, 0]) > 0.1)) == [0, 2, 3]


def test_weak_directions_with_fewer_rows_than_parameters_report_the_null_space():
    # 2 rows x 4 parameters: rank 2, so two flat directions spanning the null space
    g = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    found = weak_directions(g)
    assert len(found) == 2 and all(r == 0.0 for r, _ in found)
    assert sorted({int(c) for _, cs in found for c in cs}) == [2, 3]
