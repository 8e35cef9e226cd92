"""grokking-lazy-to-rich: the training engine and the evaluation against independent numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from lmech.laws.grokking import lazy_rich as lr
from lmech.laws.grokking._dynamics import crossing_step, lazy_rich_run
from lmech.theory.grokking_dynamics import lazy_rich_population


def test_reduced_engine_equals_network_training():
    kw = dict(D=6, n_train=40, width=24, alpha=2.0, eps=0.1, lr_scale=1.0, max_steps=60,
              log_every=10, seed=3, keys=("t",))  # fmt: skip
    a = lazy_rich_run(engine="reduced", **kw)
    b = lazy_rich_run(engine="network", **kw)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-10, atol=1e-12)


def test_initial_test_loss_is_the_target_moment():
    # f - f0 = 0 at start: the population loss is E[y^2] / 2 = 3 (|beta|^2 / D)^2 / 8 = 3/8
    run = lazy_rich_run(8, 30, 16, 1.0, 0.02, 1.0, 0, 1, 0, ("t",))
    assert abs(run["test_loss"].iloc[0] - 0.375) < 1e-12
    assert abs(lr.theory(lr.PRESETS["smoke"])["initial_test_loss"].iloc[0] - 0.375) < 1e-12


def test_rich_regime_matches_population_theory():
    # small alpha: the finite-P slowdown is small (measured 41 vs 39 steps at alpha = 1/16)
    alpha = 1 / 16
    t_pred = lazy_rich_population(alpha, 0.02, 20, 5.0, 20.0)[0]
    ts = []
    for trial in range(3):
        run = lazy_rich_run(20, 300, 500, alpha, 0.02, 5.0, 2000, 1, 0, ("trial", trial))
        s, te = run["step"].to_numpy(), run["test_loss"].to_numpy()
        ts.append(crossing_step(s, te, te[0] / 2))
    assert abs(np.mean(ts) / t_pred - 1) < 0.15


def test_evaluate_recovers_known_times():
    # synthetic runs: test loss halves at 100 alpha^0.75, train at 80 alpha^0.7
    rows = []
    for a in (1.0, 4.0, 16.0):
        for trial in range(2):
            steps = np.arange(0, 4000, 5)
            tg, tt = 100 * a**0.75, 80 * a**0.7
            rows.append(pd.DataFrame({"trial": trial, "alpha": a, "step": steps,
                                      "test_loss": 0.4 * 0.5 ** (steps / tg),
                                      "train_loss": 0.4 * 0.5 ** (steps / tt)}))  # fmt: skip
    meas = pd.concat(rows, ignore_index=True)
    pred = pd.DataFrame({"alpha": [1.0, 4.0, 16.0], "t_grok": [100 * a**0.75 for a in (1, 4, 16)],
                         "initial_test_loss": 0.4})  # fmt: skip
    v = lr.evaluate(pred, meas).values
    assert v["max_log_err_t_grok"] < 0.01 and v["slope_error"] < 0.01
    assert abs(v["null_margin"] - 0.25) < 0.01
    rel = [1 - 0.8 * a**0.7 / a**0.75 for a in (1.0, 16.0)]
    assert abs(v["delay_growth"] - (rel[1] - rel[0])) < 0.01
    assert math.isinf(lr.evaluate(pred.assign(t_grok=0.0), meas).values["max_log_err_t_grok"])
