"""Fourier measurements: neuron power (Parseval), single-irrep fraction, Gini, progress losses."""

import numpy as np
import pytest

from lmech.data.groups import get_group
from lmech.errors import InputError
from lmech.measure.fourier import (
    gini,
    key_classes,
    neuron_power,
    restricted_and_excluded_loss,
    single_irrep_fraction,
)


@pytest.mark.parametrize("name", ["Z7", "Z8", "D4", "S3", "S4", "Z2xZ3"])
def test_neuron_power_is_parseval(name):
    g = get_group(name)
    W = np.random.default_rng(0).standard_normal((2 * g.order, 9))
    P = neuron_power(g, W)
    assert P.shape == (9, len(g.real_classes))
    np.testing.assert_allclose(P.sum(-1), (W**2).sum(0), rtol=1e-12)


def test_single_frequency_units_are_counted():
    M = 11
    g = get_group(f"Z{M}")
    a = np.arange(M)
    cols = []
    for k in (1, 3, 3, 5):  # single-frequency units
        cols.append(
            np.concatenate([np.cos(2 * np.pi * k * a / M), np.sin(2 * np.pi * k * a / M + 1)])
        )
    mixed = np.concatenate([np.cos(2 * np.pi * a / M) + np.cos(4 * np.pi * a / M), np.zeros(M)])
    cols += [mixed, 1e-9 * np.ones(2 * M)]  # a two-frequency unit and a dead one
    W = np.stack(cols, axis=1)
    frac, alive, dom = single_irrep_fraction(g, neuron_power(g, W))
    assert list(alive) == [True] * 5 + [False]
    assert frac == pytest.approx(4 / 5)
    assert list(dom[:4]) == [1, 3, 3, 5]
    assert list(key_classes(g, neuron_power(g, W), top=2)) == [3, 1]


def test_gini():
    assert gini(np.ones(10)) == pytest.approx(0.0)
    x = np.zeros(10)
    x[3] = 5.0
    assert gini(x) == pytest.approx(0.9)  # (n - 1) / n for one nonzero entry
    with pytest.raises(InputError):
        gini([-1.0, 2.0])


def test_restricted_loss_of_a_pure_key_frequency_circuit():
    # logits = alpha cos(w_k (a + b - c)): the restricted logits equal them, the excluded
    # logits are ~0 (uniform: loss ln M)
    M, k, alpha = 13, 4, 6.0
    a, b = np.divmod(np.arange(M * M), M)
    c = np.arange(M)
    logits = alpha * np.cos(2 * np.pi * k * (a[:, None] + b[:, None] - c[None, :]) / M)
    restricted, excluded = restricted_and_excluded_loss(M, logits, [k], np.arange(40))
    z = logits - logits.max(1, keepdims=True)
    full = -(z - np.log(np.exp(z).sum(1, keepdims=True)))[np.arange(M * M), (a + b) % M].mean()
    assert restricted == pytest.approx(full, rel=1e-10)
    assert excluded == pytest.approx(np.log(M), rel=1e-10)
    # excluding a different frequency removes nothing: the excluded loss is the full loss
    _, excl_other = restricted_and_excluded_loss(M, logits, [2], np.arange(M * M))
    assert excl_other == pytest.approx(full, rel=1e-10)
    with pytest.raises(InputError, match="shape"):
        restricted_and_excluded_loss(M, logits[:-1], [k], np.arange(3))


def test_bad_weight_shape():
    with pytest.raises(InputError, match="2M"):
        neuron_power(get_group("Z5"), np.ones((9, 3)))
