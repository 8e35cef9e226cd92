"""Bad input to the solvable-grokking theory and laws: clear lmech errors, no NaN or hang."""

from __future__ import annotations

import numpy as np
import pytest

from lmech.errors import ConfigError, InputError
from lmech.laws.grokking import lazy_rich, linear_estimator
from lmech.theory.grokking_dynamics import (
    crossing_time,
    lazy_rich_population,
    linear_losses,
    mp_integral,
    mp_quantiles,
)


@pytest.mark.parametrize("ratio", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_mp_ratio(ratio):
    with pytest.raises(InputError, match="ratio"):
        mp_integral(ratio, lambda x: x)


def test_quantiles_need_ratio_at_most_one_and_points():
    with pytest.raises(InputError, match="<= 1"):
        mp_quantiles(2.0, 10)
    with pytest.raises(InputError, match="n >= 1"):
        mp_quantiles(0.5, 0)


def test_divergent_learning_rate():
    with pytest.raises(ConfigError, match="lower lr"):
        linear_losses(0.5, 1.0, [1], 1.0)  # lr * (1 + sqrt 0.5)^2 = 2.9 > 2


def test_crossing_time_bad_inputs():
    with pytest.raises(InputError, match="ratio d/N < 1"):
        crossing_time(1.5, 0.1, 1.0, 0.01)
    with pytest.raises(InputError, match="threshold"):
        crossing_time(0.5, 0.1, 1.0, 0.0)
    with pytest.raises(InputError, match="kind"):
        crossing_time(0.5, 0.1, 1.0, 0.01, kind="val")


def test_linear_spec_refuses_ratio_at_or_above_one_and_unstable_lr():
    with pytest.raises(ConfigError):
        linear_estimator.Spec(ratios=(0.5, 1.0))
    with pytest.raises(ConfigError, match="N = .* <= d_in"):
        linear_estimator.Spec(d_in=10, ratios=(0.99,))
    with pytest.raises(ConfigError, match="lower lr"):
        linear_estimator.Spec(lr=0.9)
    with pytest.raises(ConfigError, match="initial loss"):
        linear_estimator.Spec(threshold=5.0)


def test_linear_spec_memory_is_refused_when_huge():
    big = linear_estimator.Spec(d_in=10**6, ratios=(0.5,))
    assert big.memory_bytes() > 10**13


def test_lazy_rich_bad_inputs():
    with pytest.raises(InputError, match="alpha"):
        lazy_rich_population(0.0, 0.02, 10, 1.0, 10.0)
    with pytest.raises(InputError, match="level"):
        lazy_rich_population(1.0, 0.02, 10, 1.0, 10.0, level=1.5)
    with pytest.raises(InputError, match="diverged"):
        lazy_rich_population(1e-3, 0.5, 10, 50.0, 10.0)
    with pytest.raises(ConfigError, match="lower lr_scale"):
        lazy_rich.Spec(lr_scale=100.0)
    with pytest.raises(ConfigError):
        lazy_rich.Spec(engine="adam")
    with pytest.raises(ConfigError):
        lazy_rich.Spec(alphas=(4.0, 1.0))


def test_lazy_rich_unreached_half_is_a_failed_verdict_not_nan():
    spec = lazy_rich.Spec(D=6, n_train=30, width=8, alphas=(1.0, 2.0), trials=1, max_steps=3,
                          lr_scale=1.0)  # fmt: skip
    pred, meas = lazy_rich.theory(spec), lazy_rich.experiment(spec, 0, "cpu")
    v = lazy_rich.evaluate(pred, meas).values
    assert v["max_log_err_t_grok"] == np.inf and v["null_margin"] == -np.inf
    assert not lazy_rich.LAW.criterion.verdict(lazy_rich.evaluate(pred, meas)).passed


def test_lazy_rich_divergence_is_a_clear_error():
    from lmech.errors import ConvergenceError
    from lmech.laws.grokking._dynamics import lazy_rich_run

    for engine in ("reduced", "network"):
        with pytest.raises(ConvergenceError, match="lower lr_scale"):
            lazy_rich_run(6, 30, 8, 1e-3, 0.5, 5.0, 5000, 10, 0, ("t",), engine=engine)
