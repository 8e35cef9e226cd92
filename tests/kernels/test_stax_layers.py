"""Per-layer Monte-Carlo tests of lmech.kernels.stax: the covariance of random finite layers.

Each test puts one layer after a random first convolution on fixed inputs. That first
layer's output channels are *exactly* i.i.d. Gaussian processes with the input kernel of
the description (a linear map of fixed inputs with N(0, 1) weights), so the layer under
test sees exact Gaussian inputs and, for layers acting on each channel alone (activations,
pooling, flattening), its output channels are i.i.d. samples of the kernel state: the
channel mean of z_c(x, s) z_c(x', s') is an unbiased estimate of K(x, x')_{s s'} at every
pixel pair, with a standard error from the spread over channels. Layers that couple
channels (a second convolution, LayerNorm, residual sums) are estimated over independent
networks instead (the SE from the spread over networks; their O(1/width) bias is a few
tenths of that SE at the widths used). Every entry must lie within 5 SE (a correct kernel
exceeds 5 SE in one of the <= 2,304 compared entries with probability < 1e-2 for
Gaussian errors; the t tails of 30 networks make it ~2e-2 there, seed fixed).
"""

import math

import pytest
import torch

from lmech.kernels import stax

Z_BOUND = 5.0


def _inputs(shape, n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, *shape, generator=g, dtype=torch.float64)
    X[1] = 0.8 * X[0] + 0.6 * X[1]  # a correlated pair
    return X


def _products(out: torch.Tensor) -> torch.Tensor:
    """Per-channel products z_c(x, s) z_c(x', s'): (C, n, n, *S, *S)."""
    out = out.transpose(0, 1)  # (C, n, *S)
    C, n = out.shape[:2]
    S = out.shape[2:]
    flat = out.reshape(C, n, -1)
    prod = flat[:, :, None, :, None] * flat[:, None, :, None, :]  # (C, n, n, P, P)
    return prod.reshape(C, n, n, *S, *S) if S else prod.reshape(C, n, n)


def _z(mean, se, K):
    """max |z|; entries without spread (LayerNorm's unit diagonal) must match to 1e-8."""
    exact = se < 1e-10 * K.abs().max()
    assert bool(((mean - K).abs()[exact] <= 1e-8).all())
    z = ((mean - K) / se.masked_fill(exact, 1.0)).masked_fill(exact, 0.0)
    return z.abs().max().item(), ((mean - K).abs() / K.abs().max()).max().item()


def _z_channels(net, X, seed=0):
    """z-scores with the SE over channels (exact for channel-wise layers)."""
    K, _ = net.state(X, ntk=False, full_spatial=True)
    with torch.no_grad():
        out = net.module(seed)(X)
    prod = _products(out)
    mean, se = prod.mean(0), prod.std(0) / math.sqrt(prod.shape[0])
    return _z(mean, se, K)


def _z_networks(net, X, networks):
    """z-scores with the SE over independent networks (layers that couple channels)."""
    K, _ = net.state(X, ntk=False, full_spatial=True)
    ests = []
    for s in range(networks):
        with torch.no_grad():
            ests.append(_products(net.module(s)(X)).mean(0))
    E = torch.stack(ests)
    mean, se = E.mean(0), E.std(0) / math.sqrt(networks)
    return _z(mean, se, K)


WIDE = 3000
FIRST = dict(weight_std=1.3, bias_std=0.4)

CHANNELWISE = {
    "conv2d-zero": ((1, 4, 4), [stax.Conv2d(WIDE, 3, padding="zero", **FIRST)]),
    "conv2d-circular-stride2": (
        (2, 5, 5),
        [stax.Conv2d(WIDE, 3, stride=2, padding="circular", **FIRST)],
    ),
    "conv2d-valid-rect": ((1, 4, 5), [stax.Conv2d(WIDE, (2, 3), padding="valid", **FIRST)]),
    "conv1d-zero-stride2": ((2, 7), [stax.Conv1d(WIDE, 3, stride=2, **FIRST)]),
    "conv1d-circular": ((1, 6), [stax.Conv1d(WIDE, 4, padding="circular", **FIRST)]),
    "relu": ((1, 4, 4), [stax.Conv2d(WIDE, 3, **FIRST), stax.Relu()]),
    "erf": ((1, 4, 4), [stax.Conv2d(WIDE, 3, **FIRST), stax.Erf()]),
    "gelu": ((1, 4, 4), [stax.Conv2d(WIDE, 3, **FIRST), stax.Gelu()]),
    "tanh": ((1, 3, 3), [stax.Conv2d(WIDE, 2, **FIRST), stax.Tanh()]),
    "avgpool2d-valid": ((1, 4, 4), [stax.Conv2d(WIDE, 3, **FIRST), stax.Relu(), stax.AvgPool2d(2)]),
    "avgpool2d-zero-stride1": (
        (1, 4, 4),
        [stax.Conv2d(WIDE, 3, **FIRST), stax.Relu(), stax.AvgPool2d(3, 1, padding="zero")],
    ),
    "avgpool2d-circular": (
        (1, 4, 4),
        [stax.Conv2d(WIDE, 3, **FIRST), stax.Relu(), stax.AvgPool2d(3, 2, padding="circular")],
    ),
    "avgpool1d": ((1, 8), [stax.Conv1d(WIDE, 3, **FIRST), stax.Erf(), stax.AvgPool1d(3, 2)]),
    "global-avg-pool": (
        (1, 4, 4),
        [stax.Conv2d(WIDE, 3, **FIRST), stax.Relu(), stax.GlobalAvgPool()],
    ),
    "dense-input": ((5,), [stax.Dense(WIDE, 1.2, 0.3)]),
    "dense-gelu": ((5,), [stax.Dense(WIDE, 1.2, 0.3), stax.Gelu()]),
}


@pytest.mark.parametrize("name", sorted(CHANNELWISE))
def test_channelwise_layer_monte_carlo(name):
    shape, layers = CHANNELWISE[name]
    net = stax.serial(*layers, input_shape=shape)
    z, rel = _z_channels(net, _inputs(shape))
    assert z <= Z_BOUND, (name, z, rel)


@pytest.mark.parametrize("dims", [(1, 3, 4), (2, 5)])
def test_flatten_monte_carlo(dims):
    """Flatten's kernel mean_s K_ss: per channel c the sample mean_s z_c(x, s) z_c(x', s)
    (the flattened dot product divided by C |S|, as the next Dense divides) is i.i.d."""
    conv = stax.Conv2d(WIDE, 3, **FIRST) if len(dims) == 3 else stax.Conv1d(WIDE, 3, **FIRST)
    net = stax.serial(conv, stax.Relu(), stax.Flatten(), input_shape=dims)
    X = _inputs(dims)
    K, _ = net.state(X, ntk=False)
    with torch.no_grad():
        flat = net.module(0)(X)  # (n, C |S|), channel-major like torch's flatten
    per = flat.reshape(X.shape[0], WIDE, -1)
    prod = torch.einsum("acs,bcs->cab", per, per) / per.shape[-1]
    mean, se = prod.mean(0), prod.std(0) / math.sqrt(WIDE)
    assert ((mean - K) / se).abs().max().item() <= Z_BOUND


NARROW = 256
NETWORKS = 30

COUPLED = {
    "conv-after-relu": (
        (1, 4, 4),
        [
            stax.Conv2d(NARROW, 3, **FIRST),
            stax.Relu(),
            stax.Conv2d(NARROW, 3, stride=2, weight_std=1.4, bias_std=0.1),
        ],
    ),
    "layernorm": ((1, 4, 4), [stax.Conv2d(NARROW, 3, **FIRST), stax.LayerNorm()]),
    "layernorm-after-erf": (
        (1, 4, 4),
        [stax.Conv2d(NARROW, 3, **FIRST), stax.Erf(), stax.LayerNorm()],
    ),
    "residual-multiplier": (
        (1, 4, 4),
        [
            stax.Conv2d(NARROW, 3, **FIRST),
            stax.Residual(
                stax.Relu(), stax.Conv2d(NARROW, 3, weight_std=1.5, bias_std=0.2), multiplier=0.6
            ),
        ],
    ),
    "fanout-parallel-fanin": (
        (1, 4, 4),
        [
            stax.Conv2d(NARROW, 3, **FIRST),
            stax.FanOut(3),
            stax.Parallel(
                [stax.Relu(), stax.Conv2d(NARROW, 1, weight_std=1.2)],
                [stax.Erf(), stax.Conv2d(NARROW, 3, weight_std=0.8, bias_std=0.3)],
                [],
            ),
            stax.FanInSum((0.5, 1.5, 0.7)),
        ],
    ),
    "dense": ((5,), [stax.Dense(NARROW, 1.2, 0.3), stax.Gelu(), stax.Dense(NARROW, 0.9)]),
}


@pytest.mark.parametrize("name", sorted(COUPLED))
def test_coupled_layer_monte_carlo(name):
    shape, layers = COUPLED[name]
    net = stax.serial(*layers, input_shape=shape)
    z, rel = _z_networks(net, _inputs(shape), NETWORKS)
    assert z <= Z_BOUND, (name, z, rel)


def test_monte_carlo_detects_a_wrong_kernel():
    """The statistic can fail: the ReLU kernel scaled by 1.3 is beyond 5 SE (the SE is
    2-5% of each entry at 3,000 channels: ReLU products are heavy-tailed)."""
    shape, layers = CHANNELWISE["relu"]
    net = stax.serial(*layers, input_shape=shape)
    X = _inputs(shape)
    K, _ = net.state(X, ntk=False, full_spatial=True)
    with torch.no_grad():
        prod = _products(net.module(0)(X))
    mean, se = prod.mean(0), prod.std(0) / math.sqrt(prod.shape[0])
    assert ((mean - 1.3 * K) / se).abs().max().item() > Z_BOUND
