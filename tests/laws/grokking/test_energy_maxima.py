"""li2-energy-maxima: E* per class from the theory table, and the two checks' statistics."""

import numpy as np
import pandas as pd
import pytest

from lmech.data.groups import get_group
from lmech.laws.grokking import energy_maxima as law


def test_theory_gives_m_over_4_per_frequency_and_m_over_2d_for_real_irreps():
    pred = law.theory(law.Spec(groups=("Z7", "D5")))
    z7 = pred[pred["group"] == "Z7"].set_index("class_index")["E_star"]
    assert z7.iloc[0] == 0 and np.allclose(z7.iloc[1:], 7 / 4)
    d5 = pred[pred["group"] == "D5"].set_index("irrep_class")["E_star"]
    assert d5["sign"] == pytest.approx(10 / 2) and d5["rho1"] == pytest.approx(10 / 4)


def test_statistics_are_the_worst_energy_error_and_impurity():
    pred = law.theory(law.Spec(groups=("Z7",)))
    e_star = 7 / 4
    meas = pd.DataFrame({
        "group": "Z7", "start": [0, 1, 2], "step": 10, "energy": e_star * np.array([1, 1 - 3e-7, 1 + 1e-7]),
        "final": True, "dominant_class": [1, 2, 3], "share": [1.0, 1 - 4e-7, 1.0],
    })  # fmt: skip
    ev = law.evaluate(pred, meas)
    assert ev.values["max_energy_rel_err"] == pytest.approx(3e-7, rel=1e-6)
    assert ev.values["max_impurity"] == pytest.approx(4e-7, rel=1e-6)
    assert law.LAW.verdict(pred, meas).passed
    # a start that ends on the constant class (E* = 0) cannot pass the energy check
    meas.loc[0, "dominant_class"] = 0
    assert not law.LAW.verdict(pred, meas).passed


def test_experiment_ends_at_single_classes_with_the_predicted_energy():
    spec = law.PRESETS["smoke"]
    meas = law.experiment(spec, 0, "cpu")
    final = meas[meas["final"]]
    assert len(final) == spec.starts * len(spec.groups)
    g = get_group("D3")
    assert set(final.loc[final["group"] == "D3", "dominant_class"]) <= set(
        range(len(g.real_classes))
    )
