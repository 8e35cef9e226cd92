"""rf-scaling-exponents: the exponent estimators and checks on exact power laws."""

import pytest

from lmech.errors import ConfigError
from lmech.laws.scaling import rf_exponents as rse


def _power_law_tables(shift: dict[str, float]):
    """Theory table and a 'measurement' L = floor + x^-(exponent + shift) per resource."""
    pred = rse.theory(rse.PRESETS["smoke"])
    meas = pred.copy()
    expo = pred.groupby("resource")["exponent"].first()
    meas["loss"] = [
        (0.01 if r == "t" else 0.0) + x ** -(expo[r] + shift[r])
        for r, x in zip(meas.resource, meas.x, strict=True)
    ]
    meas["trials"] = 1
    return pred, meas


def test_each_resource_is_its_own_check():
    pred, meas = _power_law_tables({"t": 0.05, "N": -0.03, "P": 0.12})
    checks = {c.statistic: c for c in rse.LAW.verdict(pred, meas).checks}
    # the offset fit removes the floor of the t curve; N and P are plain log-log slopes
    assert checks["exponent_error_t"].value == pytest.approx(0.05, abs=1e-4)
    assert checks["exponent_error_N"].value == pytest.approx(0.03, abs=1e-9)
    assert checks["exponent_error_P"].value == pytest.approx(0.12, abs=1e-9)
    assert checks["exponent_error_t"].passed and checks["exponent_error_N"].passed
    assert not checks["exponent_error_P"].passed


def test_evaluate_reads_the_prediction_column():
    pred, meas = _power_law_tables({"t": 0.0, "N": 0.0, "P": 0.0})
    assert rse.LAW.verdict(pred, meas).status == "passed"
    for sign in (+1, -1):
        values = rse.evaluate(rse.LAW.prediction.perturbed(pred, sign), meas).values
        assert all(v == pytest.approx(0.25, abs=1e-4) for v in values.values())


def test_widths_must_stay_below_the_modes():
    with pytest.raises(ConfigError, match="sizes must stay below num_features"):
        rse.Spec(num_features=100, time_width=50, widths=(8, 16, 32), sizes=(32, 64, 128))
