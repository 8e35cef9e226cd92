"""The optimal-learning-rate estimate and the transfer metric of lr-transfer-width."""

import numpy as np
import pandas as pd
import pytest

from lmech.laws import lr_transfer_width as law
from lmech.laws._transfer import capped, optimal_log2_lr


def test_optimal_lr_recovers_a_parabola_vertex():
    x = np.arange(-8.0, 0.0)
    loss = np.exp(0.3 * (x + 3.3) ** 2)  # log loss is a parabola with vertex -3.3
    assert optimal_log2_lr(x, loss) == pytest.approx(-3.3, abs=1e-9)
    assert optimal_log2_lr(x, np.exp(x)) == x[0]  # minimum at the grid edge
    diverged = capped([0.5, 0.2, np.nan, np.inf], 10.0)
    assert diverged.tolist() == [0.5, 0.2, 10.0, 10.0]


def test_compare_reports_both_shifts():
    rows = []
    for kind, centres in (("mup", [-3.0, -3.2]), ("sp", [-3.0, -6.0])):
        for w, c in zip((64, 1024), centres, strict=True):
            for x in np.arange(-8.0, 0.0):
                rows.append((kind, w, 0, 2.0**x, float(np.exp(0.3 * (x - c) ** 2))))
    meas = pd.DataFrame(rows, columns=["parameterization", "width", "seed", "lr", "loss"])
    v = law.compare(law.theory(law.Spec()), meas)
    # muP shift 2^0.2, SP shift 2^3 = 8: worst = max(2^0.2 / 2, 4 / 8)
    assert v.value == pytest.approx(max(2**0.2 / 2, 0.5))
    assert "muP 1.15x" in v.detail and "SP 8.00x" in v.detail
