"""The icl family's shared 1/d extrapolation against a direct weighted least-squares fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lmech.laws.icl import _common


def test_extrapolate_recovers_exact_one_over_d_and_matches_weighted_fit():
    d = np.repeat([16, 24, 32], [4, 3, 2])
    noise = np.array([0.02, -0.02, 0.01, -0.01, 0.015, -0.015, 0.0, 0.01, -0.01])
    e = 1.0 + 3.0 / d + noise
    got, se = _common.extrapolate(pd.DataFrame({"d": d, "e": e}), "e")
    # independent: numpy's weighted polyfit with the same 1/SE weights
    g = pd.DataFrame({"d": d, "e": e}).groupby("d")["e"]
    sem = np.maximum(g.std() / np.sqrt(g.count()), 0.005 * g.mean())
    c = np.polyfit(1 / g.mean().index.to_numpy(), g.mean().to_numpy(), 1, w=1 / sem.to_numpy())
    assert got == pytest.approx(c[1], rel=1e-10)
    assert abs(got - 1.0) < 3 * se


def test_kappa_zero_means_infinity():
    assert _common.kappa_value(0.0) == np.inf and _common.kappa_value(2.0) == 2.0
