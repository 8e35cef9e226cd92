"""li2-boundary: Firth logistic fits, the bootstrap interval of c, the constant-fraction
null and the perturbed shape, on phase diagrams built in the test (no training)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from lmech.errors import ConfigError, InputError
from lmech.laws.grokking import _boundary as fit
from lmech.laws.grokking import boundary as law

QUICK = law.PRESETS["quick"]


def _phase_diagram(p_star, slope=None, seed=0, spec=QUICK):
    """Runs of the quick design; generalized with P = logistic(slope ln(p / p*_M)), or
    deterministically (p >= p*_M) when slope is None."""
    gen = np.random.default_rng(seed)
    rows = []
    for M in spec.orders:
        for c in spec.c_grid:
            for s in spec.seeds:
                n = round(c * np.log(M) / M * M * M)
                p = n / M**2
                if slope is None:
                    ok = p >= p_star(M)
                else:
                    ok = gen.random() < expit(slope * np.log(p / p_star(M)))
                rows.append({"M": M, "c_prime": c, "seed": s, "train_pairs": n, "fraction": p,
                             "train_accuracy": 1.0, "test_accuracy": float(ok), "generalized": ok})  # fmt: skip
    return pd.DataFrame(rows)


def _penalized_negloglik(coef, X, y):
    eta = X @ coef
    p = expit(eta)
    info = X.T @ ((p * (1 - p))[:, None] * X)
    return -(np.sum(y * eta - np.logaddexp(0, eta)) + 0.5 * np.linalg.slogdet(info)[1])


@pytest.mark.parametrize("separable", [False, True])
def test_firth_fit_is_the_penalized_likelihood_maximum(separable):
    gen = np.random.default_rng(1)
    x = np.linspace(-2, 2, 40)
    y = (x > 0.1).astype(float) if separable else (gen.random(40) < expit(2 * x)).astype(float)
    X = np.column_stack([np.ones_like(x), x])
    got = fit.firth_logit(X, y)
    ref = minimize(_penalized_negloglik, np.zeros(2), args=(X, y), method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000})  # fmt: skip
    np.testing.assert_allclose(got.coef, ref.x, rtol=1e-5, atol=1e-6)
    assert got.penalized == pytest.approx(-ref.fun, abs=1e-8)
    eta = X @ got.coef
    assert got.loglik == pytest.approx(
        np.sum(y * np.log(expit(eta)) + (1 - y) * np.log(expit(-eta)))
    )
    assert np.all(np.isfinite(got.coef)) and got.loglik < 0  # finite even when separated


def test_firth_rejects_bad_input():
    with pytest.raises(InputError):
        fit.firth_logit(np.ones((3, 2)), np.array([0.0, 2.0, 1.0]))


def test_c_is_recovered_and_the_interval_holds_it():
    # a smooth boundary p* = 2.9 ln M / M with 20 seeds per cell: c is found to a few %
    spec = dataclasses.replace(QUICK, seeds=tuple(range(20)))
    meas = _phase_diagram(lambda M: 2.9 * np.log(M) / M, slope=12.0, spec=spec)
    f = fit.phase_fits(law.theory(spec), meas, reps=200)
    assert f["c"] == pytest.approx(2.9, rel=0.03)
    assert f["c_lo"] < f["c"] < f["c_hi"] and f["c_lo"] < 2.9 < f["c_hi"]


def test_sharp_quick_like_diagram_passes_and_interval_is_not_degenerate():
    # the pattern measured at the quick preset: boundary in (2.75, 3.0] for M <= 31 and
    # in (3.0, 3.25] for M = 41 (deterministic outcomes: the data are separable)
    meas = _phase_diagram(lambda M: (3.1 if M == 41 else 2.9) * np.log(M) / M)
    pred = law.theory(QUICK)
    ev = law.evaluate(pred, meas)
    v = ev.values
    # the fitted c lies strictly inside its percentile interval (a continuous estimator,
    # unlike the old grid-midpoint threshold whose interval started at the estimate)
    assert v["c_lo"] < v["c"] < v["c_hi"]
    assert 2.75 < v["c"] < 3.25
    # 2 of the 60 runs (M = 41, c' = 3.0) sit on the wrong side of one boundary
    assert v["share_classified"] == pytest.approx(58 / 60)
    assert v["loglik_ratio_vs_constant"] > 10
    assert law.LAW.verdict(pred, meas).passed


def test_constant_fraction_world_fails_the_likelihood_check():
    # p* = 0.35 at every M: the Li^2 shape must lose to the null
    meas = _phase_diagram(lambda M: 0.35, slope=15.0)
    verdict = law.LAW.verdict(law.theory(QUICK), meas)
    checks = {c.statistic: c for c in verdict.checks}
    assert checks["loglik_ratio_vs_constant"].value < 0
    assert verdict.status == "failed"


@pytest.mark.parametrize("sign", [+1, -1])
def test_wrong_shape_at_one_order_fails(sign):
    meas = _phase_diagram(lambda M: 2.9 * np.log(M) / M)
    pred = law.theory(QUICK)
    assert law.LAW.verdict(pred, meas).passed
    wrong = law.LAW.prediction.perturbed(pred, sign)
    checks = {c.statistic: c for c in law.LAW.verdict(wrong, meas).checks}
    assert not checks["max_boundary_misfit"].passed


def test_evaluate_reads_the_shape_from_the_theory_table():
    meas = _phase_diagram(lambda M: 2.9 * np.log(M) / M)
    pred = law.theory(QUICK)
    assert np.allclose(pred["ln_M_over_M"], np.log(pred["M"]) / pred["M"])
    flat = pred.assign(ln_M_over_M=1.0)  # a flat "shape" turns the Li^2 model into the null
    assert law.evaluate(flat, meas).values["loglik_ratio_vs_constant"] == pytest.approx(
        0.0, abs=1e-9
    )
    with pytest.raises(InputError, match="ln_M_over_M"):
        law.evaluate(pred[pred["M"] != 41], meas)


def test_spec_refuses_fractions_at_or_above_one():
    with pytest.raises(ConfigError, match="c_grid"):
        law.Spec(orders=(7, 11), c_grid=(2.5, 3.6))


def test_firth_is_finite_when_every_run_fails():
    # the smoke preset's situation: four runs, none generalizes, two share a fraction
    x = np.log([2.496, 3.010, 2.995, 2.995])
    X = np.column_stack([np.ones(4), x])
    got = fit.firth_logit(X, np.zeros(4))
    assert np.all(np.isfinite(got.coef))
    eps = 1e-6  # the penalized log-likelihood is stationary there (central differences)
    grad = [(_penalized_negloglik(got.coef + eps * e, X, np.zeros(4))
             - _penalized_negloglik(got.coef - eps * e, X, np.zeros(4))) / (2 * eps)
            for e in np.eye(2)]  # fmt: skip
    np.testing.assert_allclose(grad, 0.0, atol=1e-6)


WIDE = dataclasses.replace(QUICK, orders=(23, 31, 43, 61, 83, 113, 163), seeds=(0, 1, 2, 3))


def test_power_law_boundary_recovers_k():
    # a boundary p* = 0.9 M^-0.5 (not the Li^2 shape): k = 0.5 and a = 0.9 come back
    spec = dataclasses.replace(WIDE, c_grid=(1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0))
    meas = _phase_diagram(lambda M: 0.9 * M**-0.5, slope=10.0, spec=spec)
    k, a, _ = fit.power_boundary(meas["fraction"], meas["generalized"], meas["M"])
    assert k == pytest.approx(0.5, abs=0.08)
    assert a == pytest.approx(0.9, rel=0.3)


def test_power_law_world_is_told_apart():
    # over M = 23..163 the Li^2 shape ln M / M acts locally as M^-(0.68..0.80); a boundary
    # M^-0.35 must make the power law win by far more than its extra parameter (1 nat of
    # AIC), and the Li^2 fit must fail its misfit check
    spec = dataclasses.replace(WIDE, c_grid=(1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0))
    meas = _phase_diagram(lambda M: 0.6 * M**-0.35, slope=10.0, spec=spec)
    verdict = law.LAW.verdict(law.theory(spec), meas)
    checks = {c.statistic: c for c in verdict.checks}
    assert law.evaluate(law.theory(spec), meas).values["power_law_gain"] > 5
    assert not checks["max_boundary_misfit"].passed and verdict.status == "failed"


def test_li2_world_keeps_the_power_law_gain_small():
    # the Li^2 truth on the wide design: the extra parameter buys < 1.92 nats, k sits at
    # the local exponent of ln M / M (0.68 at 23 to 0.80 at 163), and 1 / M loses
    spec = dataclasses.replace(WIDE, c_grid=(2.5, 2.75, 3.0, 3.25, 3.5))
    meas = _phase_diagram(lambda M: 3.0 * np.log(M) / M, slope=12.0, spec=spec)
    v = law.evaluate(law.theory(spec), meas).values
    assert v["power_law_gain"] <= 1.0  # AIC does not prefer the power law
    assert 0.6 < v["k"] < 0.9 and v["k_lo"] < v["k"] < v["k_hi"]
    assert v["loglik_ratio_vs_constant"] > 10 and v["loglik_ratio_vs_inv_M"] > 2
    # c within 3 standard errors (SE from the 95% bootstrap width / 3.92): a 2-sided
    # test at 0.3%, where "inside the 95% interval" would fail one seeded draw in 20
    se = (v["c_hi"] - v["c_lo"]) / 3.92
    assert abs(v["c"] - 3.0) <= 3 * se and se < 0.1


def test_a_seed_sweep_pools_its_points_into_one_phase_diagram(tmp_path):
    # `lmech sweep li2-boundary --seeds 2` (smoke sizes): the sweep table names each
    # point's folder, and the law's sweep figure pools the runs of every point
    import json
    import os
    import subprocess
    import sys

    out = tmp_path / "store"
    proc = subprocess.run(
        [sys.executable, "-m", "lmech.cli", "sweep", "li2-boundary", "--preset", "smoke",
         "--seeds", "2", "--workers", "1", "--device", "cpu", "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = pd.DataFrame(json.loads(proc.stdout)["table"])
    assert len(table) == 2 and all(table["path"])
    pred, meas = law.pooled_runs(table)
    smoke = law.PRESETS["smoke"]
    per_point = len(smoke.orders) * len(smoke.c_grid) * len(smoke.seeds)
    assert len(meas) == 2 * per_point and sorted(set(meas["law_seed"])) == [0, 1]
    assert table["key"].nunique() == 2  # two stored points, one per seed
    assert list(pred["M"]) == list(smoke.orders)
    figures = list((out / "sweeps").glob("li2-boundary-*/sweep.png"))
    assert figures, sorted(p.name for p in (out / "sweeps").rglob("*"))


def test_pooling_refuses_a_sweep_without_valid_points():
    with pytest.raises(ConfigError, match="no valid"):
        law.pooled_runs(pd.DataFrame({"seed": [0], "path": [""]}))
