"""Bad input to the SGD theory and simulators: clear lmech.errors, never NaN or a hang."""

import numpy as np
import pytest

from lmech.errors import ConfigError, InputError
from lmech.experiment import sgd as ex
from lmech.laws import registry
from lmech.theory import sgd as th

LAM = th.power_law_spectrum(20, 1.5)
C0 = th.power_law_target(20, 1.5, 2.5)


def test_eta_beyond_stability_bound_names_the_bound():
    bound = th.stability_bound(LAM, 1)
    with pytest.raises(InputError, match="stability bound") as info:
        th.online_loss(LAM, C0, 0.1, np.full(10, 1.01 * bound), 1)
    assert f"{bound:.6g}" in str(info.value)
    with pytest.raises(InputError, match="stability bound"):
        th.stationary_loss(LAM, 0.1, 2 * bound, 1)
    with pytest.raises(InputError, match="stability bound"):
        th.predict_loss(LAM, C0, 0.1, th.cosine_schedule(3 * bound, 50))
    # a larger batch raises the bound: the same eta is then accepted
    assert th.stability_bound(LAM, 8) > 1.01 * bound
    th.online_loss(LAM, C0, 0.1, np.full(10, 1.01 * bound), 8)


@pytest.mark.parametrize("batch", [0, -3, 0.5, 2.5, np.nan])
def test_batch_below_one_or_fractional(batch):
    with pytest.raises(InputError, match="batch size"):
        th.online_loss(LAM, C0, 0.1, np.full(10, 0.1), batch)
    with pytest.raises(InputError, match="batch size"):
        ex.online_sgd(LAM, np.sqrt(C0), 0.1, np.full(10, 0.1), batch, runs=4, seed=0)


@pytest.mark.parametrize("bad", [-0.1, np.nan, np.inf])
def test_schedule_with_negative_or_nan_entries(bad):
    sched = np.full(10, 0.1)
    sched[3] = bad
    with pytest.raises(InputError, match="step 3"):
        th.online_loss(LAM, C0, 0.1, sched, 1)
    with pytest.raises(InputError, match="step 3"):
        th.predict_loss(LAM, C0, 0.1, sched)
    with pytest.raises(InputError, match="step 3"):
        ex.online_sgd(LAM, np.sqrt(C0), 0.1, sched, 1, runs=4, seed=0)


def test_spectrum_with_negative_eigenvalues():
    lam = LAM.copy()
    lam[5] = -1e-3
    with pytest.raises(InputError, match="non-negative"):
        th.online_loss(lam, C0, 0.1, np.full(10, 0.1), 1)
    with pytest.raises(InputError, match="non-negative"):
        th.stability_bound(lam)
    with pytest.raises(InputError, match="non-negative"):
        ex.online_sgd(lam, np.sqrt(C0), 0.1, np.full(10, 0.1), 1, runs=4, seed=0)
    with pytest.raises(InputError, match="finite"):
        th.stationary_loss([0.1, np.nan], 0.1, 0.1)
    with pytest.raises(InputError, match="all zero"):
        th.stability_bound(np.zeros(4))


def test_other_bad_inputs():
    with pytest.raises(InputError, match="shape"):
        th.online_loss(LAM, C0[:5], 0.1, np.full(10, 0.1), 1)
    with pytest.raises(InputError, match="noise_variance"):
        th.online_loss(LAM, C0, -1.0, np.full(10, 0.1), 1)
    with pytest.raises(InputError, match="averaging kind"):
        th.predict_loss(LAM, C0, 0.1, np.full(10, 0.1), averaging="median")
    with pytest.raises(InputError, match="beta"):
        th.averaging_weights("ema", 10, 1.5)
    with pytest.raises(InputError, match="runs"):
        ex.online_sgd(LAM, np.sqrt(C0), 0.1, np.full(10, 0.1), 1, runs=1, seed=0)
    with pytest.raises(InputError, match="log_steps"):
        ex.online_sgd(LAM, np.sqrt(C0), 0.1, np.full(10, 0.1), 1, runs=4, seed=0, log_steps=[11])
    with pytest.raises(InputError, match="v >= d"):
        th.plrf_reduction(np.ones((3, 5)), np.ones(3), np.ones(3))


def test_huge_request_is_refused_before_allocating(monkeypatch):
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "0.001")
    with pytest.raises(InputError, match="memory"):
        ex.online_sgd(LAM, np.sqrt(C0), 0.1, np.full(10, 0.1), 1, runs=100000, seed=0)


@pytest.mark.parametrize("name", ["sgd-online-loss-curve", "sgd-multipass-finite-data"])
def test_law_specs_refuse_mismatched_lengths(name):
    law = registry.get(name)
    spec = law.preset("quick")
    field, value = ("lr_times_trace", (0.5,) * 7) if "online" in name else ("sizes", (30,) * 7)
    with pytest.raises(ConfigError, match="same length"):
        law.spec(**{**{f: getattr(spec, f) for f in spec.__dataclass_fields__}, field: value})


def test_plrf_equivalent_refuses_v_not_above_d_and_unstable_rates():
    lam = th.plrf_spectrum(30, 1.0)
    with pytest.raises(InputError, match="v > d"):
        th.plrf_kappa(lam, 30)
    with pytest.raises(InputError, match="v > d"):
        th.plrf_deterministic_equivalent(lam, th.plrf_target(30, 0.5), 40)
    with pytest.raises(InputError, match="stability bound"):
        th.spectral_loss(lam, 1.0, lam, 0.1, np.full(20, 5.0))
    with pytest.raises(InputError, match="stability bound"):  # the closed-form path too
        th.spectral_loss(lam, 1.0, lam, 0.1, np.full(5000, 5.0))
    with pytest.raises(InputError, match=">= 0"):
        th.spectral_loss(lam, -1.0, lam, 0.1, np.full(20, 0.1))
    with pytest.raises(InputError, match="2 alpha > 1"):
        th.plrf_compute_optimal_exponent(0.4, 1.0)
    with pytest.raises(InputError, match="finite risk"):
        th.plrf_compute_optimal_exponent(0.6, -0.2)
    with pytest.raises(InputError, match="v > d|latent_ratio"):
        ex.plrf_conditional_curves((8,), 1, 1.0, 0.5, np.full(5, 0.1), trials=2, seed=0)
    with pytest.raises(InputError, match="one schedule"):
        ex.plrf_conditional_curves((8, 16), 4, 1.0, 0.5, [np.full(5, 0.1)] * 3, trials=2, seed=0)


@pytest.mark.parametrize(
    ("alphas", "betas", "match"),
    [
        ((1.0, 1.0), (0.3, 0.4), "two phases|2 beta > 1"),
        ((1.0, 1.0), (0.3, 1.02), "phase boundary"),
        ((1.0, 1.0), (0.3, 0.52), "phase boundary"),
        ((1.0, 1.0, 1.0), (0.3, 0.9), "same length"),
    ],
)
def test_plrf_law_spec_refuses_phases_it_does_not_claim(alphas, betas, match):
    law = registry.get("plrf-compute-optimal")
    spec = law.preset("quick")
    fields = {f: getattr(spec, f) for f in spec.__dataclass_fields__}
    with pytest.raises(ConfigError, match=match):
        law.spec(**{**fields, "alphas": alphas, "betas": betas})


def test_anytime_lumping_and_multiplicity_bad_input():
    with pytest.raises(InputError, match=r"\[0, 1\)"):
        th.anytime_rate(1.5, 3.0, 1.0)
    with pytest.raises(InputError, match="a > 1"):
        th.anytime_optimal_gamma(0.9, 3.0)
    with pytest.raises(InputError, match="ratio must be > 1"):
        th.lump_modes(LAM, C0, ratio=1.0)
    with pytest.raises(InputError, match="multiplicity"):
        th.online_moments(LAM, C0, 0.1, np.full(5, 0.1), 1, multiplicity=np.zeros(20))
    # multiplicities raise the kernel norm: the stability check sees them
    bound = th.stability_bound(LAM, 1, weights=np.full(20, 3.0))
    assert bound < th.stability_bound(LAM, 1)
    with pytest.raises(InputError, match="stability bound"):
        th.online_moments(LAM, C0, 0.1, np.full(5, 1.01 * bound), 1, multiplicity=np.full(20, 3.0))
    spec_cls = registry.get("anytime-schedules").spec
    with pytest.raises(ConfigError, match="must contain 0"):
        spec_cls(gammas=(0.1, 0.5))
    with pytest.raises(ConfigError, match="b > a"):
        spec_cls(source=1.4, gammas=(0.0, 0.5))
