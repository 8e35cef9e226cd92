"""The p-dimensional network sampler equals sampling the weights directly."""

import math

import numpy as np
import torch

from lmech.laws.nngp_monte_carlo import Spec, sample_outputs


def _direct(spec: Spec, count: int, gen) -> torch.Tensor:
    # NTK parameterization with explicit i.i.d. N(0, 1) weights and biases, batched
    X = spec.inputs()  # (p, d)
    a = X.expand(count, -1, -1)  # (B, p, d)
    fan_in = spec.input_dim
    phi = torch.relu
    for width in [spec.width] * spec.depth + [1]:
        W = torch.randn(count, width, fan_in, generator=gen, dtype=torch.float64)
        b = torch.randn(count, 1, width, generator=gen, dtype=torch.float64)
        h = spec.weight_std / math.sqrt(fan_in) * a @ W.transpose(1, 2) + spec.bias_std * b
        a = phi(h) if width != 1 else h
        fan_in = width
    return a[:, :, 0]  # (B, p)


def test_sampler_matches_direct_weights():
    # width 8: far from the NNGP limit, so this compares the finite-width distributions
    spec = Spec(width=8, depth=2, networks=2, activations=("relu",))
    count = 40_000
    fast = sample_outputs(spec, "relu", count, torch.Generator().manual_seed(0)).numpy()
    slow = _direct(spec, count, torch.Generator().manual_seed(1)).numpy()
    i, j = np.triu_indices(spec.num_inputs)
    for stat in (lambda f: f[:, i] * f[:, j], lambda f: (f[:, i] * f[:, j]) ** 2):
        a, b = stat(fast), stat(slow)
        se = np.sqrt(a.var(0) / count + b.var(0) / count)
        z = (a.mean(0) - b.mean(0)) / se
        assert np.all(np.abs(z) < 4.5), z  # 4.5 SE: 20 correlated comparisons
    assert abs(fast.mean()) < 4 * fast.std() / math.sqrt(fast.size)
