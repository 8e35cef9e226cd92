"""chinchilla-recovery's evaluate on hand-built tables (independent of the fits)."""

import pandas as pd
import pytest

from lmech.errors import ConfigError
from lmech.laws.scaling import chinchilla as cr


def _tables(clean_error: float, misses: dict[str, int], reps: int = 50):
    """Truth from the theory table; ``misses[p]`` repetitions whose interval lies above it."""
    pred = cr.theory(cr.PRESETS["quick"])
    rows = []
    for p, v in pred.set_index("parameter")["value"].items():
        e = v * (1 + clean_error)
        rows.append({"repetition": -1, "parameter": p, "estimate": e, "ci_low": e, "ci_high": e})
        for r in range(reps):
            lo, hi = (v * 1.1, v * 1.2) if r < misses.get(p, 0) else (v * 0.9, v * 1.1)
            rows.append(
                {"repetition": r, "parameter": p, "estimate": v, "ci_low": lo, "ci_high": hi}
            )
    return pred, pd.DataFrame(rows)


def _checks(pred, meas):
    return {c.statistic: c for c in cr.LAW.verdict(pred, meas).checks}


def test_each_parameter_is_its_own_coverage_check():
    checks = _checks(*_tables(0.0, {"E": 5, "beta": 6}))  # 45/50 and 44/50 covered
    assert checks["coverage_E"].value == pytest.approx(0.9) and checks["coverage_E"].passed
    assert checks["coverage_beta"].value == pytest.approx(0.88)
    assert not checks["coverage_beta"].passed
    for p in ("A", "B", "alpha"):
        assert checks[f"coverage_{p}"].value == 1.0 and checks[f"coverage_{p}"].passed
    assert cr.LAW.verdict(*_tables(0.0, {"E": 5, "beta": 6})).status == "failed"
    assert cr.LAW.verdict(*_tables(0.0, {"E": 5, "A": 5})).status == "passed"


def test_noiseless_gate_is_a_separate_check():
    pred, meas = _tables(2e-4, {})
    checks = _checks(pred, meas)
    assert checks["noiseless_max_rel_err"].value == pytest.approx(2e-4)
    assert not checks["noiseless_max_rel_err"].passed
    assert all(checks[f"coverage_{p}"].value == 1.0 for p in cr.PARAMETERS)
    assert cr.LAW.verdict(pred, meas).status == "failed"
    assert cr.LAW.verdict(*_tables(5e-5, {})).status == "passed"


def test_statistics_are_measured_against_the_theory_column():
    pred, meas = _tables(0.0, {})
    # a truth 15% high lies above every [0.9 v, 1.1 v] interval and 13% from the estimate
    wrong = pred.assign(value=pred["value"] * 1.15)
    checks = _checks(wrong, meas)
    assert checks["noiseless_max_rel_err"].value == pytest.approx(1 - 1 / 1.15)
    assert all(checks[f"coverage_{p}"].value == 0.0 for p in cr.PARAMETERS)


def test_spec_refuses_too_few_runs():
    with pytest.raises(ConfigError, match="num_models x num_tokens"):
        cr.Spec(num_models=2, num_tokens=2)
