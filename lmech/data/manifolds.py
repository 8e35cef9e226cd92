r"""Point clouds of known intrinsic dimension, embedded in R^D by a seeded random rotation.

Each generator draws n points on a d-dimensional manifold in its natural coordinates
(R^m, m <= D), pads them with zeros to R^D, applies a Haar-random rotation
:math:`Q \in O(D)` and adds isotropic Gaussian noise of standard deviation ``noise``:
the intrinsic dimension is d whatever D. Draws come from
``lmech.seeding.rng(seed, "manifold", name, ...)``.

- :func:`sphere`: uniform on the unit sphere :math:`S^d \subset R^{d+1}`;
- :func:`torus`: the flat torus :math:`(S^1)^d \subset R^{2d}` (product of unit circles);
- :func:`swiss_roll`: d = 2 in R^3 (Marsland 2009 / scikit-learn parametrization);
- :func:`hypercube`: uniform on :math:`[0, 1]^d`;
- :func:`linear_subspace`: isotropic Gaussian in a d-dimensional subspace;
- :func:`power_law_gaussian`: Gaussian with covariance eigenvalues
  :math:`\lambda_i \propto i^{-\alpha}` (sum 1), in a random basis;
- :func:`manifold`: any of the above by name; :data:`MANIFOLDS` lists them.
"""

from __future__ import annotations

import math

import numpy as np

from lmech._memory import check_allocation
from lmech.errors import ConfigError
from lmech.seeding import rng

__all__ = [
    "MANIFOLDS",
    "random_rotation",
    "embed",
    "sphere",
    "torus",
    "swiss_roll",
    "hypercube",
    "linear_subspace",
    "power_law_gaussian",
    "manifold",
]


def _int(v, name: str, least: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least:
        raise ConfigError(f"{name} must be an integer >= {least}; got {v!r}")
    return int(v)


def _nonneg(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v >= 0):
        raise ConfigError(f"{name} must be a finite number >= 0; got {v!r}")
    return float(v)


def random_rotation(D: int, seed: int, *keys) -> np.ndarray:
    """A Haar-distributed orthogonal (D, D) matrix (QR of a Gaussian with the sign fix of
    Mezzadri 2007, eq. (5.12)), from the stream (seed, "rotation", D, *keys)."""
    D = _int(D, "D", 1)
    G = rng(seed, "rotation", D, *keys).standard_normal((D, D))
    Q, R = np.linalg.qr(G)
    return Q * np.sign(np.diag(R))


def embed(points: np.ndarray, ambient_dim: int, seed: int, *keys, noise: float = 0.0) -> np.ndarray:
    """(n, m) points -> (n, D): zero-pad to D, rotate by a Haar Q, add N(0, noise^2) noise."""
    n, m = points.shape
    D = _int(ambient_dim, "ambient_dim", 1)
    if D < m:
        raise ConfigError(f"ambient_dim must be >= {m} (the manifold's coordinates); got {D}")
    noise = _nonneg(noise, "noise")
    check_allocation(8 * (2 * n * D + D * D), f"a ({n}, {D}) point cloud", "use fewer points")
    Q = random_rotation(D, seed, *keys)
    X = points @ Q[:m]  # (n, D): rows of Q[:m] span the embedded subspace
    if noise > 0:
        X = X + noise * rng(seed, "noise", *keys).standard_normal((n, D))
    return X


def sphere(n: int, d: int, ambient_dim: int, *, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """n points uniform on the unit d-sphere S^d (in R^{d+1}), embedded in R^D."""
    n, d = _int(n, "n", 1), _int(d, "d", 1)
    G = rng(seed, "manifold", "sphere", d, n).standard_normal((n, d + 1))
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    return embed(G, ambient_dim, seed, "sphere", d, n, noise=noise)


def torus(n: int, d: int, ambient_dim: int, *, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """n points uniform on the flat torus (S^1)^d in R^{2d}, embedded in R^D."""
    n, d = _int(n, "n", 1), _int(d, "d", 1)
    theta = rng(seed, "manifold", "torus", d, n).uniform(0, 2 * np.pi, (n, d))
    P = np.concatenate([np.cos(theta), np.sin(theta)], axis=1) / np.sqrt(d)
    return embed(P, ambient_dim, seed, "torus", d, n, noise=noise)


def swiss_roll(n: int, ambient_dim: int = 3, *, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """n points on the swiss roll (d = 2): t ~ U(1.5 pi, 4.5 pi), h ~ U(0, 21),
    (t cos t, h, t sin t), embedded in R^D."""
    n = _int(n, "n", 1)
    g = rng(seed, "manifold", "swiss_roll", n)
    t = 1.5 * np.pi * (1 + 2 * g.uniform(size=n))
    h = 21.0 * g.uniform(size=n)
    P = np.stack([t * np.cos(t), h, t * np.sin(t)], axis=1)
    return embed(P, ambient_dim, seed, "swiss_roll", n, noise=noise)


def hypercube(n: int, d: int, ambient_dim: int, *, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """n points uniform on [0, 1]^d, embedded in R^D."""
    n, d = _int(n, "n", 1), _int(d, "d", 1)
    P = rng(seed, "manifold", "hypercube", d, n).uniform(size=(n, d))
    return embed(P, ambient_dim, seed, "hypercube", d, n, noise=noise)


def linear_subspace(
    n: int, d: int, ambient_dim: int, *, noise: float = 0.0, seed: int = 0
) -> np.ndarray:
    """n isotropic Gaussian points N(0, I_d) in a random d-dimensional subspace of R^D
    (participation ratio d in the population)."""
    n, d = _int(n, "n", 1), _int(d, "d", 1)
    P = rng(seed, "manifold", "linear", d, n).standard_normal((n, d))
    return embed(P, ambient_dim, seed, "linear", d, n, noise=noise)


def power_law_gaussian(
    n: int, ambient_dim: int, exponent: float, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    r"""(X, lam): n Gaussian points in R^D with covariance eigenvalues
    :math:`\lambda_i = i^{-\alpha}/\sum_j j^{-\alpha}` (i = 1..D) in a Haar-random basis."""
    n, D = _int(n, "n", 1), _int(ambient_dim, "ambient_dim", 1)
    alpha = _nonneg(exponent, "exponent")
    lam = np.arange(1, D + 1, dtype=np.float64) ** -alpha
    lam /= lam.sum()
    P = rng(seed, "manifold", "power_law", D, alpha, n).standard_normal((n, D)) * np.sqrt(lam)
    return embed(P, D, seed, "power_law", D, alpha, n), lam


MANIFOLDS = ("sphere", "torus", "swiss_roll", "hypercube", "linear_subspace")


def manifold(
    name: str, n: int, d: int, ambient_dim: int, *, noise: float = 0.0, seed: int = 0
) -> np.ndarray:
    """A point cloud by name (one of :data:`MANIFOLDS`); ``d`` must be 2 for the swiss roll."""
    if name not in MANIFOLDS:
        raise ConfigError(f"manifold must be one of {MANIFOLDS}; got {name!r}")
    if name == "swiss_roll":
        if d != 2:
            raise ConfigError(f"the swiss roll has d = 2; got d = {d!r}")
        return swiss_roll(n, ambient_dim, noise=noise, seed=seed)
    fn = {
        "sphere": sphere,
        "torus": torus,
        "hypercube": hypercube,
        "linear_subspace": linear_subspace,
    }[name]
    return fn(n, d, ambient_dim, noise=noise, seed=seed)
