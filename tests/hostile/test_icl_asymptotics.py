"""Bad input to the fast ICL pretraining engine and the asymptotics law: clear errors."""

from __future__ import annotations

import math

import pytest
import torch

from lmech.errors import ConfigError, InputError
from lmech.experiment.icl import (
    pretrained_errors,
    pretrained_gammas,
    ridge_gamma,
    sample_context_statistics,
)
from lmech.laws.icl import asymptotics as law

GOOD = {"d": 6, "alpha": 2.0, "kappa": 2.0, "tau": 2.0, "rho": 0.1, "ridge": 1e-6}


@pytest.mark.parametrize(
    "field, value, word",
    [
        ("d", 1, "d must be an integer >= 2"),
        ("d", 6.5, "d must be an integer >= 2"),
        ("alpha", 0.0, "alpha"),
        ("alpha", math.nan, "alpha"),
        ("kappa", 0.0, "kappa"),
        ("kappa", -1.0, "kappa"),
        ("tau", -0.5, "tau"),
        ("tau", math.inf, "tau"),
        ("rho", -0.1, "rho"),
        ("ridge", -1e-3, "ridge"),
        ("ridge", math.nan, "ridge"),
    ],
)
def test_engine_refuses_bad_system(field, value, word):
    args = {**GOOD, field: value}
    order = [args[k] for k in ("d", "alpha", "kappa", "tau", "rho", "ridge")]
    with pytest.raises(InputError, match=word):
        pretrained_errors(*order, 0, 2)
    with pytest.raises(InputError, match=word):
        pretrained_gammas(*order, 0, [0])


def test_engine_refuses_bad_draws_and_shapes():
    order = [GOOD[k] for k in ("d", "alpha", "kappa", "tau", "rho", "ridge")]
    for bad in (0, -3, 2.5, True):
        with pytest.raises(InputError, match="draws"):
            pretrained_errors(*order, 0, bad)
    with pytest.raises(InputError, match="at least one draw"):
        pretrained_gammas(*order, 0, [])
    x = torch.zeros(2, 10, 4, dtype=torch.float64)
    with pytest.raises(InputError, match="shapes"):
        ridge_gamma(x, torch.zeros(2, 10, 4, dtype=torch.float64), torch.zeros(2, 10), 0.1)
    with pytest.raises(InputError, match="method"):
        ridge_gamma(x, torch.zeros(2, 10, 5), torch.zeros(2, 10), 0.1, method="qr")
    with pytest.raises(InputError, match="ridge"):
        ridge_gamma(x, torch.zeros(2, 10, 5), torch.zeros(2, 10), -1.0)
    w = torch.ones(3, 4, dtype=torch.float64)
    with pytest.raises(InputError, match="ell"):
        sample_context_statistics(w, 0, 0.1, torch.Generator().manual_seed(0))
    with pytest.raises(InputError, match="rho"):
        sample_context_statistics(w, 5, -0.1, torch.Generator().manual_seed(0))


def test_a_zero_task_gives_pure_noise_contexts():
    # w = 0: h_x = (d/ell) sum eps_i x_i, finite; no division by |w| = 0
    h, xq, yq = sample_context_statistics(
        torch.zeros(2000, 3, dtype=torch.float64), 4, 0.5, torch.Generator().manual_seed(1)
    )
    assert torch.isfinite(h).all() and torch.isfinite(yq).all()
    assert float((h[:, 3]).mean()) == pytest.approx(0.5, abs=0.05)  # E |y|^2/ell = rho


@pytest.mark.parametrize(
    "change, word",
    [
        ({"taus": (2.0, 0.5, 0.3, 2.0, 1.1)}, "interpolation peak"),
        ({"kinds": ("icl", "idg")}, "one entry each"),
        ({"draws": (1, 1, 1, 1)}, "at least one d with >= 2 draws"),
        ({"draws": (80, 8, 8)}, "one entry each"),
        ({"dims": (16, 16, 32, 48)}, "dims"),
        ({"dims": (24, 16, 32, 48)}, "dims"),
        ({"kappas": (2.0, -1.0, 0.0, 2.0, 0.5)}, "kappas"),
    ],
)
def test_spec_refuses_bad_fields(change, word):
    with pytest.raises(ConfigError, match=word):
        law.Spec(**change)


def test_fit_refuses_a_design_it_cannot_fit():
    with pytest.raises(InputError, match="two distinct d"):
        law.inverse_d_fit([16, 16, 16], [1.0, 1.1, 1.2])
    with pytest.raises(InputError, match="two or more draws"):
        law.inverse_d_fit([16, 24], [1.0, 1.1])
