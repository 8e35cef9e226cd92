"""lazy-vs-rich's statistics on tables with a known exponent in gamma and known width ratios."""

import pandas as pd
import pytest

from lmech.laws.transfer import lazy_vs_rich as lr


def _meas(gamma_exponent: float, mup: dict[int, float]) -> pd.DataFrame:
    rows = [("ntk", 256, g, s, 0.03 * g**gamma_exponent) for g in (0.01, 0.1) for s in (0, 1)]
    rows += [("mup", w, 1.0, s, 0.45 * r) for w, r in mup.items() for s in (0, 1)]
    return pd.DataFrame(rows, columns=list(lr.EXPERIMENT_COLUMNS))


def test_statistics_are_the_exponent_and_ratio_errors():
    pred = lr.theory(lr.Spec())
    meas = _meas(1.1, {128: 1.1, 256: 0.95, 512: 1.0})
    v = lr.evaluate(pred, meas).values
    assert v["gamma_exponent_error"] == pytest.approx(0.1)
    assert v["mup_width_ratio_error"] == pytest.approx(0.1)
    assert lr.LAW.verdict(pred, meas).passed
    assert not lr.LAW.verdict(pred, _meas(1.3, {128: 1.0, 512: 1.0})).passed
    assert not lr.LAW.verdict(pred, _meas(1.0, {128: 0.75, 512: 1.0})).passed
    # muP exponent -0.5: the predicted ratio at n = 128 is (128 / 512)^-0.5 = 2
    wrong = lr.evaluate(lr.LAW.prediction.perturbed(pred, -1), _meas(1.0, {128: 1.0, 512: 1.0}))
    assert wrong.values["mup_width_ratio_error"] == pytest.approx(1.0)
    assert wrong.values["gamma_exponent_error"] == pytest.approx(0.5)
