r"""Li^2 theory of grokking on groups: the energy E(w), its maxima, the boundary, top-down modulation.

Setting (Tian 2025, arXiv 2509.21519): a 2-layer network on a group of order M sees the
pair (a, b) as the concatenated one-hot x = [e_a; e_b] in R^{2M}, has hidden units
sigma(x . w) with w = [u; v] (u, v functions on the group) and predicts the one-hot of
c = a * b. With the mean-zero targets Y_t = Y - 1/M and the top layer at its ridge
optimum, each hidden unit follows gradient *ascent* on

.. math:: E(w) = \tfrac12 \| Y_t^\top \sigma(X w) \|^2

(Stage II, "independent feature learning"; X holds all M^2 pairs).

Normalization used throughout (pinned once, here): X is the raw one-hot (no
1/sqrt 2), sigma(x) = x^2, |w|_2 = 1 over both halves together. Then

.. math:: (Y_t^\top \sigma(Xw))_c = 2\big[(u * v)(c) - \overline{u * v}\big], \qquad
          E = 2 \sum_c \big((u*v)(c) - \overline{u*v}\big)^2
            = \frac{2}{M} \sum_{\rho \ne 1} d_\rho \|\hat u(\rho) \hat v(\rho)\|_F^2,

with the group convolution :math:`(u*v)(c) = \sum_{ab = c} u_a v_b` and the Fourier
transform of :mod:`lmech.data.groups` (the squares u_a^2, v_b^2 are the same for every c
and cancel against the mean). [derived] Maximizing on the sphere puts all of w's power in
one real class of irreps (a split between classes is a saddle: E is then a sum of
products x_i y_i over classes, convex in the split), with û and v̂ rank one and aligned:

- real-type irrep of dimension d: :math:`E^* = M / (2d)`;
- a complex irrep with its conjugate (d each; for Z_M a frequency k with 2k != M):
  :math:`E^* = M / (4d)`, so M/4 for every frequency of Z_M (checked numerically by
  ``li2-energy-maxima`` for M = 7, 11, 23; the paper's M/16 corresponds to inputs scaled
  by 1/sqrt 2 or sigma = x^2/2).

Sample complexity (the paper's Thm 4, constant not given): the generalizing maxima of the
empirical energy survive once n >~ d^2 M log M, i.e. a critical training fraction
:math:`p^* = c \ln M / M` (:func:`critical_fraction`; c is fitted from runs by
``li2-boundary``, which also tests the shape ln M / M against a constant fraction).

Top-down modulation [derived from the paper's Stage III]: once the hidden layer
represents the irreps in a set S, the residual the top layer leaves has no component on S,
so the energy seen by a new unit is E restricted to the classes outside S
(:func:`modulated_energy`); its maxima are the single classes outside S.

Pure numpy (no torch).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache

import numpy as np

from lmech.data.groups import FiniteGroup
from lmech.errors import InputError

__all__ = [
    "backprop_gradient",
    "class_energy_maxima",
    "critical_fraction",
    "energy",
    "energy_ascent",
    "energy_gradient",
    "modulated_energy",
]


def _halves(group: FiniteGroup, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = np.asarray(w, dtype=np.float64)
    if w.shape[-1] != 2 * group.order:
        raise InputError(
            f"w must have 2M = {2 * group.order} entries (u on the first input, v on the "
            f"second) in its last axis; got shape {w.shape}"
        )
    return w[..., : group.order], w[..., group.order :]


@lru_cache(maxsize=32)
def _product_onehot(group: FiniteGroup) -> np.ndarray:
    """(M^2, M) one-hot of c = a * b for the pairs in :meth:`FiniteGroup.pairs` order."""
    _, _, c = group.pairs()
    onehot = np.zeros((c.size, group.order))
    onehot[np.arange(c.size), c] = 1.0
    return onehot


def _centred_convolution(group: FiniteGroup, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """r = u * v - mean(u * v), shape (..., M)."""
    a, b, _ = group.pairs()
    h = (u[..., a] * v[..., b]) @ _product_onehot(group)
    return h - h.mean(axis=-1, keepdims=True)


def energy(group: FiniteGroup, w, activation: str = "square") -> np.ndarray:
    r"""E(w) = 1/2 |Y_t^T sigma(X w)|^2 over all M^2 pairs, for w of shape (..., 2M).

    ``activation``: ``"square"`` (x^2, the closed form above), ``"relu"`` or ``"silu"``
    (evaluated over the pairs directly).
    """
    u, v = _halves(group, w)
    if activation == "square":
        r = _centred_convolution(group, u, v)
        return 2.0 * (r * r).sum(axis=-1)
    acts = {"relu": lambda z: np.maximum(z, 0.0), "silu": lambda z: z / (1.0 + np.exp(-z))}
    if activation not in acts:
        raise InputError(f"activation must be square, relu or silu; got {activation!r}")
    a, b, _ = group.pairs()
    s = acts[activation](u[..., a] + v[..., b])  # (..., M^2)
    proj = s @ (_product_onehot(group) - 1.0 / group.order)  # Y_t^T sigma(X w), (..., M)
    return 0.5 * (proj * proj).sum(axis=-1)


def energy_gradient(group: FiniteGroup, w) -> np.ndarray:
    """dE/dw for sigma = x^2: [4 R v; 4 R^T u] with R[a, b] = r(a * b)."""
    return _gradient(group, w, None)


def _residual(group: FiniteGroup, w, P: np.ndarray | None):
    """(u, v, r): r = u * v - mean, projected onto the kept classes when P is given."""
    u, v = _halves(group, w)
    r = _centred_convolution(group, u, v)
    return u, v, (r if P is None else r @ P)


def _gradient(group: FiniteGroup, w, P: np.ndarray | None) -> np.ndarray:
    """Gradient of 2 |r|^2 (r restricted by the projector P when given)."""
    u, v, r = _residual(group, w, P)
    R = r[..., group.table]  # (..., M, M)
    gu = 4.0 * np.einsum("...ab,...b->...a", R, v)
    gv = 4.0 * np.einsum("...ab,...a->...b", R, u)
    return np.concatenate([gu, gv], axis=-1)


def class_energy_maxima(group: FiniteGroup) -> np.ndarray:
    """E* per real class of irreps (0 for the trivial class): M/(2d) or M/(4d)."""
    out = np.zeros(len(group.real_classes))
    for k, cls in enumerate(group.real_classes):
        if k == group.trivial_class():
            continue
        d = group.irreps[cls[0]].dim
        out[k] = group.order / (2 * d) if len(cls) == 1 else group.order / (4 * d)
    return out


def modulated_energy(group: FiniteGroup, w, learned: Iterable[int]) -> np.ndarray:
    """E restricted to the real classes not in ``learned`` (top-down modulation)."""
    u, v = _halves(group, w)
    r = _centred_convolution(group, u, v)
    power = group.power(r)  # (..., classes)
    keep = np.ones(power.shape[-1], bool)
    learned = list(learned)
    if any(not 0 <= k < keep.size for k in learned):
        raise InputError(f"learned classes must be in 0..{keep.size - 1}; got {learned}")
    keep[learned] = False
    return 2.0 * (power * keep).sum(axis=-1)


def energy_ascent(
    group: FiniteGroup,
    w0,
    *,
    steps: int = 20_000,
    lr: float | None = None,
    learned: Iterable[int] = (),
    tol: float = 1e-14,
    record_at: Iterable[int] = (),
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Riemannian gradient ascent of E (or of the modulated energy) on the unit sphere.

    Args:
        w0: (S, 2M) starts (normalized here).
        steps: maximum number of steps; stops early once every start's Riemannian
            gradient is below ``tol`` relative to 4E (E is homogeneous of degree 4).
        lr: step size; default 0.1 / max E*. At 0.25 / E* the iterates of Z_7 settled
            into an oscillation of the |u|/|v| balance 1e-4 below the maximum; at 0.1 / E*
            they reach it to 1e-15 within 100 steps.
        learned: real classes already learned (their power is projected out of each
            step's gradient, which is gradient ascent on :func:`modulated_energy`).
        record_at: steps at which (E, w) is recorded (before that step's update).

    Returns:
        (w, E(w), [(E, w) at the recorded steps]).
    """
    w = np.asarray(w0, dtype=np.float64)
    if w.ndim != 2:
        raise InputError(f"w0 must be 2-D (starts, 2M); got shape {w.shape}")
    w = w / np.linalg.norm(w, axis=1, keepdims=True)
    learned = list(learned)
    emax = class_energy_maxima(group).max()
    lr = 0.1 / emax if lr is None else float(lr)
    mask = None
    if learned:
        mask = _class_projector(
            group, [k for k in range(len(group.real_classes)) if k not in learned]
        )
    history = []
    record = set(int(k) for k in record_at)
    for step in range(steps):
        g = _gradient(group, w, mask)
        radial = (g * w).sum(axis=1, keepdims=True)
        tangent = g - radial * w
        if step in record:
            history.append((_energy_of(group, w, mask), w.copy()))
        scale = np.maximum(np.abs(radial), 1e-300)
        if np.all(np.linalg.norm(tangent, axis=1) <= tol * scale[:, 0]) and step > max(
            record, default=-1
        ):
            break
        w = w + lr * tangent
        w /= np.linalg.norm(w, axis=1, keepdims=True)
    return w, _energy_of(group, w, mask), history


def _class_projector(group: FiniteGroup, classes: list[int]) -> np.ndarray:
    """Orthogonal projector (M, M) onto functions whose power lies in ``classes``."""
    M = group.order
    basis = []
    for k in classes:
        for i in group.real_classes[k]:
            r = group.irreps[i]
            basis.append(np.sqrt(r.dim / M) * r.matrices.reshape(M, -1))  # orthonormal columns
    B = np.concatenate(basis, axis=1)  # (M, m) complex, orthonormal
    return (B @ B.conj().T).real


def _energy_of(group, w, P) -> np.ndarray:
    return 2.0 * (_residual(group, w, P)[2] ** 2).sum(axis=-1)


def critical_fraction(M, c: float) -> np.ndarray:
    """p* = c ln M / M."""
    M = np.asarray(M, dtype=np.float64)
    if np.any(M < 2):
        raise InputError(f"group orders must be >= 2; got {M}")
    return c * np.log(M) / M


def backprop_gradient(F: np.ndarray, Y: np.ndarray, eta: float) -> np.ndarray:
    r"""G_F = eta (F F^T + eta I)^{-1} Y Y^T F (F^T F + eta I)^{-1} (-dL/dF at the ridge top layer).

    F: (n, K) hidden activations, Y: (n, M) mean-zero targets, eta > 0 the weight decay.
    """
    F = np.asarray(F, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if not (isinstance(eta, (int, float)) and eta > 0 and math.isfinite(eta)):
        raise InputError(f"eta must be a positive finite number; got {eta!r}")
    n, K = F.shape
    left = np.linalg.solve(F @ F.T + eta * np.eye(n), Y)
    right = np.linalg.solve(F.T @ F + eta * np.eye(K), F.T).T  # F (F^T F + eta)^{-1}
    return eta * left @ (Y.T @ right)
