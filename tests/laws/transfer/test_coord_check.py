"""coord-check's statistics on a table with known power laws in the width."""

import numpy as np
import pandas as pd
import pytest

from lmech.laws.transfer import coord_check as cc

WIDTHS = (64, 256, 1024)


def _meas(spec, slope_of) -> pd.DataFrame:
    """rms_update = 0.1 * width^slope, the same for every seed, so each fit is exact."""
    rows = []
    for kind in cc.PARAMETERIZATIONS:
        for layer, role in spec.layers():
            for step in range(1, spec.steps + 1):
                s = slope_of(kind, layer, role, step)
                for w in WIDTHS:
                    for seed in (0, 1):
                        rows.append((kind, w, seed, step, layer, 0.1 * w**s, 1.0))
    return pd.DataFrame(rows, columns=list(cc.LAW.experiment_columns))


def test_each_check_is_the_worst_deviation_of_its_own_rows():
    spec = cc.Spec(widths=WIDTHS)
    sp = {"input": -0.45, "hidden.0": 0.40, "hidden.1": 0.47, "output": 0.90}

    def slope_of(kind, layer, role, step):
        if kind == "mup":
            return -0.08 if (layer, step) == ("hidden.1", 2) else 0.03
        return sp[layer] if step == 1 else 1.5  # later SP steps are not predicted

    pred, meas = cc.theory(spec), _meas(spec, slope_of)
    v = cc.evaluate(pred, meas).values
    assert v["mup_max_slope_dev"] == pytest.approx(0.08)
    assert v["sp_hidden_max_slope_dev"] == pytest.approx(0.10)
    assert v["sp_output_slope_dev"] == pytest.approx(0.10)
    assert v["sp_input_slope_dev"] == pytest.approx(0.05)
    assert cc.LAW.verdict(pred, meas).passed
    wrong = cc.LAW.prediction.perturbed(pred, -1)
    assert cc.evaluate(wrong, meas).values["mup_max_slope_dev"] == pytest.approx(0.33)


def test_theory_predicts_zero_for_mup_and_the_sp_exponents_at_the_first_step():
    pred = cc.theory(cc.Spec(steps=2))
    mup = pred[pred["parameterization"] == "mup"]
    assert len(mup) == 2 * 4 and (mup["slope"] == 0).all()
    sp = pred[pred["parameterization"] == "sp"].set_index("layer")["slope"]
    assert sp.to_dict() == {"input": -0.5, "hidden.0": 0.5, "hidden.1": 0.5, "output": 1.0}
    assert np.all(pred.loc[pred["parameterization"] == "sp", "step"] == 1)
