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
