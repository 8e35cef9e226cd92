"""Li^2 theory: the energy's closed form, its gradient, maxima, modulation, G_F."""

import math

import numpy as np
import pytest

from lmech.data.groups import get_group
from lmech.errors import InputError
from lmech.theory.grokking import (
    backprop_gradient,
    class_energy_maxima,
    critical_fraction,
    energy,
    energy_ascent,
    energy_gradient,
    modulated_energy,
)


def _direct_energy(group, w, act=lambda z: z * z):
    """1/2 |Y_t^T sigma(X w)|^2 with explicit one-hot X (M^2, 2M) and Y_t (M^2, M)."""
    M = group.order
    a, b, c = group.pairs()
    X = np.zeros((M * M, 2 * M))
    X[np.arange(M * M), a] = 1.0
    X[np.arange(M * M), M + b] = 1.0
    Y = np.zeros((M * M, M))
    Y[np.arange(M * M), c] = 1.0
    proj = (Y - 1.0 / M).T @ act(X @ w)
    return 0.5 * proj @ proj


@pytest.mark.parametrize("name", ["Z7", "Z6", "D4", "S3", "Z2xZ3"])
def test_energy_closed_form_equals_the_definition(name):
    g = get_group(name)
    w = np.random.default_rng(0).standard_normal((3, 2 * g.order))
    np.testing.assert_allclose(energy(g, w), [_direct_energy(g, x) for x in w], rtol=1e-12)
    relu = lambda z: np.maximum(z, 0)  # noqa: E731
    np.testing.assert_allclose(
        energy(g, w, "relu"), [_direct_energy(g, x, relu) for x in w], rtol=1e-12
    )


def test_gradient_matches_finite_differences():
    g = get_group("D5")
    w = np.random.default_rng(1).standard_normal(2 * g.order)
    grad = energy_gradient(g, w)
    eps = 1e-6
    fd = [(energy(g, w + eps * e) - energy(g, w - eps * e)) / (2 * eps) for e in np.eye(w.size)]
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-8)


def test_constructed_maximizers_reach_the_predicted_energy():
    # Z_M: single-frequency features w = [cos(2 pi k a/M + p1); cos(2 pi k b/M + p2)] / sqrt(M)
    M = 11
    g = get_group(f"Z{M}")
    a = np.arange(M)
    for k, (p1, p2) in [(1, (0.0, 0.0)), (4, (0.3, -1.1))]:
        w = np.concatenate([np.cos(2 * np.pi * k * a / M + p1), np.cos(2 * np.pi * k * a / M + p2)])
        w /= np.linalg.norm(w)
        assert energy(g, w) == pytest.approx(M / 4, rel=1e-12)
    assert set(class_energy_maxima(g)[1:]) == {M / 4}
    # real irreps of dimension d: u = v = rho(g)_00 (rank-one aligned Fourier transforms)
    for name in ("D5", "S4"):
        g = get_group(name)
        emax = class_energy_maxima(g)
        for k, cls in enumerate(g.real_classes):
            if k == g.trivial_class():
                continue
            f = g.irreps[cls[0]].matrices[:, 0, 0].real
            w = np.concatenate([f, f]) / np.linalg.norm(np.concatenate([f, f]))
            d = g.irreps[cls[0]].dim
            assert energy(g, w) == pytest.approx(g.order / (2 * d), rel=1e-12)
            assert emax[k] == pytest.approx(g.order / (2 * d))


def test_ascent_reaches_single_classes_and_modulation_moves_it():
    g = get_group("Z11")
    w0 = np.random.default_rng(2).standard_normal((10, 22))
    w, E, _ = energy_ascent(g, w0, steps=1500)
    P = g.power(w[:, :11]) + g.power(w[:, 11:])
    assert (P.max(1) / P.sum(1) > 1 - 1e-9).all()
    np.testing.assert_allclose(E, 11 / 4, rtol=1e-9)
    learned = sorted(set(P.argmax(1)))
    # the modulated energy is zero on learned classes; ascent on it ends outside them
    assert np.allclose(modulated_energy(g, w, learned), 0.0, atol=1e-12)
    w2, E2, _ = energy_ascent(g, w0, steps=1500, learned=learned)
    P2 = g.power(w2[:, :11]) + g.power(w2[:, 11:])
    assert not set(P2.argmax(1)) & set(learned)
    np.testing.assert_allclose(E2, 11 / 4, rtol=1e-9)
    # without learned classes the modulated energy is the energy
    np.testing.assert_allclose(modulated_energy(g, w0, []), energy(g, w0), rtol=1e-12)


def test_backprop_gradient_is_residual_times_ridge_readout():
    rng = np.random.default_rng(3)
    F, Y, eta = rng.standard_normal((30, 8)), rng.standard_normal((30, 5)), 0.7
    V = np.linalg.solve(F.T @ F + eta * np.eye(8), F.T @ Y)
    R = Y - F @ V
    np.testing.assert_allclose(backprop_gradient(F, Y, eta), R @ V.T, rtol=1e-10, atol=1e-12)
    with pytest.raises(InputError, match="eta"):
        backprop_gradient(F, Y, 0.0)


def test_critical_fraction_and_bad_input():
    assert critical_fraction(23, 2.0) == pytest.approx(2 * math.log(23) / 23)
    with pytest.raises(InputError, match=">= 2"):
        critical_fraction([1, 5], 1.0)
    with pytest.raises(InputError, match="2M"):
        energy(get_group("Z5"), np.ones(7))
    with pytest.raises(InputError, match="activation"):
        energy(get_group("Z5"), np.ones(10), "tanh")
