"""Bad input to the icl theory and simulators: clear lmech.errors, never NaN or a crash."""

from __future__ import annotations

import numpy as np
import pytest

from lmech.errors import InputError
from lmech.experiment.icl import pretrained_gamma, sample_tasks
from lmech.seeding import torch_generator
from lmech.theory import icl


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": -1.0}, "alpha"),
        ({"kappa": 0.0}, "kappa"),
        ({"kappa": -2.0}, "kappa"),
        ({"tau": 0.0}, "tau"),
        ({"tau": -0.5}, "tau"),
        ({"rho": -0.1}, "rho"),
        ({"alpha": float("nan")}, "alpha"),
        ({"ridge": -1.0}, "ridge"),
        ({"kappa": -np.inf}, "kappa"),
    ],
)
def test_asymptotic_errors_refuse_bad_parameters(kwargs, word):
    args = {"alpha": 2.0, "kappa": 2.0, "tau": 2.0, "rho": 0.1, **kwargs}
    with pytest.raises(InputError, match=word):
        icl.icl_error(**args)
    with pytest.raises(InputError, match=word):
        icl.idg_error(**args)


def test_non_psd_or_bad_test_covariance():
    d = 4
    bad = np.diag([1.0, 1.0, 1.0, -0.5])
    with pytest.raises(InputError, match="positive semi-definite"):
        icl.aligned_icl_error(np.eye(d), bad, 2, 2, 2, 0.1)
    with pytest.raises(InputError, match="symmetric"):
        icl.aligned_icl_error(np.eye(d), np.triu(np.ones((d, d))), 2, 2, 2, 0.1)
    with pytest.raises(InputError, match=">= 0"):
        icl.alignment_measure(np.ones(d), -np.ones(d), 2, 2, 2, 0.1)
    with pytest.raises(InputError, match="same shape"):
        icl.aligned_icl_error(np.eye(d), np.eye(d + 1), 2, 2, 2, 0.1)
    with pytest.raises(InputError, match="positive semi-definite"):
        icl.gamma_error_gaussian(np.zeros((d, d + 1)), 2, 0.1, bad)
    with pytest.raises(InputError, match="tau = 1"):
        icl.aligned_icl_error(np.eye(d), np.eye(d), 2, 2, 1.0, 0.1)


def test_dimension_below_two_is_refused():
    with pytest.raises(InputError, match="d must be"):
        icl.gamma_error(np.zeros((1, 2)), 2.0, 0.1)
    with pytest.raises(InputError, match="d must be"):
        icl.aligned_icl_error(np.ones(1), np.ones(1), 2, 2, 2, 0.1)
    with pytest.raises(InputError, match="d must be"):
        sample_tasks(3, 1, torch_generator(0))
    with pytest.raises(InputError, match="d must be"):
        pretrained_gamma(1, 2.0, 2.0, 2.0, 0.1, 1e-6, 0)
    with pytest.raises(InputError, match=r"\(d, d\+1\)"):
        icl.gamma_error(np.zeros((3, 3)), 2.0, 0.1)


def test_threshold_is_infinite_not_nan_and_huge_sizes_are_refused(monkeypatch):
    assert np.isinf(icl.icl_error(2.0, 2.0, 1.0, 0.1))
    assert np.isinf(icl.idg_error(2.0, 2.0, 1.0, 0.1))
    assert np.isfinite(icl.icl_error(2.0, 2.0, 1.0, 0.1, 0.1))
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "0.01")
    with pytest.raises(InputError, match="memory"):
        pretrained_gamma(64, 2.0, 2.0, 2.0, 0.1, 1e-6, 0)


def test_full_attention_inputs_are_refused_clearly():
    from lmech.errors import ConfigError
    from lmech.experiment.icl import symmetric_pool, train_linear_attention
    from lmech.laws.icl.full_attention import Spec

    with pytest.raises(InputError, match="even number"):
        symmetric_pool(5, 4, torch_generator(0))
    with pytest.raises(InputError, match="steps >= 1"):
        train_linear_attention(4, 2.0, 0.1, None, steps=0, batch=8, lr=0.01, seed=0)
    with pytest.raises(InputError, match="d must be"):
        train_linear_attention(1, 2.0, 0.1, None, steps=1, batch=8, lr=0.01, seed=0)
    with pytest.raises(InputError, match="d must be"):
        icl.optimal_gamma(1, 2.0, 0.1)
    with pytest.raises(InputError, match="alpha"):
        icl.optimal_gamma(4, 0.0, 0.1)
    with pytest.raises(InputError, match=r"\(4, 4\)"):
        icl.optimal_gamma(4, 2.0, 0.1, task_second_moment=np.eye(3))
    with pytest.raises(ConfigError, match="even pool size"):
        Spec(d=8, kappas=(0.625,))  # k = 5
    with pytest.raises(InputError, match="init"):
        from lmech.nn.attention import LinearSelfAttention

        LinearSelfAttention(4, init="zeros")


def test_huge_attention_batch_is_refused(monkeypatch):
    from lmech.experiment.icl import train_linear_attention

    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "0.001")
    with pytest.raises(InputError, match="memory"):
        train_linear_attention(8, 2.0, 0.1, None, steps=1, batch=100_000, lr=0.01, seed=0)


def test_tradeoff_spec_and_fs_inputs_are_refused_clearly():
    from lmech.errors import ConfigError
    from lmech.laws.icl.tradeoff import Spec as TradeoffSpec

    with pytest.raises(ConfigError, match="contain 1"):
        TradeoffSpec(kappas=(0.5, 2.0, 4.0))
    with pytest.raises(InputError, match="spectrum"):
        icl.deep_fs_error(1.0, 2, 2.0, 0.1, [1.0, 0.0, 2.0])
    with pytest.raises(InputError, match="depth"):
        icl.deep_fs_error(1.0, 0, 2.0, 0.1, [1.0, 2.0])


def test_time_width_theory_and_trainers_refuse_bad_input(monkeypatch):
    from lmech.errors import ConfigError
    from lmech.laws.icl import _fs
    from lmech.laws.icl.time_width import Spec as TimeWidthSpec

    lam = np.array([2.0, 1.0, 0.5])
    with pytest.raises(InputError, match="spectrum"):
        icl.fs_one_layer_error(np.eye(3), [1.0, 0.0, 2.0], 2.0, 0.1)
    with pytest.raises(InputError, match="spectrum"):
        icl.fs_rank_optimum(1, [1.0], 2.0, 0.1)
    with pytest.raises(InputError, match=r"\(3, 3\)"):
        icl.fs_one_layer_error(np.eye(4), lam, 2.0, 0.1)
    with pytest.raises(InputError, match="alpha"):
        icl.fs_gradient_flow_error(1.0, lam, 0.0, 0.1)
    with pytest.raises(InputError, match="noise"):
        icl.fs_gradient_flow_error(1.0, lam, 2.0, -0.1)
    with pytest.raises(InputError, match="time"):
        icl.fs_gradient_flow_error(-1.0, lam, 2.0, 0.1)
    with pytest.raises(InputError, match="rank"):
        icl.fs_rank_optimum(0, lam, 2.0, 0.1)
    with pytest.raises(InputError, match="capacity"):
        icl.fs_time_exponent(1.0)
    with pytest.raises(InputError, match="capacity"):
        icl.fs_width_exponent(0.5)
    with pytest.raises(ConfigError, match="ranks must stay below"):
        TimeWidthSpec(dim=8, ranks=(2, 8))
    gen = torch_generator(0, "hostile-fs")
    with pytest.raises(InputError, match="rate_fraction"):
        _fs.sgd_learning_curve(
            lam, 2.0, 0.1, batch=4, steps=2, rate_fraction=0.9, checkpoints=(1,), gen=gen
        )
    with pytest.raises(InputError, match="rank"):
        _fs.train_low_rank(lam, 2.0, 0.1, 0, batch=4, steps=2, lr=0.1, init_scale=0.01, gen=gen)
    monkeypatch.setenv("LMECH_MEMORY_LIMIT_GB", "0.001")
    with pytest.raises(InputError, match="memory"):
        _fs.train_low_rank(
            lam, 1000.0, 0.1, 1, batch=100_000, steps=1, lr=0.1, init_scale=0.01, gen=gen
        )


def test_finite_tau_tradeoff_spec_refuses_bad_grids():
    from lmech.errors import ConfigError
    from lmech.laws.icl.tradeoff import FiniteTauSpec

    with pytest.raises(ConfigError, match="one entry per d"):
        FiniteTauSpec(dims=(16, 24), draws=(4, 4, 4))
    with pytest.raises(ConfigError):
        FiniteTauSpec(tau=1.0)  # on the interpolation peak
    with pytest.raises(ConfigError):
        FiniteTauSpec(kappas=(2.0, 4.0, 16.0))


def test_deep_training_inputs_are_refused_clearly():
    from lmech.laws.icl import _fs

    with pytest.raises(InputError, match="depth"):
        icl.deep_iso_gradient_flow([1.0], 0, 1.0, 0.1)
    with pytest.raises(InputError, match="increasing"):
        icl.deep_iso_gradient_flow([2.0, 1.0], 2, 1.0, 0.1)
    with pytest.raises(InputError, match="time"):
        icl.deep_iso_gradient_flow([-1.0], 2, 1.0, 0.1)
    gen = torch_generator(0, "hostile-deep")
    with pytest.raises(InputError, match="depth"):
        _fs.train_deep_iso(
            8,
            1.0,
            0.1,
            0,
            batch=4,
            steps=1,
            lr=0.01,
            checkpoints=(1,),
            test_contexts=4,
            gen=gen,
            test_gen=gen,
        )
