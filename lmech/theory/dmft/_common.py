r"""Shared pieces of the DMFT solvers: activations, Gaussian pair expectations, input checks.

Activations are given by name (``relu``, ``erf``, ``tanh``, ``identity``). Each carries
phi, phi' and the two Gaussian expectations a two-layer kernel needs, for
:math:`(u, v) \sim \mathcal N(0, [[q, k], [k, q']])`:

.. math::

    \text{ReLU:}\quad E[\phi(u)\phi(v)] = \frac{\sqrt{q q' - k^2} + (\pi - \theta) k}{2\pi},
    \quad E[\phi'(u)\phi'(v)] = \frac{\pi - \theta}{2\pi},
    \quad \theta = \arccos\frac{k}{\sqrt{q q'}};

    \text{erf:}\quad E[\phi\phi] = \frac{2}{\pi}\arcsin\frac{2k}{\sqrt{(1+2q)(1+2q')}},
    \quad E[\phi'\phi'] = \frac{4}{\pi}\frac{1}{\sqrt{(1+2q)(1+2q') - 4k^2}};

    \text{identity:}\quad E[uv] = k,\quad E[1] = 1,

(Cho & Saul, NeurIPS 2009, Sec. 2; Williams, NeurIPS 1996), and a 2-D Gauss-Hermite rule
for tanh. They are written here in numpy, independently of :mod:`lmech.kernels` (torch),
so that the lazy-limit law compares two separate implementations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lmech.errors import InputError

__all__ = [
    "ACTIVATION_NAMES",
    "DmftActivation",
    "activation",
    "check_gamma0",
    "check_gram",
    "check_time_grid",
    "check_targets",
    "pair_expectations",
]


def _relu(x):
    return np.maximum(x, 0.0)


def _relu_d(x):
    return (x > 0).astype(x.dtype)


def _erf(x):
    from scipy.special import erf

    return erf(x)


def _erf_d(x):
    return (2.0 / math.sqrt(math.pi)) * np.exp(-x * x)


def _tanh_d(x):
    t = np.tanh(x)
    return 1.0 - t * t


def _identity(x):
    return x


def _ones(x):
    return np.ones_like(x)


@dataclass(frozen=True)
class DmftActivation:
    """phi, phi' (numpy, elementwise) and its name."""

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    deriv: Callable[[np.ndarray], np.ndarray]


_TABLE = {
    "relu": DmftActivation("relu", _relu, _relu_d),
    "erf": DmftActivation("erf", _erf, _erf_d),
    "tanh": DmftActivation("tanh", np.tanh, _tanh_d),
    "identity": DmftActivation("identity", _identity, _ones),
}
ACTIVATION_NAMES = tuple(_TABLE)


def activation(name) -> DmftActivation:
    """The activation of a name of :data:`ACTIVATION_NAMES`."""
    if isinstance(name, DmftActivation):
        return name
    key = str(name).strip().lower() if isinstance(name, str) else None
    if key not in _TABLE:
        raise InputError(
            f"unknown DMFT activation {name!r}; expected one of {list(ACTIVATION_NAMES)}"
        )
    return _TABLE[key]


def pair_expectations(
    act: DmftActivation, K: np.ndarray, *, nodes: int = 160
) -> tuple[np.ndarray, np.ndarray]:
    """(E[phi(u) phi(v)], E[phi'(u) phi'(v)]) for every pair of a Gram K (module docstring)."""
    K = np.asarray(K, dtype=np.float64)
    q = np.clip(np.diag(K), 0.0, None)
    qx, qz = q[:, None], q[None, :]
    if act.name == "identity":
        return K.copy(), np.ones_like(K)
    if act.name == "relu":
        s = np.sqrt(np.clip(qx * qz - K * K, 0.0, None))
        theta = np.arctan2(s, K)
        return (s + (math.pi - theta) * K) / (2 * math.pi), (math.pi - theta) / (2 * math.pi)
    if act.name == "erf":
        a = (1.0 + 2.0 * qx) * (1.0 + 2.0 * qz)
        r = np.sqrt(np.clip(a - 4.0 * K * K, 1e-300, None))
        return (2.0 / math.pi) * np.arctan2(2.0 * K, r), (4.0 / math.pi) / r
    # tanh (smooth): u = sqrt(q) z1, v = sqrt(q') (c z1 + sqrt(1 - c^2) z2), probabilists' GH
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    sq = np.sqrt(q)
    denom = np.where(sq[:, None] * sq[None, :] > 0, sq[:, None] * sq[None, :], 1.0)
    c = np.clip(K / denom, -1.0, 1.0)
    s = np.sqrt(1.0 - c * c)
    e1 = np.zeros_like(K)
    e2 = np.zeros_like(K)
    for z1, w1 in zip(z, w, strict=True):
        u = sq[:, None] * z1  # (P, 1)
        fu, du = act.fn(u), act.deriv(u)
        v = sq[None, :] * (c * z1 + s * z[:, None, None])  # (nodes, P, P)
        e1 += w1 * fu * np.tensordot(w, act.fn(v), axes=1)
        e2 += w1 * du * np.tensordot(w, act.deriv(v), axes=1)
    return e1, e2


def check_gamma0(gamma0) -> float:
    ok = isinstance(gamma0, int | float | np.floating) and not isinstance(gamma0, bool)
    if not ok or not math.isfinite(float(gamma0)) or gamma0 < 0:
        raise InputError(
            f"gamma_0 (richness) must be a finite number >= 0 (0 = lazy/NTK limit); got "
            f"{gamma0!r}. Pass gamma0=0 for the static-kernel limit or a positive richness"
        )
    return float(gamma0)


def check_gram(Kx, name: str = "input Gram K^x", *, rtol: float = 1e-10) -> np.ndarray:
    """A symmetric positive semi-definite float64 matrix (refuses anything else)."""
    K = np.asarray(Kx, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] == 0:
        raise InputError(f"{name} must be a non-empty square matrix; got shape {K.shape}")
    if not np.isfinite(K).all():
        raise InputError(f"{name} has NaN or infinite entries")
    scale = max(float(np.abs(K).max()), 1e-300)
    if not np.allclose(K, K.T, rtol=0.0, atol=1e-12 * scale):
        raise InputError(f"{name} must be symmetric; max |K - K^T| = {np.abs(K - K.T).max():.3g}")
    K = 0.5 * (K + K.T)
    lo = float(np.linalg.eigvalsh(K)[0])
    if lo < -rtol * K.shape[0] * scale:
        raise InputError(
            f"{name} must be positive semi-definite (a Gram matrix x_mu . x_nu / D); its "
            f"smallest eigenvalue is {lo:.3g} (largest entry {scale:.3g}). Build it as "
            "X @ X.T / D from the inputs X"
        )
    return K


def check_time_grid(t_grid) -> np.ndarray:
    t = np.asarray(t_grid, dtype=np.float64)
    if t.ndim != 1 or t.size < 2:
        raise InputError(f"the time grid must be 1-D with at least 2 times; got shape {t.shape}")
    if not np.isfinite(t).all():
        raise InputError("the time grid has NaN or infinite entries")
    if t[0] != 0.0:
        raise InputError(f"the time grid must start at t = 0 (initialization); got t[0] = {t[0]}")
    if not (np.diff(t) > 0).all():
        k = int(np.argmin(np.diff(t) > 0))
        raise InputError(
            f"the time grid must be strictly increasing; t[{k}] = {t[k]} >= t[{k + 1}] = {t[k + 1]}"
            ". Pass e.g. np.linspace(0, T, n)"
        )
    return t


def check_targets(y, P: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (P,):
        raise InputError(
            f"targets y must have shape ({P},) (one per training point); got {y.shape}"
        )
    if not np.isfinite(y).all():
        raise InputError("targets y have NaN or infinite entries")
    return y
