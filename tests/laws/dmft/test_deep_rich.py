"""dmft-deep-rich's statistics on synthetic tables with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmech.laws.dmft import deep_rich as dr


def _pred(steps):
    return pd.DataFrame({
        "step": steps, "t": steps * 1.0, "train_loss": np.exp(-0.2 * steps),
        "test_loss": 0.5 + np.exp(-0.2 * steps), "alignment": 0.3 - 0.01 * steps,
        "lazy_train_loss": 2 * np.exp(-0.1 * steps), "lazy_test_loss": 0.8 + np.exp(-0.1 * steps),
        "lazy_alignment": 0.3, "noresp_train_loss": 1.2 * np.exp(-0.2 * steps),
        "noresp_test_loss": 0.5 + 1.2 * np.exp(-0.2 * steps), "iterations": 9,
        "residual": 1e-10, "kernel_stderr": 0.01,
    })  # fmt: skip


def _meas(pred, widths, seeds, amp, power, g):
    rows = []
    for N in widths:
        for s in range(seeds):
            e = g.standard_normal(2) * amp * N**-power
            for k in pred.index:
                p = pred.loc[k]
                rows.append((N, s, int(p.step), p.t, p.train_loss * (1 + e[0]),
                             p.test_loss * (1 + e[1]), p.alignment))  # fmt: skip
    return pd.DataFrame(rows, columns=list(dr.EXPERIMENT_COLUMNS))


def test_recovers_planted_half_power_and_nulls():
    pred = _pred(np.arange(0, 9))
    meas = _meas(pred, (256, 1024, 4096, 16384), 200, 0.8, 0.5, np.random.default_rng(0))
    ev = dr.evaluate(pred, meas)
    assert ev.values["width_exponent_error"] < 0.03
    assert ev.values["widest_rel_err"] < 0.01
    assert ev.values["alignment_err"] < 1e-12
    # the nulls: lazy ~1.0 off at late times, no-response 1.2x the decaying part
    assert ev.values["lazy_null_rel_err"] > 0.3
    assert 0.05 < ev.values["no_response_rel_err"] < 0.2


def test_planted_shallow_power_fails_the_exponent_check():
    pred = _pred(np.arange(0, 9))
    meas = _meas(pred, (256, 1024, 4096, 16384), 200, 0.8, 0.15, np.random.default_rng(1))
    ev = dr.evaluate(pred, meas)
    assert abs(ev.values["width_exponent_error"] - 0.35) < 0.04
    check = next(c for c in dr.LAW.criterion.checks if c.statistic == "width_exponent_error")
    assert ev.values["width_exponent_error"] > check.bound


def test_memory_estimate_covers_the_hidden_matrices():
    small, big = dr.Spec(widths=(128, 256, 512)), dr.Spec(widths=(128, 256, 4096))
    # at least the widest networks' E N^2 float64 weights, with gradients
    assert big.memory_bytes() >= 2 * 8 * big.seeds * 4096**2
    assert big.memory_bytes() > small.memory_bytes()
    assert dr.LAW.presets["quick"].memory_bytes() < 4 * 2**30
