"""The sgd laws' theory tables against independent computations, and the docs example."""

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from lmech.laws import registry
from lmech.theory import sgd as th

ROOT = Path(__file__).resolve().parents[3]


def test_online_law_gd_null_is_the_closed_form_and_loss_the_volterra_solution():
    law = registry.get("sgd-online-loss-curve")
    spec = law.preset("smoke")
    pred = law.theory(spec)
    lam, c0 = spec.problem()
    for g, (eta, B) in enumerate(zip(spec.lr_times_trace, spec.batches, strict=True)):
        rows = pred[pred.config == g]
        t = rows["step"].to_numpy()
        gd = 0.5 * (spec.noise_variance + ((1 - eta * lam) ** (2 * t[:, None])) @ (lam * c0))
        np.testing.assert_allclose(rows["gd_loss"], gd, rtol=1e-12)
        vol = th.volterra_loss(lam, c0, spec.noise_variance, eta, B, spec.steps)
        np.testing.assert_allclose(rows["loss"], vol[t], rtol=1e-11)


def test_averaging_law_rate_approaches_the_asymptote_with_n():
    # the docstring's finite-N bias: local slopes of the exact variance curve move
    # toward -(1 - 1/a) as N grows (a = 2: -0.447 over [100, 200], -0.487 over [1200, 2400])
    lam = th.power_law_spectrum(200, 2.0)
    T = 4800
    cur = th.online_moments(
        lam, np.zeros(200), 0.05, np.full(T, 0.5), 1, rho=th.averaging_weights("uniform", T)
    )
    v = cur.averaged - 0.025
    local = [np.log(v[2 * n] / v[n]) / np.log(2) for n in (100, 400, 1200, 2400)]
    assert local[0] > local[1] > local[2] > local[3] > -0.5
    assert local[0] == pytest.approx(-0.447, abs=0.005)
    assert local[2] == pytest.approx(-0.487, abs=0.005)


def test_seesaw_nsgd_equivalence_becomes_exact_when_noise_dominates():
    law = registry.get("seesaw-equivalence")
    spec = law.preset("quick")
    gaps = []
    for s2 in (0.5, 50.0):
        pred = law.theory(replace(spec, noise_variance=s2))
        h = pred[pred.schedule == "nsgd_halve"].excess.to_numpy()
        s = pred[pred.schedule == "nsgd_seesaw"].excess.to_numpy()
        gaps.append(np.max(np.abs(s / h - 1)))
    # the signal part of E|g|^2 is what breaks it: at sigma^2 = 50 the gap falls to
    # ~1%, the size of the plain-SGD halving/doubling gap (second-order eta^2 terms)
    assert gaps[1] < 0.5 * gaps[0]
    sgd = law.theory(spec)
    h = sgd[sgd.schedule == "sgd_halve"].excess.to_numpy()
    d = sgd[sgd.schedule == "sgd_double"].excess.to_numpy()
    assert gaps[1] < np.max(np.abs(d / h - 1)) + 0.005


def test_batch_law_linear_scaling_is_exact_in_the_small_eta_limit():
    law = registry.get("sgd-batch-size-tradeoff")
    spec = replace(law.preset("quick"), lr_times_trace=1e-3, batches=(1, 2, 4, 8, 16))
    pred = law.theory(spec)
    # the per-sample dynamics depend on eta/B only up to O(eta^2 lambda^2) corrections
    assert np.max(np.abs(pred.excess / pred.excess.iloc[0] - 1)) < 1e-2
    lam, _ = spec.problem()
    np.testing.assert_allclose(pred.eta, 1e-3 * np.array(spec.batches) / lam.sum())


def test_multipass_law_online_column_is_the_online_recursion():
    law = registry.get("sgd-multipass-finite-data")
    spec = law.preset("smoke")
    pred = law.theory(spec)
    X, eps, d0, eta = spec.case(0)
    on = th.online_loss(spec.lam(), d0**2, spec.noise_variance, eta, spec.batches[0])
    rows = pred[pred.case == 0]
    np.testing.assert_allclose(rows.online_test_loss, on[rows.step], rtol=1e-12)


def test_docs_example_runs_and_prints_what_the_page_shows(capsys):
    text = (ROOT / "docs" / "sgd.md").read_text()
    code = re.search(r"```python\n(.*?)\n```", text, re.S).group(1)
    shown = re.search(r"Output:\n\n```\n(.*?)\n```", text, re.S).group(1)
    exec(compile(code, "docs/sgd.md", "exec"), {})
    assert capsys.readouterr().out.strip() == shown.strip()


def test_schedule_comparison_figure():
    from lmech.figures.sgd import schedule_comparison

    lam = th.power_law_spectrum(30, 1.5)
    c0 = th.power_law_target(30, 1.5, 2.5)
    fig = schedule_comparison(
        lam,
        c0,
        0.01,
        {
            "cosine": (th.cosine_schedule(0.5, 100), 1, "last"),
            "const+EMA": (th.constant_schedule(0.5, 100), 1, ("ema", 0.9)),
            "t^-1/2+avg": (th.inverse_power_schedule(0.5, 100, 0.5, t0=10), 1, "uniform"),
        },
    )
    assert isinstance(fig, Figure)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    final = th.predict_loss(lam, c0, 0.01, th.cosine_schedule(0.5, 100)).final - 0.005
    assert labels[0] == f"cosine: {final:.3g}"
