"""The scaling laws' compare functions on hand-built tables (independent of the fits)."""

import numpy as np
import pandas as pd
import pytest

from lmech.laws import chinchilla_recovery as cr
from lmech.laws import rf_compute_optimal as rco
from lmech.laws import rf_scaling_exponents as rse


def _chinchilla_tables(clean_error: float, misses: int):
    pred = cr.theory(cr.PRESETS["quick"])
    truth = pred.set_index("parameter")["value"]
    rows = []
    for p, v in truth.items():
        e = v * (1 + clean_error)
        rows.append({"repetition": -1, "parameter": p, "estimate": e, "ci_low": e, "ci_high": e})
        for r in range(50):
            lo, hi = (v * 1.1, v * 1.2) if r < misses else (v * 0.9, v * 1.1)
            rows.append(
                {"repetition": r, "parameter": p, "estimate": v, "ci_low": lo, "ci_high": hi}
            )
    return pred, pd.DataFrame(rows)


def test_chinchilla_coverage_and_noiseless_gate():
    v = cr.compare(*_chinchilla_tables(0.0, misses=5))  # 45/50 covered
    assert v.value == pytest.approx(0.9) and v.passed
    v = cr.compare(*_chinchilla_tables(0.0, misses=6))  # 44/50
    assert v.value == pytest.approx(0.88) and not v.passed
    v = cr.compare(*_chinchilla_tables(2e-4, misses=0))  # coverage 1 but recovery fails
    assert v.value == pytest.approx(1.0) and not v.passed and "gate failed" in v.detail


def test_rf_exponents_compare_reads_exact_power_laws():
    spec = rse.PRESETS["smoke"]
    pred = rse.theory(spec)
    meas = pred.copy()
    expo = pred.groupby("resource")["exponent"].first()
    meas["loss"] = [
        (0.01 if r == "t" else 0.0) + x ** -(expo[r] + 0.05)
        for r, x in zip(meas.resource, meas.x, strict=True)
    ]
    meas["trials"] = 1
    v = rse.compare(pred, meas)
    assert v.value == pytest.approx(0.05, abs=1e-4)  # the offset fit removes the t floor


def test_rf_compute_optimal_vertex_on_exact_profiles():
    # L(N, t) = N^-1 + t^-(2/3) with t = C/N: dL/dN = 0 gives N* = (1.5 C^(2/3))^(3/5)
    rows = []
    for C in np.geomspace(1e2, 1e5, 6):
        for N in np.geomspace(2, 2000, 61):
            rows.append({"C": C, "N": N, "t": C / N, "loss": 1 / N + (C / N) ** (-2 / 3)})
    opt = rco.optimal_widths(pd.DataFrame(rows))
    want = (1.5 * opt["C"] ** (2 / 3)) ** (3 / 5)
    np.testing.assert_allclose(opt["N_star"], want, rtol=0.01)
    assert rco.measured_exponent(pd.DataFrame(rows)) == pytest.approx(0.4, abs=0.01)
