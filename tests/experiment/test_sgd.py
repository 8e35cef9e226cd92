"""The SGD simulators against the exact recursions (themselves checked against numpy
Monte Carlo and brute-force moment propagation in tests/theory/test_sgd.py)."""

import numpy as np
import pytest
import torch

from lmech.errors import DataUnavailableError
from lmech.experiment import sgd as ex
from lmech.seeding import rng
from lmech.theory import sgd as th


def _z(pred, mean, se):
    return float(np.max(np.abs(np.asarray(pred) - mean) / se))


def test_online_sgd_grid_of_rates_batches_and_schedules_in_one_program():
    lam = th.power_law_spectrum(16, 1.5)
    w = np.sqrt(th.power_law_target(16, 1.5, 2.5))
    T = 150
    lrs = np.stack(
        [
            th.constant_schedule(0.5, T),
            th.cosine_schedule(1.0, T),
            th.inverse_power_schedule(0.8, T, 0.5, t0=5),
        ]
    )
    B = np.array([[1], [4], [2]]) * np.ones(T, dtype=int)
    B[2, 75:] = 8  # a batch ramp inside one configuration
    rho = np.stack(
        [
            th.averaging_weights("last", T),
            th.averaging_weights("ema", T, 0.9),
            th.averaging_weights("uniform", T),
        ]
    )
    steps = [10, 40, 150]
    mc = ex.online_sgd(lam, w, 0.05, lrs, B, runs=1500, seed=0, log_steps=steps, rho=rho)
    cur = th.online_moments(lam, w**2, 0.05, lrs, B, rho=rho)
    assert _z(cur.loss[:, steps], mc["loss"], mc["loss_se"]) < 4.5
    assert _z(cur.averaged[:, steps], mc["averaged"], mc["averaged_se"]) < 4.5


@pytest.mark.parametrize("normalized", [False, True])
def test_projected_sampler_is_the_same_process(normalized):
    lam = th.power_law_spectrum(30, 1.5)
    w = np.sqrt(th.power_law_target(30, 1.5, 2.0))
    T = 100
    lrs = np.stack([np.full(T, 0.5), np.full(T, 0.2 if normalized else 1.0)])
    B = np.array([[1], [16]]) * np.ones(T, dtype=int)
    steps = [3, 20, 100]
    cur = th.online_moments(lam, w**2, 0.1, lrs, B, normalized=normalized)
    for sampler in ("samples", "projected"):
        mc = ex.online_sgd(
            lam,
            w,
            0.1,
            lrs,
            B,
            runs=1500,
            seed=3,
            log_steps=steps,
            sampler=sampler,
            normalized=normalized,
        )
        assert _z(cur.loss[:, steps], mc["loss"], mc["loss_se"]) < 4.5, sampler


def test_online_sgd_is_seeded():
    lam = th.power_law_spectrum(5, 1.0)
    a = ex.online_sgd(lam, np.ones(5), 0.1, np.full(20, 0.3), 2, runs=10, seed=1)
    b = ex.online_sgd(lam, np.ones(5), 0.1, np.full(20, 0.3), 2, runs=10, seed=1)
    c = ex.online_sgd(lam, np.ones(5), 0.1, np.full(20, 0.3), 2, runs=10, seed=2)
    np.testing.assert_array_equal(a["loss"], b["loss"])
    assert not np.array_equal(a["loss"], c["loss"])


def test_normalized_sgd_matches_the_expectation_normalized_recursion():
    lam = th.power_law_spectrum(20, 1.5)
    w = np.sqrt(th.power_law_target(20, 1.5, 2.0))
    T = 120
    eta = np.full(T, 0.1)
    mc = ex.online_sgd(
        lam, w, 0.5, eta, 4, runs=2000, seed=0, log_steps=[5, 30, 120], normalized=True
    )
    cur = th.online_moments(lam, w**2, 0.5, eta, 4, normalized=True)
    # the run-average of |g|^2 replaces its expectation: a 1/sqrt(R) relative effect on
    # the step, well below the standard error of the mean loss
    assert _z(cur.loss[[5, 30, 120]], mc["loss"][0], mc["loss_se"][0]) < 4.5


def test_multipass_sgd_matches_exact_recursion():
    g = rng(0, "mp-engine")
    D, P, s2 = 10, 15, 0.1
    lam = th.power_law_spectrum(D, 1.0)
    X = g.standard_normal((P, D)) * np.sqrt(lam)
    w = g.standard_normal(D)
    eps = g.standard_normal(P) * np.sqrt(s2)
    eta = np.full(80, 0.7 / np.mean((X**2).sum(1)))
    exact = th.multipass_recursion(X, eps, -w, lam, s2, eta, 3)
    mc = ex.multipass_sgd(X, eps, -w, lam, s2, eta, 3, runs=3000, seed=0, log_steps=[5, 20, 80])
    assert _z(exact["test"][[5, 20, 80]], mc["test"], mc["test_se"]) < 4.5
    assert _z(exact["train"][[5, 20, 80]], mc["train"], mc["train_se"]) < 4.5


def test_plrf_sgd_matches_the_reduction():
    g = rng(0, "plrf-engine")
    v, d = 120, 30
    Dd = np.arange(1, v + 1) ** -1.6
    b = np.arange(1, v + 1) ** -0.7
    W = g.standard_normal((v, d)) / np.sqrt(d)
    red = th.plrf_reduction(W, Dd, b)
    T, B = 300, 4
    eta = np.full(T, 1.0 / red["lam"].sum())
    pred = th.online_loss(red["lam"], red["c0"], red["noise_variance"], eta, B)
    mc = ex.plrf_sgd(W, Dd, b, eta, B, runs=600, seed=0, log_steps=[10, 100, 300])
    assert _z(pred[[10, 100, 300]], mc["risk"], mc["risk_se"]) < 4.5


def test_real_data_mnist_pca_features_follow_gaussian_recursion_with_empirical_covariance():
    from lmech.data.cache import mnist_5k

    try:
        images = mnist_5k()
    except DataUnavailableError as err:
        pytest.skip(str(err))
    X = images.features(center=True)[:]
    _, _, Vt = np.linalg.svd(X, full_matrices=False)
    Z = X @ Vt[:30].T
    Z /= np.sqrt((Z**2).sum(1).mean())  # trace of the empirical covariance = 1
    lam = (Z**2).mean(0)  # principal axes: the empirical covariance is diagonal here
    assert np.abs(Z.T @ Z / len(Z) - np.diag(lam)).max() < 1e-10
    w = np.sqrt(th.power_law_target(30, 1.0, 2.0))
    T = 300
    eta = np.full((1, T), 0.5)
    pred = th.online_loss(lam, w**2, 0.05, eta[0], 4)[[10, 50, 300]]
    mc = ex.empirical_online_sgd(Z, w, 0.05, eta, 4, runs=400, seed=0, log_steps=[10, 50, 300])
    # pixels are not Gaussian: the fourth-cumulant correction is an eta^2/B term; measured
    # |relative error| <= 0.6% (about 2 s.e.) here, so 2% leaves room for MC noise
    assert np.max(np.abs(mc["loss"][0] / pred - 1)) < 0.02


def test_plrf_conditional_curves_are_the_sgd_loss_of_their_feature_draw():
    # rebuild draw 0 of width d from the documented generator and run SGD on it
    from lmech.seeding import torch_generator

    widths, ratio, a, b = (8, 16), 4, 1.0, 0.6
    T = 400
    eta = 0.25 / th.plrf_spectrum(ratio * widths[-1], a).sum()
    res = ex.plrf_conditional_curves(
        widths,
        ratio,
        a,
        b,
        np.full(T, eta),
        trials=2,
        seed=5,
        keys=("t",),
        log_steps=[10, 100, 400],
    )
    G = torch.randn(
        (ratio * widths[-1], widths[-1]),
        generator=torch_generator(5, "plrf-features", "t", 0),
        dtype=torch.float64,
    ).numpy()
    d = widths[1]
    W = G[: ratio * d, :d] / np.sqrt(d)
    v = ratio * d
    mc = ex.plrf_sgd(
        W, th.plrf_spectrum(v, a), th.plrf_target(v, b), np.full(T, eta), 1, runs=800, seed=0,
        log_steps=[10, 100, 400],
    )  # fmt: skip
    assert _z(res["loss"][1][0], mc["risk"], mc["risk_se"]) < 4.5
    # and the reduction's P_inf is the least-squares residual of that draw
    red = th.plrf_reduction(W, th.plrf_spectrum(v, a), th.plrf_target(v, b))
    assert res["p_inf"][1, 0] == pytest.approx(red["p_inf"], rel=1e-9)
