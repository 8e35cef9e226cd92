"""The optimal-learning-rate estimate and the statistics of the two learning-rate transfer laws."""

import numpy as np
import pandas as pd
import pytest

from lmech.errors import ConfigError
from lmech.experiment.transfer import optimal_log2_lr
from lmech.laws.transfer import lr_transfer as lt
from lmech.laws.transfer._common import capped, learning_rates


def test_optimal_lr_recovers_a_parabola_vertex():
    x = np.arange(-8.0, 0.0)
    loss = np.exp(0.3 * (x + 3.3) ** 2)  # log loss is a parabola with vertex -3.3
    assert optimal_log2_lr(x, loss) == pytest.approx(-3.3, abs=1e-9)
    assert optimal_log2_lr(x, np.exp(x)) == x[0]  # minimum at the grid edge
    diverged = capped([0.5, 0.2, np.nan, np.inf], 10.0)
    assert diverged.tolist() == [0.5, 0.2, 10.0, 10.0]
    np.testing.assert_allclose(np.log2(learning_rates(-3, -1, 2)), [-3, -2.5, -2, -1.5, -1])


def _meas(centres: dict[str, list[float]], sizes: tuple[int, ...]) -> pd.DataFrame:
    """Losses whose log is a parabola in log2 lr with its vertex at each centre."""
    rows = []
    for arm, cs in centres.items():
        for s, c in zip(sizes, cs, strict=True):
            for x in np.arange(-8.0, 0.0):
                rows.append((arm, s, 0, 2.0**x, float(np.exp(0.3 * (x - c) ** 2))))
    return pd.DataFrame(rows, columns=list(lt.EXPERIMENT_COLUMNS))


def test_width_statistics_compare_each_arm_with_its_exponent():
    law, spec = lt.LAW_WIDTH, lt.WidthSpec(widths=(64, 1024))
    pred = law.theory(spec)
    meas = _meas({"mup": [-3.0, -3.2], "sp": [-3.0, -6.0]}, spec.widths)
    v = law.evaluate(pred, meas).values
    assert v["mup_lr_drift_octaves"] == pytest.approx(0.2)
    assert v["sp_lr_shift_octaves"] == pytest.approx(3.0)
    # SP residual: -3 at n = 64, -6 - (-1) * log2(1024 / 64) = -2 at n = 1024
    assert v["sp_lr_drift_octaves"] == pytest.approx(1.0)
    assert v["sp_minus_mup_shift_octaves"] == pytest.approx(2.8)
    assert law.verdict(pred, meas).passed
    # muP exponent +0.5: residual at n = 1024 is -3.2 - 0.5 * 4 = -5.2, a 2.2-octave drift
    wrong = law.evaluate(law.prediction.perturbed(pred, +1), meas).values
    assert wrong["mup_lr_drift_octaves"] == pytest.approx(2.2)
    assert not law.verdict(law.prediction.perturbed(pred, +1), meas).passed
    too_little = _meas({"mup": [-3.0, -3.2], "sp": [-3.0, -4.5]}, spec.widths)
    assert not law.verdict(pred, too_little).passed  # SP moved 1.5 < 2 octaves


def test_depth_statistics_compare_scaled_with_unscaled():
    law, spec = lt.LAW_DEPTH, lt.DepthSpec(depths=(2, 16))
    pred = law.theory(spec)
    meas = _meas({"scaled": [-3.0, -3.5], "unscaled": [-3.0, -4.0]}, spec.depths)
    v = law.evaluate(pred, meas).values
    assert v["scaled_lr_drift_octaves"] == pytest.approx(0.5)
    assert v["unscaled_minus_scaled_shift_octaves"] == pytest.approx(0.5)
    assert law.verdict(pred, meas).passed
    swapped = _meas({"scaled": [-3.0, -4.0], "unscaled": [-3.0, -3.5]}, spec.depths)
    assert law.evaluate(pred, swapped).values["unscaled_minus_scaled_shift_octaves"] == (
        pytest.approx(-0.5)
    )
    assert not law.verdict(pred, swapped).passed


def test_specs_refuse_an_empty_grid_and_a_batch_larger_than_the_data():
    with pytest.raises(ConfigError, match="log2_lr_min < log2_lr_max"):
        lt.WidthSpec(log2_lr_min=-1.0, log2_lr_max=-1.0)
    with pytest.raises(ConfigError, match="batch_size 64 > num_train 32"):
        lt.DepthSpec(num_train=32, batch_size=64)
