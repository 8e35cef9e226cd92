"""grokking-linear-estimator: the GD engine and the evaluation against independent numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from lmech.laws.grokking import linear_estimator as le
from lmech.laws.grokking._dynamics import crossing_step, linear_teacher_student_run
from lmech.seeding import torch_generator
from lmech.theory.grokking_dynamics import crossing_time, linear_losses


def test_crossing_step_exact_on_geometric_decay():
    steps = np.arange(0, 50, 7)
    values = 3.0 * 0.9**steps
    t = crossing_step(steps, values, 0.1)
    assert abs(t - math.log(0.1 / 3.0) / math.log(0.9)) < 1e-9
    assert math.isnan(crossing_step(steps, values, 1e-9))


def test_run_matches_the_spectral_formula_of_its_own_draws():
    # regenerate the run's draws (same keyed stream) and compare the logged losses with the
    # brute-force eigen-decomposition D_t = D_0 V (1 - eta Lambda)^t V^T
    d, do, N, nt, lr = 15, 4, 40, 30, 0.3
    run = linear_teacher_student_run(d, do, N, nt, lr, 1.0, 0.5, 0.05, np.array([0, 3, 9]), 7,
                                     ("k",), trials=1)  # fmt: skip
    gen = torch_generator(7, "k", "trial", 0)
    kw = {"dtype": torch.float64, "generator": gen}
    X, Xt = torch.randn(N, d, **kw).numpy(), torch.randn(nt, d, **kw).numpy()
    T = torch.randn(do, d, **kw).numpy() / math.sqrt(d)
    S = 0.5 * torch.randn(do, d, **kw).numpy() / math.sqrt(d)
    lam, V = np.linalg.eigh(X.T @ X / N)
    for _, row in run.iterrows():
        Dt = (S - T) @ V @ np.diag((1 - lr * lam) ** row["step"]) @ V.T
        lt, lte = ((X @ Dt.T) ** 2).mean(1), ((Xt @ Dt.T) ** 2).mean(1)
        assert abs(row["train_loss"] - lt.mean()) < 1e-12
        assert abs(row["test_loss"] - lte.mean()) < 1e-12
        assert row["test_accuracy"] == np.mean(lte < 0.05)


def test_theory_table_is_the_mp_closed_form():
    spec = le.PRESETS["smoke"]
    pred = le.theory(spec)
    r = spec.ratios[0]
    lam = spec.d_in / spec.n_train(r)
    tr, te = linear_losses(lam, spec.lr, pred["step"], spec.variance)
    np.testing.assert_allclose(pred["train_loss"], tr, rtol=1e-12)
    np.testing.assert_allclose(pred["test_loss"], te, rtol=1e-12)
    # the logged grid reaches 1.5 x the predicted test crossing
    assert pred["step"].max() >= 1.5 * crossing_time(lam, spec.lr, spec.variance, spec.threshold)


def test_evaluate_zero_on_theory_and_fails_a_shifted_curve():
    spec = le.PRESETS["smoke"]
    pred = le.theory(spec)
    meas = pred.drop(columns="threshold").assign(trial=0)
    v = le.evaluate(pred, meas).values
    for k in ("max_rel_err_test_loss", "max_rel_err_train_loss", "max_err_test_accuracy",
              "max_rel_err_delay"):  # fmt: skip
        assert v[k] < 1e-12
    # the measured delay over t_train equals the theory's (independent: crossing_time)
    lam = spec.d_in / spec.n_train(spec.ratios[0])
    t_tr = crossing_time(lam, spec.lr, spec.variance, spec.threshold, "train")
    t_te = crossing_time(lam, spec.lr, spec.variance, spec.threshold, "test")
    assert abs(v["min_relative_delay"] - (t_te - t_tr) / t_tr) < 0.05  # log-linear interpolation
    slow = meas.assign(test_loss=meas["test_loss"] * 1.3)
    assert le.evaluate(pred, slow).values["max_rel_err_test_loss"] > 0.29


def test_quick_scale_run_agrees_with_theory():
    # one ratio at reduced size: the trial-mean test loss at the predicted crossing is within
    # the MP edge bias plus 4 standard errors
    spec = le.Spec(d_in=100, d_out=20, ratios=(0.5,), trials=6, test_points=300, log_points=12)
    pred, meas = le.theory(spec), le.experiment(spec, 0, "cpu")
    t = float(le._delays(pred, spec.threshold).loc[0.5, "t_test"])
    step = pred.loc[pred["step"] <= t, "step"].max()
    m = meas[meas["step"] == step]["test_loss"]
    p = float(pred.loc[pred["step"] == step, "test_loss"].iloc[0])
    assert abs(m.mean() / p - 1) < 0.1 + 4 * m.std() / math.sqrt(len(m)) / p
    assert isinstance(meas, pd.DataFrame) and set(le.LAW.experiment_columns) <= set(meas.columns)
