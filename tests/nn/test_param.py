"""Parameterization scalings against closed forms; save/load and compile survive."""

import io
import math

import pytest
import torch

from lmech.errors import ConfigError, InputError
from lmech.experiment.ensemble import Ensemble, train
from lmech.nn.models import MLP, MLPSpec, build
from lmech.nn.param import Parameterization, param_table, parameterize

D, K = 10, 3


def _fans(role, n):
    return {"input": (D, n), "hidden": (n, n), "output": (n, K)}[role]


def _abc(param, role, n=256):
    """abc exponents: W = n^-a w, w ~ N(0, n^-2b), lr ∝ n^-c, read off at n and 2n."""
    s1, s2 = (param.scaling(role, *_fans(role, m)) for m in (n, 2 * n))
    return (
        -math.log2(s2.multiplier / s1.multiplier),
        -math.log2(s2.init_std / s1.init_std),
        -math.log2(s2.lr_factor / s1.lr_factor),
    )


# abc tables (input, hidden, output): TP-IV Table 1 / TP-V Table 8 in the mup-package form
ABC = {
    ("sp", "sgd"): [(0, 0, 0), (0, 0.5, 0), (0, 0.5, 0)],
    ("ntk", "sgd"): [(0, 0, 0), (0.5, 0, 0), (0.5, 0, 0)],
    ("mup", "sgd"): [(0, 0, -1), (0, 0.5, 0), (1, 0, -1)],
    ("mean-field", "sgd"): [(0, 0, -1), (0, 0.5, 0), (1, 0, -1)],
    ("mup", "adam"): [(0, 0, 0), (0, 0.5, 1), (1, 0, 0)],
}
# other published muP forms: TP-IV's (SGD) and TP-V Table 3's (SGD and Adam)
MUP_FORMS = {
    ("tp4", "sgd"): [(-0.5, 0.5, 0), (0, 0.5, 0), (0.5, 0.5, 0)],
    ("tp5-table3", "sgd"): [(0, 0, -1), (0, 0.5, 0), (0, 1, 1)],
    ("tp5-table3", "adam"): [(0, 0, 0), (0, 0.5, 1), (0, 1, 1)],
}


@pytest.mark.parametrize(("form", "optimizer"), list(MUP_FORMS))
def test_mup_equals_published_forms_up_to_the_symmetry(form, optimizer):
    # SGD: (a, b, c) -> (a + t, b - t, c - 2t); Adam: (a, b, c) -> (a + t, b - t, c - t)
    k = 2 if optimizer == "sgd" else 1
    p = Parameterization("mup", optimizer)
    for role, (a, b, c) in zip(
        ("input", "hidden", "output"), MUP_FORMS[form, optimizer], strict=True
    ):
        a2, b2, c2 = _abc(p, role)
        t = a2 - a
        assert (b2, c2) == pytest.approx((b - t, c - k * t), abs=1e-12), role


def test_closed_forms_and_base_width():
    sig, n, n0 = 1.5, 256, 64
    m = n / n0
    mup = Parameterization("mup", "sgd", base_width=n0, weight_std=sig)
    out = mup.scaling("output", n, K)
    assert out.init_std == pytest.approx(sig / math.sqrt(n0))
    assert out.multiplier == pytest.approx(1 / m) and out.lr_factor == pytest.approx(m)
    assert mup.scaling("input", D, n).bias_lr_factor == pytest.approx(m)
    ntk = Parameterization("ntk", weight_std=sig).scaling("hidden", n, n)
    assert (ntk.init_std, ntk.multiplier) == (1.0, pytest.approx(sig / math.sqrt(n)))
    # at the base width muP is SP
    sp = Parameterization("sp", "adam", weight_std=sig)
    for role in ("input", "hidden", "output"):
        a = Parameterization("mup", "adam", base_width=n0, weight_std=sig).scaling(
            role, *_fans(role, n0)
        )
        assert a == sp.scaling(role, *_fans(role, n0))
    # mean-field: f = (1/n) sum a_i phi(h_i), a_i ~ N(0, sigma^2), SGD lr x n
    mf = Parameterization("mean-field", weight_std=sig).scaling("output", n, 1)
    assert (mf.init_std, mf.multiplier, mf.lr_factor) == pytest.approx((sig, 1 / n, n))


def test_richness_and_depth_scalings():
    g = 0.25
    for opt, power in (("sgd", 2), ("adam", 1)):
        p = Parameterization("ntk", opt, richness=g)
        assert p.scaling("output", 64, 1).multiplier == pytest.approx(1 / (g * 8))
        assert p.scaling("hidden", 64, 64).lr_factor == pytest.approx(g**power)
    L = 16
    for alpha, opt, lr in (
        (0.5, "sgd", 1.0),
        (0.5, "adam", L**-0.5),
        (1.0, "adam", 1.0),
        (1.0, "sgd", L),
    ):
        s = Parameterization("sp", opt, depth_alpha=alpha).scaling("hidden", 64, 64, depth=L)
        assert s.multiplier == pytest.approx(L**-alpha) and s.lr_factor == pytest.approx(lr)


def test_ntk_parameterization_matches_the_spec_ntk_network():
    # build(spec, ntk) and spec.ntk_network() are the same network (no biases: build's
    # start at zero with multiplier 1, the NTK network's at N(0, 1) with multiplier b_std)
    spec = MLPSpec(D, 64, 2, 1, "relu", bias=False, weight_std=2**0.5)
    model = build(spec, Parameterization("ntk", weight_std=2**0.5), dtype="float64")
    ref = spec.ntk_network(seed=5)
    with torch.no_grad():
        for src, dst in zip(ref.layers(), model.layers(), strict=True):
            dst.weight.copy_(src.weight)
    x = torch.randn(5, D, dtype=torch.float64)
    torch.testing.assert_close(model(x), ref(x))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_richness_keeps_the_function_step_and_scales_the_feature_step(optimizer):
    # one small step from a centered network: Delta f independent of gamma, the relative
    # feature change proportional to gamma (SGD: lr x gamma^2; Adam: lr x gamma, derived)
    spec = MLPSpec(D, 128, 2, 1, "tanh")
    X = torch.randn(16, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = torch.sin(X[:, 0])
    df, dh = [], []
    for g in (0.01, 0.02):
        param = Parameterization("ntk", optimizer, richness=g)
        ens = Ensemble.from_spec(spec, param, [0], dtype="float64")
        run = train(
            ens,
            X,
            y,
            lr=1e-3,
            steps=1,
            optimizer=optimizer,
            center=True,
            observers=("loss", "feature_change"),
            probe=X,
        )
        h = run.history
        dh.append(
            h[(h.quantity == "feature_change") & (h.layer == "hidden.0") & (h.step == 1)][
                "value"
            ].item()
        )
        f0 = Ensemble.from_spec(spec, param, [0], dtype="float64")
        df.append((ens.forward(X) - f0.forward(X)).norm().item())
    assert df[1] == pytest.approx(df[0], rel=0.05)
    assert dh[1] / dh[0] == pytest.approx(2.0, rel=0.05)


def test_save_load_roundtrip():
    spec = MLPSpec(D, 32, 2, 1, "tanh", residual=True)
    model = build(spec, Parameterization("mup", "adam", depth_alpha=0.5), seed=3)
    x = torch.randn(4, D)
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    whole = torch.load(buf, weights_only=False)
    torch.testing.assert_close(whole(x), model(x))
    assert param_table(whole) == param_table(model)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    fresh = build(spec, Parameterization("mup", "adam", depth_alpha=0.5), seed=99)
    fresh.load_state_dict(torch.load(buf))
    torch.testing.assert_close(fresh(x), model(x))


def test_torch_compile():
    model = build(MLPSpec(D, 16, 2, 1, "tanh"), Parameterization("mup"))
    x = torch.randn(4, D)
    compiled = torch.compile(model, backend="eager")
    torch.testing.assert_close(compiled(x), model(x))


def test_user_module_wrapper():
    net = torch.nn.Sequential(
        torch.nn.Linear(D, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 1),
    )
    table = parameterize(net, Parameterization("mup", base_width=16), seed=0)
    roles = {r.module: r.role for r in table}
    assert roles == {"0": "input", "2": "hidden", "4": "output"}
    assert net[4].lmech_multiplier.item() == pytest.approx(16 / 64)
    assert net[0].bias.abs().max() == 0


def test_bad_input_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"unknown parameterization 'mup2'; expected one of"):
        Parameterization("mup2")
    with pytest.raises(ConfigError, match=r"unknown optimizer 'rmsprop'"):
        Parameterization("sp", "rmsprop")
    with pytest.raises(ConfigError, match=r"MLPSpec.width must be a positive integer; got 0"):
        MLPSpec(D, 0)
    with pytest.raises(InputError, match="fan_in must be a positive integer"):
        Parameterization().scaling("hidden", 0, 4)
    with pytest.raises(InputError, match="not nn.Linear layers"):
        parameterize(MLP(MLPSpec(D, 8)), Parameterization(), roles={"nope": "input"})
    with pytest.raises(ConfigError, match="residual"):
        build(MLPSpec(D, 8), Parameterization(depth_alpha=0.5))
