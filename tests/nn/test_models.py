"""One MLPSpec for both sides: its kernels against its own network, computed independently.

The kernels come from the recursion of :mod:`lmech.kernels.infinite`; the finite side is
the module ``spec.ntk_network()``, its empirical NTK taken here by plain autograd
(one backward per input, J J^T), its output covariance by running its own forward on many
parameter draws. Changing any field of the spec must move both sides together.
"""

import dataclasses
import io
import math

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from lmech.errors import ConfigError, InputError
from lmech.kernels.base import gram
from lmech.kernels.empirical import empirical_ntk
from lmech.kernels.infinite import ACTIVATIONS
from lmech.nn.models import ACTIVATION_NAMES, MLP, Dense, MLPSpec, activation_fn, build
from lmech.nn.param import Parameterization, param_table

from ..tolerances import ATOL, RTOL

D = 5
BASE = MLPSpec(D, 2048, 1, 1, "relu", weight_std=2**0.5, bias_std=0.1)


def _inputs(n=4, seed=0):
    X = torch.randn(n, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    X[-1] = X[0] + 0.05 * X[-1]  # a near pair, where kinked activations are delicate
    return X


def _autograd_ntk(model: torch.nn.Module, X: torch.Tensor) -> torch.Tensor:
    """sum_p df(x)/dp df(x')/dp by one backward per input (no torch.func, no lmech)."""
    params = list(model.parameters())
    rows = []
    for x in X:
        grads = torch.autograd.grad(model(x[None])[0, 0], params)
        rows.append(torch.cat([g.reshape(-1) for g in grads]))
    J = torch.stack(rows)  # (n, P)
    return J @ J.T


def _empirical(spec: MLPSpec, X, seeds) -> torch.Tensor:
    return torch.stack([_autograd_ntk(spec.ntk_network(seed=s), X) for s in seeds])


@pytest.mark.parametrize(
    "spec",
    [
        BASE,
        BASE.with_activation("erf"),
        BASE.with_activation("gelu"),
        dataclasses.replace(BASE, depth=2, width=1024, activation="tanh", bias_std=0.3),
    ],
    ids=["relu", "erf", "gelu", "tanh-depth2"],
)
def test_ntk_of_the_spec_is_the_empirical_ntk_of_its_network(spec):
    # The empirical NTK fluctuates by O(1/sqrt(width)) around its mean, with relative std
    # ~ sqrt(5 (L + 1) / width) for ReLU nets (Hanin & Nica 2020), and its mean is off by
    # O(L / width). With S seeds the mean must lie within 5 standard errors (per-entry
    # sample std / sqrt(S)) plus the O((L + 1) / width) bias.
    X, S = _inputs(), 6
    theory = gram(spec.ntk(), X)
    emp = _empirical(spec, X, range(S))
    mean, sd = emp.mean(0), emp.std(0)
    predicted = math.sqrt(5 * (spec.depth + 1) / spec.width)
    assert float((sd / theory.abs()).max()) < 2 * predicted
    tol = 5 * sd / math.sqrt(S) + theory.abs() * (spec.depth + 1) / spec.width
    assert bool(((mean - theory).abs() <= tol).all()), float(((mean - theory).abs() / tol).max())


def test_lmech_empirical_ntk_equals_autograd_on_the_spec_network():
    model = BASE.with_width(64).ntk_network(seed=3)
    X = _inputs()
    torch.testing.assert_close(
        empirical_ntk(model, X, mode="trace"),
        _autograd_ntk(model, X),
        rtol=RTOL["float64"],
        atol=ATOL["float64"],
    )


def _outputs_over_draws(model: torch.nn.Module, X, count: int, seed: int) -> torch.Tensor:
    """f(X) of ``model``'s own forward for ``count`` i.i.d. N(0, 1) draws of all its
    parameters (the distribution ntk_network draws from), shape (count, n)."""
    g = torch.Generator().manual_seed(seed)
    params = {
        n: torch.randn(count, *p.shape, generator=g, dtype=torch.float64)
        for n, p in model.named_parameters()
    }
    buffers = dict(model.named_buffers())

    def f(p, x):
        return functional_call(model, (p, buffers), (x,))[:, 0]

    return vmap(f, in_dims=(0, None))(params, X)


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_nngp_of_the_spec_is_the_output_covariance_of_its_network(activation):
    # 4000 draws at width 256: Monte-Carlo SE ~2-4% per entry, finite-width bias
    # O(L / width) ~ 0.4%; 10 correlated entries within 4.5 SE
    spec = dataclasses.replace(BASE, width=256, activation=activation, bias_std=0.4)
    X = _inputs()
    f = _outputs_over_draws(spec.ntk_network(), X, 4000, seed=1)
    prods = f[:, :, None] * f[:, None, :]
    mc, se = prods.mean(0), prods.std(0) / math.sqrt(f.shape[0])
    z = ((mc - gram(spec.nngp(), X)) / se).abs().max()
    assert float(z) < 4.5


@pytest.mark.parametrize(
    "change",
    [{"activation": "erf"}, {"depth": 2}, {"weight_std": 1.0}, {"bias_std": 0.8}],
    ids=lambda c: next(iter(c)),
)
def test_changing_the_spec_changes_both_sides(change):
    # the kernel of the changed spec differs from the base kernel by >> the Monte-Carlo
    # error of the averaged empirical NTK (relative ~ sqrt(5 (L + 1) / width / S), Hanin &
    # Nica 2020: 2-3% here), and the changed network's empirical NTK follows the changed
    # kernel, not the old one
    base, S = BASE, 8
    new = dataclasses.replace(base, **change)
    X = _inputs()
    old_k, new_k = gram(base.ntk(), X), gram(new.ntk(), X)
    emp = _empirical(new, X, range(S)).mean(0)
    noise = math.sqrt(5 * (new.depth + 1) / new.width / S)

    def rel(a, b):
        return float((a - b).norm() / b.norm())

    assert rel(new_k, old_k) > 5 * noise
    assert rel(emp, new_k) < 3 * noise < rel(emp, old_k)
    # and the fields reached both objects
    model, kernel = new.ntk_network(), new.ntk()
    assert model.phi is ACTIVATIONS[new.activation].fn and kernel.activation == new.activation
    assert len(model.layers()) == new.depth + 1 == kernel.depth + 1
    assert float(model.input.lmech_multiplier) == pytest.approx(new.weight_std / math.sqrt(D))
    assert kernel.weight_std == new.weight_std and kernel.bias_std == new.bias_std
    assert all(float(layer.lmech_bias_multiplier) == new.bias_std for layer in model.layers())


def test_one_activation_table():
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    phi = {
        "relu": x.clamp_min(0),
        "erf": torch.erf(x),
        "gelu": x * 0.5 * (1 + torch.erf(x / math.sqrt(2))),  # exact GELU x Phi(x)
        "tanh": torch.tanh(x),
        "identity": x,
    }
    assert set(ACTIVATION_NAMES) == set(phi) == set(ACTIVATIONS)
    for name in ACTIVATION_NAMES:
        spec = BASE.with_width(8).with_activation(name)
        assert activation_fn(name) is ACTIVATIONS[name].fn is MLP(spec).phi
        assert spec.ntk()._rule is ACTIVATIONS[name] is spec.nngp()._rule
        torch.testing.assert_close(activation_fn(name)(x), phi[name], rtol=1e-15, atol=1e-15)
    assert activation_fn(F.silu) is F.silu
    with pytest.raises(InputError, match="unknown activation"):
        activation_fn("swish")


def test_identity_kernel_is_the_linear_recursion():
    # phi(x) = x: Sigma^{l+1} = w^2 Sigma^l + b^2, Theta^{l+1} = Sigma^{l+1} + w^2 Theta^l
    spec = MLPSpec(D, 8, 2, activation="identity", weight_std=1.3, bias_std=0.4)
    X = _inputs()
    k = 1.3**2 * X @ X.T / D + 0.4**2
    theta = k.clone()
    for _ in range(2):
        k = 1.3**2 * k + 0.4**2
        theta = k + 1.3**2 * theta
    torch.testing.assert_close(gram(spec.nngp(), X), k, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(gram(spec.ntk(), X), theta, rtol=1e-14, atol=1e-14)


def test_ntk_network_draw_seed_dtype_and_table():
    spec = BASE.with_width(512)
    a, b = spec.ntk_network(seed=7), spec.ntk_network(seed=7)
    for (n, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q), n
    assert not torch.equal(a.input.weight, spec.ntk_network(seed=8).input.weight)
    w = torch.cat([p.detach().reshape(-1) for p in a.parameters()])
    assert abs(float(w.mean())) < 5 / math.sqrt(w.numel()) and float(w.std()) == pytest.approx(
        1.0, abs=5 / math.sqrt(w.numel())
    )  # i.i.d. N(0, 1)
    f32 = spec.ntk_network(seed=7, dtype="float32")
    assert f32.input.weight.dtype == torch.float32
    torch.testing.assert_close(f32.input.weight, a.input.weight.float(), rtol=0, atol=0)
    X = _inputs()
    torch.testing.assert_close(
        f32(X.float()).double(), a(X), rtol=RTOL["float32"], atol=10 * ATOL["float32"]
    )
    rows = {r.name: r for r in param_table(a)}
    assert rows["input.weight"].multiplier == pytest.approx(spec.weight_std / math.sqrt(D))
    assert rows["output.bias"].multiplier == spec.bias_std
    assert all(r.init_std == 1.0 and r.lr_factor == 1.0 for r in rows.values())


def test_ntk_network_forward_is_the_ntk_parameterization():
    # h = (w / sqrt(fan_in)) W a + b_std b, written out by hand for one hidden layer
    spec = MLPSpec(D, 16, 1, 1, "erf", weight_std=1.7, bias_std=0.3)
    m, X = spec.ntk_network(seed=2), _inputs()
    h = 1.7 / math.sqrt(D) * X @ m.input.weight.T + 0.3 * m.input.bias
    f = 1.7 / 4.0 * torch.erf(h) @ m.output.weight.T + 0.3 * m.output.bias
    torch.testing.assert_close(m(X), f, rtol=1e-14, atol=1e-14)


def test_ntk_network_saves_and_loads():
    spec = BASE.with_width(32)
    model, x = spec.ntk_network(seed=3), _inputs()
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    torch.testing.assert_close(torch.load(buf, weights_only=False)(x), model(x))
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    fresh = spec.ntk_network(seed=99)
    fresh.load_state_dict(torch.load(buf))
    torch.testing.assert_close(fresh(x), model(x))


def test_dense_without_bias_multiplier_is_nn_linear():
    lin = Dense(D, 7, dtype=torch.float64)
    x = _inputs()
    assert torch.equal(lin(x), F.linear(x, lin.weight, lin.bias))
    assert isinstance(lin, torch.nn.Linear)


def test_existing_mlpspec_api_is_unchanged():
    spec = MLPSpec(D, 64, 2, 1, "relu", False, True)
    assert (spec.weight_std, spec.bias_std) == (1.0, 0.0)
    wide = dataclasses.replace(spec, weight_std=2.0, bias_std=0.5).with_width(128).with_depth(3)
    assert (wide.width, wide.depth, wide.weight_std, wide.bias_std) == (128, 3, 2.0, 0.5)
    model = build(spec, Parameterization("mup"), seed=0)
    assert [n for n, _ in model.named_parameters()] == [
        "input.weight",
        "input.bias",
        "hidden.0.weight",
        "hidden.0.bias",
        "output.weight",
        "output.bias",
    ]
    assert not hasattr(model.input, "lmech_bias_multiplier")


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: MLPSpec(D, 8, weight_std=0.0), "weight_std must be a finite number > 0"),
        (lambda: MLPSpec(D, 8, weight_std=float("nan")), "weight_std"),
        (lambda: MLPSpec(D, 8, bias_std=-0.1), "bias_std must be a finite number >= 0"),
        (lambda: MLPSpec(D, 8, bias=False, bias_std=0.1), "needs biases"),
        (lambda: MLPSpec(D, 8, activation="swish"), "unknown activation"),
        (lambda: MLPSpec(D, 8, residual=True).ntk(), "residual"),
        (lambda: MLPSpec(D, 8, residual=True).nngp(), "residual"),
        (lambda: MLPSpec(D, 8, residual=True).ntk_network(), "residual"),
        (lambda: MLPSpec(D, 8).ntk_network(dtype="float16"), "dtype"),
    ],
)
def test_bad_specs_raise_config_error(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_no_bias_network_has_the_no_bias_kernel():
    spec = MLPSpec(D, 64, 1, 1, "relu", bias=False, weight_std=2**0.5)
    assert spec.ntk().bias_std is None and spec.nngp().bias_std is None
    assert all(layer.bias is None for layer in spec.ntk_network().layers())
    # zero bias_std with biases: inert biases (multiplier 0) and the same kernel
    inert = dataclasses.replace(spec, bias=True)
    X = _inputs()
    torch.testing.assert_close(gram(inert.ntk(), X), gram(spec.ntk(), X), rtol=0, atol=0)
    a, b = spec.ntk_network(seed=1), inert.ntk_network(seed=1)
    assert torch.equal(_autograd_ntk(b, X), _autograd_ntk(b, X))
    assert float(b.input.lmech_bias_multiplier) == 0.0 and a.input.bias is None
