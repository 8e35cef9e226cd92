"""The vmapped ensemble trains each member exactly as the network trained alone."""

import numpy as np
import pytest
import torch

from lmech.errors import ConfigError, InputError
from lmech.experiment.ensemble import Ensemble, train
from lmech.nn.models import MLPSpec, build
from lmech.nn.param import Parameterization, param_groups
from tests.tolerances import ATOL, RTOL

SPEC = MLPSpec(6, 24, 3, 2, "tanh")
SEEDS = [0, 1, 2]
LRS = [0.05, 0.1, 0.02]
TORCH_OPT = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def _data(n=20):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, SPEC.in_features, generator=g, dtype=torch.float64)
    y = torch.randn(n, SPEC.out_features, generator=g, dtype=torch.float64)
    return X, y


def _alone(param, seed, lr, X, y, steps, wd, momentum=0.0):
    """The same network trained alone with torch.optim and the table's param groups."""
    model = build(SPEC, param, seed=seed, dtype="float64")
    extra = {"momentum": momentum} if param.optimizer == "sgd" else {}
    opt = TORCH_OPT[param.optimizer](param_groups(model, lr, weight_decay=wd, **extra))
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(X), y).backward()
        opt.step()
    return model


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
@pytest.mark.parametrize("kind", ["mup", "sp"])
def test_member_equals_network_trained_alone(optimizer, kind):
    param = Parameterization(kind, optimizer, base_width=8)
    X, y = _data()
    lrs = LRS if optimizer == "sgd" else [1e-3, 3e-3, 1e-2]
    momentum = 0.9 if optimizer == "sgd" and kind == "sp" else 0.0
    ens = Ensemble.from_spec(SPEC, param, SEEDS, dtype="float64")
    train(ens, X, y, lr=lrs, steps=25, optimizer=optimizer, weight_decay=1e-2, momentum=momentum)
    for e, (seed, lr) in enumerate(zip(SEEDS, lrs, strict=True)):
        alone = _alone(param, seed, lr, X, y, 25, 1e-2, momentum)
        for name, p in alone.named_parameters():
            torch.testing.assert_close(
                ens.params[name][e], p.detach(), rtol=RTOL["float64"], atol=ATOL["float64"]
            )


def test_minibatch_member_does_not_depend_on_the_others():
    param = Parameterization("mup", "adam", base_width=8)
    X, y = _data(40)
    mask = torch.ones(3, 40, dtype=torch.bool)
    mask[1, 25:] = False  # member 1 trains on a subset
    big = Ensemble.from_spec(SPEC, param, SEEDS, dtype="float64")
    run = train(big, X, y, lr=LRS, steps=10, optimizer="adam", batch_size=8, mask=mask, seed=5)
    solo = Ensemble.from_spec(SPEC, param, [SEEDS[1]], dtype="float64")
    run1 = train(
        solo, X, y, lr=LRS[1], steps=10, optimizer="adam", batch_size=8, mask=mask[1], seed=5
    )
    for name in big.params:
        torch.testing.assert_close(
            big.params[name][1], solo.params[name][0], rtol=1e-12, atol=1e-13
        )
    last = run.scalar("loss").iloc[-1][1]
    assert last == pytest.approx(run1.scalar("loss").iloc[-1][0], rel=1e-12)


def test_per_member_data_and_float32():
    param = Parameterization("ntk", "sgd")
    X, y = _data()
    Xs, ys = torch.stack([X, 2 * X]), torch.stack([y, -y])
    ens = Ensemble.from_spec(SPEC, param, [0, 0], dtype="float32")
    train(ens, Xs, ys, lr=0.1, steps=5, per_member_data=True)
    assert ens.dtype == torch.float32
    assert not torch.allclose(ens.params["output.weight"][0], ens.params["output.weight"][1])


def test_observers_record_relative_changes():
    X, y = _data()
    ens = Ensemble.from_spec(SPEC, Parameterization("mup"), SEEDS, dtype="float64")
    run = train(
        ens, X, y, lr=0.1, steps=4, log_steps=[0, 2, 4],
        observers=("loss", "accuracy", "feature_change", "ntk_change", "spectra"),
    )  # fmt: skip
    h = run.history
    ntk = run.scalar("ntk_change")
    assert (ntk.loc[0] == 0).all() and (ntk.loc[4] > 0).all()
    assert set(h[h.quantity == "feature_change"]["layer"]) == {
        "input",
        "hidden.0",
        "hidden.1",
        "output",
    }
    # the singular values of the effective output weight = those of multiplier * W
    sv = h[(h.quantity == "singular_value") & (h.layer == "output.weight") & (h.step == 4)]
    W = ens.params["output.weight"][0] * ens.template.output.lmech_multiplier
    want = torch.linalg.svdvals(W).numpy()
    np.testing.assert_allclose(sv[sv.member == 0].sort_values("index")["value"], want, rtol=1e-10)


def test_bad_input_is_a_clear_error():
    X, y = _data()
    ens = Ensemble.from_spec(SPEC, Parameterization(), SEEDS, dtype="float64")
    with pytest.raises(InputError, match=r"positive and finite; got \[0\.0, -0\.1\]"):
        train(ens, X, y, lr=[0.1, 0.0, -0.1], steps=1)
    with pytest.raises(InputError, match="expected 1 or 3"):
        train(ens, X, y, lr=[0.1, 0.2], steps=1)
    with pytest.raises(ConfigError, match=r"unknown optimizer 'lbfgs'; expected one of"):
        train(ens, X, y, lr=0.1, steps=1, optimizer="lbfgs")
    with pytest.raises(ConfigError, match="scales learning rates for 'sgd' but train got"):
        train(ens, X, y, lr=0.1, steps=1, optimizer="adam")
    with pytest.raises(ConfigError, match="unknown observers"):
        train(ens, X, y, lr=0.1, steps=1, observers=("hessian",))
    with pytest.raises(InputError, match="exceeds"):
        train(ens, X, y, lr=0.1, steps=1, batch_size=100)
    with pytest.raises(InputError, match="weight_decay must be >= 0"):
        train(ens, X, y, lr=0.1, steps=1, weight_decay=[0.0, -1e-3, 0.0])
    with pytest.raises(InputError, match="share one architecture"):
        Ensemble.from_modules(
            [build(SPEC, Parameterization()), build(SPEC.with_width(8), Parameterization())]
        )


def test_package_reexports_the_split_engine():
    import lmech.experiment.ensemble as pkg
    from lmech.experiment.ensemble import loop, members, observers, optim

    assert pkg.Ensemble is members.Ensemble
    assert pkg.train is loop.train and pkg.EnsembleRun is loop.EnsembleRun
    assert pkg.member_batches is loop.member_batches
    assert pkg.check_learning_rates is optim.check_learning_rates
    assert pkg.OBSERVERS == observers.OBSERVERS and pkg.LOSSES == ("mse", "cross_entropy")
    assert set(pkg.__all__) >= {"Ensemble", "EnsembleRun", "train", "member_batches"}
