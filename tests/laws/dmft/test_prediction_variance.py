"""finite-width-rich-variance's evaluation against synthetic tables of known variance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmech.laws.dmft.prediction_variance import RICH_LAW, rich_evaluate


def _tables(*, scale_f=1.0, exponent=-1.0, seeds=4000, rel_lazy=0.8, seed=0):
    g = np.random.default_rng(seed)
    Cf, Ck, Kmean, Klazy = 0.2, 7.0, 8.0, 3.0
    pred = pd.DataFrame(
        [("prediction", 32 + j, 0.0, Cf, 0.0, 0.3) for j in range(4)]
        + [("target_kernel", -1, Kmean, Ck, 0.0, rel_lazy * Klazy**2),
           ("target_kernel_init", -1, Klazy, rel_lazy * Klazy**2, 0.0, rel_lazy * Klazy**2)],
        columns=list(RICH_LAW.theory_columns),
    )  # fmt: skip
    rows = []
    for N in (128, 256, 512):
        v = scale_f * Cf * (N / 128.0) ** exponent / 128.0
        f = g.normal(0, np.sqrt(v), (seeds, 4))
        k = g.normal(Kmean, np.sqrt(Ck / N), seeds)
        for s in range(seeds):
            rows += [(N, s, "prediction", 32 + j, f[s, j]) for j in range(4)]
            rows.append((N, s, "target_kernel", -1, k[s]))
    return pred, pd.DataFrame(rows, columns=list(RICH_LAW.experiment_columns))


def test_exact_tables_pass_and_values_are_the_known_ones():
    pred, meas = _tables()
    ev = rich_evaluate(pred, meas)
    v = ev.values
    # 4000 seeds: variance SE 2.2%, so the ratios are 1 within ~5%
    assert v["prediction_ratio_err"] < 0.05 and v["kernel_ratio_err"] < 0.08
    assert v["exponent_error"] < 0.06
    # relative NTK variance (7 / 64) against lazy 0.8: ratio 0.137
    assert abs(v["kernel_variance_reduction"] - (7.0 / 64.0) / 0.8) < 0.02
    assert abs(v["lazy_null_gap"] - 1.0 / 3.0) < 0.04  # N Var / C_lazy = 0.2 / 0.3
    assert RICH_LAW.criterion.verdict(ev).status == "passed"


def test_wrong_scaling_and_no_reduction_fail():
    pred, meas = _tables(exponent=-0.5)
    assert rich_evaluate(pred, meas).values["exponent_error"] > 0.4
    pred, meas = _tables(rel_lazy=7.0 / 64.0)  # the lazy relative variance equals the rich
    ev = rich_evaluate(pred, meas)
    assert abs(ev.values["kernel_variance_reduction"] - 1.0) < 0.1
    assert RICH_LAW.criterion.verdict(ev).status == "failed"
