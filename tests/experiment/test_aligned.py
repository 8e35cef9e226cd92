"""aligned_cross_moments against direct token sampling (Monte Carlo, same law)."""

import math

import pytest
import torch

from lmech.experiment._aligned import aligned_cross_moments

M = 200_000  # draws per estimator; a moment's SE is sd / sqrt(M) ~ 0.2% of its sd


def _direct(v, n, sigma, gen):
    X = torch.randn(M, n, len(v), generator=gen, dtype=torch.float64)
    y = X @ v + sigma * torch.randn(M, n, generator=gen, dtype=torch.float64)
    return (X * y[..., None]).sum(1), (y * y).sum(1, keepdim=True)


def _features(xy, s2):
    """First and second moments of (xy, |y|^2) as one vector per draw."""
    z = torch.cat([xy, s2], 1)
    return torch.cat([z, (z[:, :, None] * z[:, None, :]).flatten(1)], 1)


@pytest.mark.parametrize("v", [[0.7, -0.2, 0.4], [0.0, 0.0, 0.0]])
def test_joint_moments_match_direct_sampling(v):
    v = torch.tensor(v, dtype=torch.float64)
    n, sigma = 4, 0.5
    gen = torch.Generator().manual_seed(0)
    xy, s2 = aligned_cross_moments(
        v.expand(M, 3).clone(),
        n,
        sigma,
        lambda s: torch.randn(s, generator=gen, dtype=torch.float64),
    )
    a = _features(xy, s2)
    b = _features(*_direct(v, n, sigma, gen))
    se = torch.sqrt((a.var(0) + b.var(0)) / M)
    z = ((a.mean(0) - b.mean(0)) / se).abs()
    # 4 + 16 moments: |z| < 4.5 for all holds with probability > 0.999 under the same law
    assert float(z.max()) < 4.5
    # and the closed forms: E[X^T y] = n v, E|y|^2 = n (|v|^2 + sigma^2)
    assert torch.allclose(xy.mean(0), n * v, atol=5 * math.sqrt(float(xy.var(0).max()) / M))
    want = n * (float(v @ v) + sigma**2)
    assert abs(float(s2.mean()) - want) < 5 * math.sqrt(float(s2.var()) / M)
