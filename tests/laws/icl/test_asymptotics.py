"""icl-linear-attention-asymptotics: the weighted 1/d fit and the evaluation, against
closed forms, an independent least-squares solve and Monte Carlo over synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lmech.laws.icl import asymptotics as law


def _design(dims, draws):
    return np.repeat(np.asarray(dims, float), draws)


def test_fit_is_exact_on_noiseless_a_plus_c_over_d():
    d = _design((16, 24, 32, 48), (5, 3, 3, 4))
    e = 1.2345 + 2.5 / d
    e = e + np.where(np.arange(len(d)) % 2, 1e-3, -1e-3) / d  # spread that averages to 0
    a, se, c = law.inverse_d_fit(d, e)
    # each d has an odd/even mix that does not cancel exactly: compare with a weighted
    # least-squares solve of the per-d means done independently
    ds = np.unique(d)
    mean = np.array([e[d == x].mean() for x in ds])
    n = np.array([(d == x).sum() for x in ds])
    sw = np.sqrt(n * ds**2)
    coef = np.linalg.lstsq(np.c_[np.ones_like(ds), 1 / ds] * sw[:, None], mean * sw, rcond=None)
    assert a == pytest.approx(coef[0][0], rel=1e-12)
    assert c == pytest.approx(coef[0][1], rel=1e-10)
    assert abs(a - 1.2345) < 1e-4 and se > 0


def test_fit_standard_error_matches_monte_carlo_spread():
    # draws with spread sigma / d around a + c/d: the reported SE must match the spread of
    # the intercept over 3000 synthetic data sets (within 6%: SE of an SD from 3000 is 1.3%)
    rng = np.random.default_rng(0)
    dims, draws = (16, 24, 32, 48), (80, 8, 8, 14)
    d = _design(dims, draws)
    est, ses = [], []
    for _ in range(3000):
        e = 1.0 + 3.0 / d + 1.6 / d * rng.standard_normal(len(d))
        a, se, _ = law.inverse_d_fit(d, e)
        est.append(a)
        ses.append(se)
    assert np.mean(est) == pytest.approx(1.0, abs=4 * np.std(est) / np.sqrt(3000))
    assert np.std(est) == pytest.approx(np.sqrt(np.mean(np.square(ses))), rel=0.06)


def test_the_quick_allocation_beats_equal_draws():
    # the declared draws (80, 8, 8, 14) against the same CPU spent evenly at quick's costs
    # per draw (0.008, 0.029, 0.065, 0.25 s at tau = 2): the intercept's variance, from
    # the fit's own linear weights, is lower for the declared allocation
    dims = np.array((16, 24, 32, 48), float)
    cost = np.array((0.008, 0.029, 0.065, 0.25))
    quick = np.array(law.PRESETS["quick"].draws, float)
    even = np.full(4, (quick * cost).sum() / cost.sum())

    def var(n):
        X = np.c_[np.ones(4), 1 / dims]
        w = n * dims**2
        L = np.linalg.solve(X.T @ (X * w[:, None]), (X * w[:, None]).T)
        return float((L[0] ** 2 / w).sum())

    assert var(quick) < 0.8 * var(even)


def _table(pred, factor, spread=0.0, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    spec = law.PRESETS["quick"]
    systems = spec.systems()
    for p, (a, k, t, r) in enumerate(systems):
        th = {
            kind: float(pred[(pred["point"] == p) & (pred["kind"] == kind)]["error"].iloc[0])
            if ((pred["point"] == p) & (pred["kind"] == kind)).any()
            else 1.0
            for kind in ("icl", "idg")
        }
        for d, nd in zip(spec.dims, spec.draws, strict=True):
            for s in range(nd):
                noise = spread / d * rng.standard_normal()
                rows.append(
                    {
                        "point": p,
                        "alpha": a,
                        "kappa": k,
                        "tau": t,
                        "rho": r,
                        "ridge": spec.ridge,
                        "d": d,
                        "draw": s,
                        "icl_error": factor * th["icl"] + 2.0 / d + noise,
                        "idg_error": factor * th["idg"] + 1.5 / d + noise,
                    }
                )
    return pd.DataFrame(rows)


def test_evaluate_recovers_a_known_offset():
    pred = law.theory(law.PRESETS["quick"])
    ev = law.evaluate(pred, _table(pred, 1.0))
    assert ev.values["max_rel_err_icl"] < 1e-12 and ev.values["max_rel_err_idg"] < 1e-12
    ev = law.evaluate(pred, _table(pred, 1.07))  # 7% off everywhere: both checks fail
    assert ev.values["max_rel_err_icl"] == pytest.approx(0.07, rel=1e-9)
    assert ev.values["max_rel_err_idg"] == pytest.approx(0.07, rel=1e-9)
    verdict = law.LAW.criterion.checks
    assert [c.statistic for c in verdict][:2] == ["max_rel_err_icl", "max_rel_err_idg"]
    assert all(c.bound == 0.05 for c in verdict[:2])
    # the null gap: |e_inf - null| / e_inf with e_inf = theory, from the theory table
    gap = (abs(pred["error"] - pred["null_error"]) / pred["error"]).min()
    assert law.evaluate(pred, _table(pred, 1.0)).values["min_rel_gap_to_null"] == pytest.approx(
        gap, rel=1e-9
    )


def test_theory_column_is_result_one():
    # tau > 1 IDG in closed form (Result 1): tau (rho + x (1 - x m)) / (tau - 1)
    from lmech.theory.icl import mp_resolvent

    pred = law.theory(law.PRESETS["quick"])
    row = pred[(pred["kind"] == "idg") & (pred["kappa"] == 0.5)].iloc[0]
    x = (1 + row["rho"]) / row["alpha"]
    m = float(mp_resolvent(x, row["kappa"]))
    t = row["tau"]
    assert row["error"] == pytest.approx(t * (row["rho"] + x * (1 - x * m)) / (t - 1), rel=1e-12)
