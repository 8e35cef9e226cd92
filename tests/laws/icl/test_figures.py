"""The theory-only icl figures plot the theory's numbers (checked line by line)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lmech.figures import icl as figs  # noqa: E402
from lmech.theory.icl import aligned_icl_error, deep_iso_optimal  # noqa: E402


def test_alignment_figure_lines_are_the_formula():
    d = 40
    train = np.r_[np.full(20, 1.6), np.full(20, 0.4)]
    fig = figs.alignment_figure(train, {"iso": np.ones(d)}, 2.0, 2.0, 0.1, kappas=[0.5, 2.0])
    y = fig.axes[0].lines[0].get_ydata()
    assert y[1] == pytest.approx(aligned_icl_error(train, np.ones(d), 2.0, 2.0, 2.0, 0.1))


def test_depth_figure_lines_are_the_optimum():
    fig = figs.depth_figure(alphas=(1.0,), depths=(1, 4), noise=0.1)
    y = fig.axes[0].lines[0].get_ydata()
    # independent of the golden-section search: a dense scan over gamma
    from lmech.theory.icl import deep_iso_error

    scan = deep_iso_error(np.linspace(0.01, 1.0, 2000), 1, 1.0, 0.1).min()
    assert y[0] == pytest.approx(scan, rel=1e-5)
    assert y[1] == pytest.approx(deep_iso_optimal(4, 1.0, 0.1)[1])


def test_new_law_figures_plot_their_tables():
    import pandas as pd

    pred = pd.DataFrame(
        {
            "kappa": [0.5, 0.5, 4.0, 4.0],
            "kind": ["idg", "icl", "idg", "icl"],
            "error": [0.26, 0.96, 0.45, 0.52],
            "isotropic_null": [0.48, 0.48, 0.48, 0.48],
        }
    )
    meas = pred[["kappa", "kind", "error"]].assign(error_se=0.001)
    fig = figs.full_attention_figure(pred, meas)
    icl_line = fig.axes[0].lines[0]  # the first kind drawn is "icl"
    np.testing.assert_allclose(icl_line.get_ydata(), [0.96, 0.52])
    tp = pd.DataFrame(
        {"kappa": [1.0, 16.0, 1.0, 16.0], "test": ["top", "top", "isotropic", "isotropic"]}
    ).assign(icl_error=[0.057, 0.070, 0.32, 0.14])
    tm = tp[["kappa", "test", "icl_error"]].assign(draw=0)
    fig = figs.tradeoff_figure(tp, tm)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [0.057, 0.070])
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), [0.32, 0.14])


def test_time_width_and_finite_tau_figures_plot_their_tables():
    import pandas as pd

    pred = pd.DataFrame(
        {
            "setting": ["time", "time", "width", "width"],
            "x": [0.01, 0.1, 1.0, 2.0],
            "loss": [0.5, 0.3, 0.6, 0.45],
            "null_loss": [1.0, 0.9, 1.0, 0.99],
            "floor": 0.1,
            "asymptotic_exponent": [0.11, 0.11, 0.5, 0.5],
        }
    )
    meas = pred[["setting", "x"]].assign(loss=[0.51, 0.31, 0.61, 0.46])
    fig = figs.time_width_figure(pred, meas)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [0.4, 0.2])  # theory - floor
    np.testing.assert_allclose(fig.axes[1].lines[1].get_ydata(), [0.51, 0.36])  # measured
    rows = []
    for d in (16, 32):
        for k in (2.0, 16.0):
            for lab in ("finite", "infinite"):
                rows.append({"d": d, "kappa": k, "pretraining": lab, "test": "top"})
    tp = pd.DataFrame(rows).assign(icl_error=0.1, tau_infinity_null=0.08)
    tm = tp[["d", "kappa", "pretraining", "test"]].assign(draw=0, icl_error=0.12)
    fig = figs.finite_tau_tradeoff_figure(tp, tm)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [0.2, 0.2])  # 0.12/0.1 - 1


def test_deep_training_figure_plots_its_tables():
    import pandas as pd

    pred = pd.DataFrame(
        {"depth": [1, 1, 4, 4], "time": [0.1, 4.0, 0.1, 4.0], "loss": [0.83, 0.62, 0.87, 0.48]}
    ).assign(gamma=0.2)
    meas = pred.assign(loss=[0.84, 0.64, 0.88, 0.49])
    fig = figs.deep_training_figure(pred, meas)
    np.testing.assert_allclose(fig.axes[0].lines[2].get_ydata(), [0.87, 0.48])  # L=4 theory
    np.testing.assert_allclose(fig.axes[0].lines[3].get_ydata(), [0.88, 0.49])  # L=4 SGD
