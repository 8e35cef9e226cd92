r"""Fourier measurements of networks trained on group tasks (Li^2, Nanda et al.).

Hidden unit j of a 2-layer network on pairs (a, b) has input weights w_j = [u_j; v_j]
(the rows of W for the first and second one-hot). Its *power per real class of irreps*
is ``group.power(u_j) + group.power(v_j)`` (:meth:`lmech.data.groups.FiniteGroup.power`;
for Z_M the classes are the frequencies k = 0..floor(M/2)), which sums to |w_j|^2
(Plancherel).

- :func:`neuron_power`: (K, classes) power table;
- :func:`single_irrep_units` / :func:`single_irrep_fraction`: which / what share of non-dead units whose largest non-trivial class
  carries more than ``threshold`` of their non-trivial power (Li^2's "single-frequency
  neurons");
- :func:`key_classes`: classes ordered by total power over units;
- :func:`gini`: the Gini coefficient of a non-negative vector (Nanda et al.'s sparsity of
  Fourier norms: 0 uniform, -> 1 concentrated);
- :func:`restricted_and_excluded_loss`: Nanda et al.'s progress measures for Z_M: the
  logits as functions of (a, b) projected onto (restricted) or off (excluded) the
  directions cos/sin(w_k (a + b)) of the key frequencies.
"""

from __future__ import annotations

import numpy as np

from lmech.data.groups import FiniteGroup
from lmech.errors import InputError

__all__ = [
    "gini",
    "key_classes",
    "neuron_power",
    "restricted_and_excluded_loss",
    "single_irrep_fraction",
    "single_irrep_units",
]


def neuron_power(group: FiniteGroup, W) -> np.ndarray:
    """Power per real class for each hidden unit: W (..., 2M, K) -> (..., K, classes)."""
    W = np.asarray(W, dtype=np.float64)
    M = group.order
    if W.ndim < 2 or W.shape[-2] != 2 * M:
        raise InputError(
            f"W must have 2M = {2 * M} rows (one per one-hot input) in its second-to-last "
            f"axis; got shape {W.shape}"
        )
    u = np.swapaxes(W[..., :M, :], -1, -2)  # (..., K, M)
    v = np.swapaxes(W[..., M:, :], -1, -2)
    return group.power(u) + group.power(v)


def single_irrep_units(
    group: FiniteGroup, power: np.ndarray, threshold: float = 0.9, dead: float = 1e-3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unit (last axis of ``power`` = classes): (single-irrep mask, alive mask,
    dominant non-trivial class).

    A unit is dead when its non-trivial power is below ``dead`` times the largest unit's;
    it is single-irrep when it is alive and its top non-trivial class has more than
    ``threshold`` of its non-trivial power.
    """
    P = np.asarray(power, dtype=np.float64).copy()
    if not 0 < threshold <= 1:
        raise InputError(f"threshold must be in (0, 1]; got {threshold!r}")
    P[..., group.trivial_class()] = 0.0
    total = P.sum(axis=-1)
    alive = total > dead * total.max(axis=-1, keepdims=True)
    share = P.max(axis=-1) / np.where(total > 0, total, 1.0)
    return (share > threshold) & alive, alive, P.argmax(axis=-1)


def single_irrep_fraction(
    group: FiniteGroup, power: np.ndarray, threshold: float = 0.9, dead: float = 1e-3
) -> tuple[float, np.ndarray, np.ndarray]:
    """(fraction, alive mask, dominant class): the share of alive units that are
    single-irrep (:func:`single_irrep_units`; NaN if none is alive)."""
    single, alive, dominant = single_irrep_units(group, power, threshold, dead)
    fraction = single.sum(-1) / np.where(alive.sum(-1) > 0, alive.sum(-1), np.nan)
    return fraction, alive, dominant


def key_classes(group: FiniteGroup, power: np.ndarray, top: int | None = None) -> np.ndarray:
    """Non-trivial classes by decreasing total power over units (the first ``top``)."""
    P = np.asarray(power, dtype=np.float64).reshape(-1, power.shape[-1]).sum(axis=0)
    P[group.trivial_class()] = -np.inf
    order = np.argsort(-P, kind="stable")[: len(P) - 1]
    return order if top is None else order[:top]


def gini(x) -> float:
    """Gini coefficient of a non-negative vector: sum_i (2i - n - 1) x_(i) / (n sum x)."""
    x = np.sort(np.asarray(x, dtype=np.float64).ravel())
    if x.size == 0 or np.any(x < 0) or not np.all(np.isfinite(x)):
        raise InputError("gini needs a non-empty vector of finite values >= 0")
    if x.sum() == 0:
        return 0.0
    i = np.arange(1, x.size + 1)
    return float(((2 * i - x.size - 1) * x).sum() / (x.size * x.sum()))


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


def restricted_and_excluded_loss(
    M: int, logits: np.ndarray, key: list[int], train: np.ndarray
) -> tuple[float, float]:
    """Nanda et al.'s restricted loss (all pairs) and excluded loss (training pairs), Z_M.

    ``logits``: (M^2, M) for the pairs a-major (index a M + b). For each output c the
    M x M grid L_c(a, b) is split by its 2-D DFT: the restricted logits keep the
    components at frequencies (k, k) and (-k, -k) for k in ``key`` (the span of
    cos/sin(w_k (a + b))) plus the constant; the excluded logits are the rest. Losses are
    cross-entropy against c = a + b mod M.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.shape != (M * M, M):
        raise InputError(f"logits must have shape (M^2, M) = {(M * M, M)}; got {logits.shape}")
    grid = logits.T.reshape(M, M, M)  # (c, a, b)
    F = np.fft.fft2(grid, axes=(1, 2))
    keep = np.zeros((M, M), bool)
    keep[0, 0] = True
    for k in key:
        keep[k % M, k % M] = True
        keep[-k % M, -k % M] = True
    restricted = np.fft.ifft2(F * keep, axes=(1, 2)).real.reshape(M, M * M).T
    excluded_keep = keep.copy()
    excluded_keep[0, 0] = False
    excluded = np.fft.ifft2(F * ~excluded_keep, axes=(1, 2)).real.reshape(M, M * M).T
    a, b = np.divmod(np.arange(M * M), M)
    c = (a + b) % M
    train = np.asarray(train)
    return _cross_entropy(restricted, c), _cross_entropy(excluded[train], c[train])
