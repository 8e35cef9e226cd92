"""li2-top-down: the predicted share comes from the theory table, the measured one from
the re-initialized single-frequency units."""

import numpy as np
import pandas as pd
import pytest

from lmech.errors import ConfigError
from lmech.laws.grokking import top_down as law


def _meas(kept_dominant, new_dominant, new_single):
    rows = []
    for stage in (1, 2):
        for j, d in enumerate(kept_dominant):
            rows.append({"stage": stage, "unit": j, "kept": True, "klass": 0, "power": 0.0,
                         "dominant": d, "alive": True, "single": stage == 2})  # fmt: skip
        for j, (d, single) in enumerate(zip(new_dominant, new_single, strict=True)):
            rows.append({"stage": stage, "unit": 100 + j, "kept": False, "klass": 0, "power": 0.0,
                         "dominant": d if stage == 2 else 1, "alive": True,
                         "single": single and stage == 2})  # fmt: skip
    return pd.DataFrame(rows)


def test_share_error_is_measured_against_the_theory_share():
    pred = pd.DataFrame({"start": range(4), "frequency": [6, 7, 8, 9], "share": 1.0,
                         "energy": 5.75, "outside_learned": [1.0, 1.0, 1.0, 0.0]})  # fmt: skip
    # S = {1, 2}; new single-frequency units at 6, 6, 7 and 2 (one more, not single, at 1)
    meas = _meas([1, 2], [6, 6, 7, 2, 1], [True, True, True, True, False])
    ev = law.evaluate(pred, meas)
    assert ev.values["predicted_share_outside"] == pytest.approx(0.75)
    assert ev.values["share_error_new_units"] == pytest.approx(abs(3 / 4 - 0.75))
    wrong = law.LAW.prediction.perturbed(pred, -1)
    assert law.evaluate(wrong, meas).values["share_error_new_units"] == pytest.approx(0.45)


def test_theory_ascent_ends_outside_the_learned_frequencies():
    spec = law.Spec(M=11, learned=(1, 2), starts=6)
    pred = law.theory(spec)
    assert pred["outside_learned"].eq(1.0).all()
    assert not set(pred["frequency"]) & {1, 2}
    np.testing.assert_allclose(pred["energy"], 11 / 4, rtol=1e-9)


def test_learned_must_be_a_proper_subset_of_the_frequencies():
    with pytest.raises(ConfigError, match="learned"):
        law.Spec(M=7, learned=(1, 2, 3))
    with pytest.raises(ConfigError, match="learned"):
        law.Spec(M=7, learned=(4,))
