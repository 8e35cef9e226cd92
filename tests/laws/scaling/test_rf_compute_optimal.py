"""rf-compute-optimal: the IsoFLOP vertex estimator on exact profiles."""

import numpy as np
import pandas as pd
import pytest

from lmech.laws.scaling import rf_compute_optimal as rco


def _profiles() -> pd.DataFrame:
    # L(N, t) = N^-1 + t^-(2/3) with t = C/N: dL/dN = 0 gives N* = (1.5 C^(2/3))^(3/5)
    rows = []
    for C in np.geomspace(1e2, 1e5, 6):
        for N in np.geomspace(2, 2000, 61):
            rows.append({"C": C, "N": N, "t": C / N, "loss": 1 / N + (C / N) ** (-2 / 3)})
    return pd.DataFrame(rows)


def test_vertex_on_exact_profiles():
    meas = _profiles()
    opt = rco.optimal_widths(meas)
    want = (1.5 * opt["C"] ** (2 / 3)) ** (3 / 5)
    np.testing.assert_allclose(opt["N_star"], want, rtol=0.01)
    assert rco.measured_exponent(meas) == pytest.approx(0.4, abs=0.01)


def test_evaluate_compares_with_the_theory_exponent():
    meas = _profiles()
    pred = pd.DataFrame({"C": [1e2, 1e5], "N_star": [1.0, 10.0], "exponent_N": [0.4, 0.4]})
    got = rco.measured_exponent(meas)
    value = rco.evaluate(pred, meas).values["exponent_error_N_star"]
    assert value == pytest.approx(abs(got - 0.4), abs=1e-12)
    assert rco.LAW.verdict(pred, meas).status == "passed"
    for sign in (+1, -1):
        wrong = rco.LAW.prediction.perturbed(pred, sign)
        assert rco.evaluate(wrong, meas).values["exponent_error_N_star"] == pytest.approx(
            abs(got - 0.4 - sign * 0.25), abs=1e-12
        )
        assert rco.LAW.verdict(wrong, meas).status == "failed"
