"""grokking-modular-addition: the five statistics on a member table built in the test."""

import numpy as np
import pandas as pd
import pytest

from lmech.data.groups import cyclic
from lmech.laws.grokking import modular_addition as law
from lmech.laws.grokking._common import member_rows
from lmech.theory.grokking import energy

M = 7


def _single_frequency_W(freqs, phase=0.4):
    a = np.arange(M)
    cols = [np.concatenate([np.cos(2 * np.pi * k * a / M), np.cos(2 * np.pi * k * a / M + phase)])
            for k in freqs]  # fmt: skip
    return 0.3 * np.stack(cols, axis=1)  # (2M, K): balanced halves, one frequency each


def _meas():
    steps = [0, 10, 20, 30, 40]
    curves = pd.DataFrame({
        "member": np.tile([0, 1], len(steps)), "step": np.repeat(steps, 2),
        # member 0 (decay): train 100% at step 10, test > 50% first at step 30
        "train_accuracy": np.ravel([[0.1, 0.1], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]),
        "test_accuracy": np.ravel([[0.0, 0.0], [0.1, 0.1], [0.3, 0.1], [0.8, 0.1], [0.97, 0.12]]),
        "train_loss": 0.01,
    })  # fmt: skip
    W = np.stack([_single_frequency_W([1, 2, 3, 1]),
                  np.random.default_rng(0).standard_normal((2 * M, 4))])  # fmt: skip
    return member_rows(cyclic(M), curves, W, [0, 0], [0.5, 0.5], [1e-3, 0.0], 40), W


def test_unit_energy_is_the_li2_energy_of_the_normalized_unit():
    meas, W = _meas()
    E = meas[(meas["quantity"] == "unit_energy") & (meas["member"] == 1)]["value"].to_numpy()
    w = W[1].T / np.linalg.norm(W[1].T, axis=1, keepdims=True)
    np.testing.assert_allclose(E, energy(cyclic(M), w), rtol=1e-12)
    pure = meas[(meas["quantity"] == "unit_energy") & (meas["member"] == 0)]["value"]
    np.testing.assert_allclose(pure, M / 4, rtol=1e-12)  # a balanced single frequency: E*


def test_statistics_against_the_constructed_runs():
    meas, _ = _meas()
    pred = law.theory(law.Spec(M=M, width=8, steps=40, seeds=(0,)))
    assert np.allclose(pred.loc[pred["quantity"] == "E_star", "value"], M / 4)
    v = law.evaluate(pred, meas).values
    assert v["min_grokking_delay"] == pytest.approx(30 / 10)
    assert v["min_final_test_accuracy"] == pytest.approx(0.97)
    assert v["min_single_frequency_share"] == pytest.approx(1.0)
    assert v["max_energy_gap"] == pytest.approx(0.0, abs=1e-12)
    assert v["max_final_test_accuracy_no_decay"] == pytest.approx(0.12)
    assert law.LAW.verdict(pred, meas).passed
    # E* moved by the declared perturbation: the gap is 1 - 1/1.5 = 1/3 or |1 - 2| = 1
    for sign, gap in ((+1, 1 / 3), (-1, 1.0)):
        wrong = law.LAW.prediction.perturbed(pred, sign)
        assert law.evaluate(wrong, meas).values["max_energy_gap"] == pytest.approx(gap)


def test_no_memorization_gives_no_delay():
    meas, _ = _meas()
    train = (meas["quantity"] == "train_accuracy") & (meas["member"] == 0)
    meas.loc[train, "value"] = 0.99  # never 100% on the training pairs
    pred = law.theory(law.Spec(M=M, width=8, steps=40, seeds=(0,)))
    assert np.isnan(law.evaluate(pred, meas).values["min_grokking_delay"])
    assert not law.LAW.verdict(pred, meas).passed
