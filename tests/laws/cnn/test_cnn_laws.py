"""cnn family: law pieces against independent computations."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from lmech.errors import DataUnavailableError
from lmech.kernels import stax
from lmech.laws.cnn import cntk_fashion, ntk_width, resnet_depth


def _arccos1(q1, q2, k):
    """E[relu(u) relu(v)], Cho & Saul's degree-1 arc-cosine kernel, written out."""
    c = max(-1.0, min(1.0, k / math.sqrt(q1 * q2)))
    t = math.acos(c)
    return math.sqrt(q1 * q2) * (math.sin(t) + (math.pi - t) * c) / (2 * math.pi)


@pytest.mark.parametrize("alpha", [1.0, 0.3])
def test_residual_nngp_against_a_hand_recursion(alpha):
    """1x1 residual CNN on (C, 1, 1) inputs: K_{l+1} = K_l + alpha^2 w^2 E[relu relu'],
    iterated by hand with the arc-cosine formula."""
    L, w = 5, 1.3
    blocks = [
        stax.Residual(stax.Relu(), stax.Conv2d(4, 1, weight_std=w), multiplier=alpha)
        for _ in range(L)
    ]
    net = stax.serial(stax.Conv2d(4, 1, weight_std=1.1, bias_std=0.2), *blocks,
                      stax.Flatten(), stax.Dense(1), input_shape=(3, 1, 1))  # fmt: skip
    X = torch.tensor([[1.0, 0.5, -0.2], [0.3, -1.0, 0.8]], dtype=torch.float64)
    K = net.nngp().block(X, X).numpy()
    g = (X @ X.T / 3).numpy() * 1.1**2 + 0.2**2
    for _ in range(L):
        e = np.array([[_arccos1(g[i, i], g[j, j], g[i, j]) for j in range(2)] for i in range(2)])
        g = g + alpha**2 * w**2 * e
    assert np.allclose(K, g, atol=1e-13, rtol=0)


def test_scaled_resnet_correlation_converges_and_unscaled_degenerates():
    spec = resnet_depth.Spec(depths=(1, 8, 32, 64), measured_depths=(1, 8))
    t = resnet_depth.theory(spec).set_index(["scaling", "depth"])["nngp_corr"]
    assert abs(t["scaled", 64] - t["scaled", 32]) < 1e-3
    un = [t["unscaled", L] for L in (1, 8, 32, 64)]
    assert all(b > a for a, b in zip(un, un[1:], strict=False)) and 1 - un[-1] < 0.01


def test_width_slope_statistic_on_exact_power_laws():
    """Errors exactly c w^-1/2 give slope -1/2 (deviation 0); c w^-1/4 gives 0.25."""
    widths = (16, 64, 256)
    pred = pd.DataFrame(
        {"architecture": "a", "i": [0, 0, 1], "j": [0, 1, 1], "ntk": [2.0, 1.0, 3.0]}
    )
    for p, expect in ((0.5, 0.0), (0.25, 0.25)):
        rows = []
        for w in widths:
            eps = 0.7 * w**-p  # relative error on every entry
            rows.append(pred.assign(ntk=pred["ntk"] * (1 + eps), width=w, init=0))
        ev = ntk_width.evaluate(pred, pd.concat(rows, ignore_index=True))
        assert ev.values["max_slope_deviation"] == pytest.approx(expect, abs=1e-9)


def test_cntk_downsampling_is_block_averaging():
    spec = cntk_fashion.PRESETS["smoke"]
    try:
        X, y, pool, rest = cntk_fashion._data(spec)
        from lmech.data.cache import fashion_mnist
    except DataUnavailableError:
        pytest.skip("Fashion-MNIST not installed")
    assert X.shape == (spec.subset, spec.side**2) and set(np.unique(y)) <= {-1.0, 1.0}
    assert len(pool) == spec.pool_size and len(rest) == spec.subset - spec.pool_size
    images = fashion_mnist()
    rows, _ = images.binary_task(list(spec.positive), list(spec.negative))
    from lmech.seeding import rng

    first = rows[rng(spec.split_seed, "cntk-subset").permutation(len(rows))[0]]
    img = torch.from_numpy(images.pixels[first].astype(np.float64) / 255).reshape(1, 1, 28, 28)
    ref = F.avg_pool2d(img, spec.downsample).reshape(-1)
    assert torch.allclose(X[0], ref, atol=1e-14)
