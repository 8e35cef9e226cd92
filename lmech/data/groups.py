r"""Finite groups as datasets: multiplication tables, all pairs, splits, irreducible representations.

A :class:`FiniteGroup` of order M has elements 0..M-1, a table ``table[a, b] = a * b`` and
its complex irreducible unitary representations :math:`\rho: G \to U(d_\rho)`, stored as
arrays of shape (M, d, d). The Fourier transform of a function f on G is
:math:`\hat f(\rho) = \sum_g f(g) \rho(g)` and Plancherel reads

.. math:: \sum_g |f(g)|^2 = \frac{1}{M} \sum_\rho d_\rho \|\hat f(\rho)\|_F^2 .

:meth:`FiniteGroup.power` returns the per-irrep terms, grouped into *real classes*: an
irrep together with its complex conjugate when the two differ (for Z_M, frequencies k
and M - k form "frequency k"), so a real function's power splits over real classes.

Groups offered (:func:`get_group` parses their names):

- ``Z{M}``: cyclic, a * b = a + b mod M; irreps chi_k(a) = exp(2 pi i k a / M);
- ``Z{m}xZ{n}x...``: direct products, element (g_1, g_2, ...) in mixed radix; irreps are
  Kronecker products of the factors' irreps;
- ``D{n}`` (n >= 3): dihedral of order 2n, element r^j s^e -> j + n e; irreps: trivial,
  sign, (n even) two more 1-dim, and the 2-dim rho_k(r) = rotation by 2 pi k / n,
  rho_k(s) = diag(1, -1), k = 1..floor((n - 1) / 2);
- ``S3``, ``S4``: symmetric groups, elements the permutations in lexicographic order,
  (p q)(i) = p(q(i)); irreps: trivial, sign, the standard representation (permutation
  matrices on the sum-zero subspace), for S4 also standard x sign and the 2-dim irrep
  through S4 -> S3 (the action on the three pairings of {0, 1, 2, 3}).

Each group's irreps are checked at construction (``tests/data/test_groups.py`` checks
homomorphism, unitarity, Schur orthogonality and Plancherel for every group).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field

import numpy as np

from lmech.errors import InputError

__all__ = [
    "FiniteGroup",
    "Irrep",
    "cyclic",
    "dihedral",
    "get_group",
    "product",
    "symmetric",
    "train_test_split",
]


@dataclass(frozen=True)
class Irrep:
    """One complex irreducible unitary representation: ``matrices[g]`` is rho(g), (d, d)."""

    name: str
    matrices: np.ndarray  # (M, d, d) complex128
    real_type: bool  # rho equals its complex conjugate (up to the stored basis)

    @property
    def dim(self) -> int:
        return self.matrices.shape[1]


@dataclass(frozen=True, eq=False)
class FiniteGroup:
    """A finite group with its multiplication table and irreps (see the module docstring)."""

    name: str
    table: np.ndarray  # (M, M) int64
    irreps: tuple[Irrep, ...]
    real_classes: tuple[tuple[int, ...], ...] = field(default=())  # irrep indices per class

    def __post_init__(self) -> None:
        if not self.real_classes:
            object.__setattr__(self, "real_classes", _real_classes(self.irreps))

    @property
    def order(self) -> int:
        return self.table.shape[0]

    @property
    def identity(self) -> int:
        return int(np.nonzero((self.table == np.arange(self.order)[None, :]).all(axis=1))[0][0])

    @property
    def inverse(self) -> np.ndarray:
        return np.argmax(self.table == self.identity, axis=1)

    @property
    def abelian(self) -> bool:
        return bool((self.table == self.table.T).all())

    @property
    def class_names(self) -> list[str]:
        return ["/".join(self.irreps[i].name for i in c) for c in self.real_classes]

    @property
    def class_dims(self) -> np.ndarray:
        return np.array([self.irreps[c[0]].dim for c in self.real_classes])

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All M^2 pairs (a, b) and their products c = a * b, a-major."""
        a, b = np.divmod(np.arange(self.order**2), self.order)
        return a, b, self.table[a, b]

    def fourier(self, f: np.ndarray) -> list[np.ndarray]:
        """hat f(rho) = sum_g f(g) rho(g) for each irrep; f has shape (..., M)."""
        f = np.asarray(f)
        return [np.einsum("...g,gij->...ij", f, r.matrices) for r in self.irreps]

    def power(self, f: np.ndarray) -> np.ndarray:
        """Power of f per real class, shape (..., classes); sums to sum_g |f(g)|^2."""
        f = np.asarray(f)
        per_irrep = [
            r.dim * (np.abs(fh) ** 2).sum(axis=(-2, -1)) / self.order
            for r, fh in zip(self.irreps, self.fourier(f), strict=True)
        ]
        return np.stack([sum(per_irrep[i] for i in c) for c in self.real_classes], axis=-1)

    def trivial_class(self) -> int:
        """Index of the real class of the trivial irrep."""
        for k, c in enumerate(self.real_classes):
            for i in c:
                if np.allclose(self.irreps[i].matrices, 1.0):
                    return k
        raise AssertionError("no trivial irrep")  # pragma: no cover


def _real_classes(irreps) -> tuple[tuple[int, ...], ...]:
    """Pair each irrep with its complex conjugate (matched by character)."""
    chars = [np.trace(r.matrices, axis1=1, axis2=2) for r in irreps]
    seen: set[int] = set()
    classes = []
    for i, chi in enumerate(chars):
        if i in seen:
            continue
        partner = next(
            (
                j
                for j in range(i + 1, len(chars))
                if j not in seen and np.allclose(chars[j], chi.conj())
            ),
            None,
        )
        if partner is not None and not np.allclose(chi, chi.conj()):
            classes.append((i, partner))
            seen.update((i, partner))
        else:
            classes.append((i,))
            seen.add(i)
    return tuple(classes)


def _check_order(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def cyclic(M: int) -> FiniteGroup:
    """Z_M (M >= 2): a * b = a + b mod M, irreps chi_k(a) = exp(2 pi i k a / M)."""
    M = _check_order(M, "the order M of Z_M", 2)
    g = np.arange(M)
    table = (g[:, None] + g[None, :]) % M
    irreps = tuple(
        Irrep(f"k={k}", np.exp(2j * np.pi * k * g / M)[:, None, None], real_type=(2 * k) % M == 0)
        for k in range(M)
    )
    return FiniteGroup(f"Z{M}", table, irreps)


def product(*groups: FiniteGroup) -> FiniteGroup:
    """Direct product; element (g_1, ..., g_r) has index in mixed radix (last fastest)."""
    if len(groups) < 2:
        raise InputError(f"a direct product needs at least two groups; got {len(groups)}")
    out = groups[0]
    for h in groups[1:]:
        m, n = out.order, h.order
        a1, a2 = np.divmod(np.arange(m * n), n)
        table = out.table[a1[:, None], a1[None, :]] * n + h.table[a2[:, None], a2[None, :]]
        irreps = tuple(
            Irrep(
                f"{r.name},{s.name}",
                np.einsum("gij,gkl->gikjl", r.matrices[a1], s.matrices[a2]).reshape(
                    m * n, r.dim * s.dim, r.dim * s.dim
                ),
                real_type=r.real_type and s.real_type,
            )
            for r in out.irreps
            for s in h.irreps
        )
        out = FiniteGroup(f"{out.name}x{h.name}", table, irreps)
    return out


def _rotation(theta: np.ndarray) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def dihedral(n: int) -> FiniteGroup:
    """D_n (n >= 3), order 2n: element r^j s^e has index j + n e; r s = s r^{-1}."""
    n = _check_order(n, "n of the dihedral group D_n", 3)
    j, e = np.arange(2 * n) % n, np.arange(2 * n) // n
    # (r^j s^e)(r^k s^f) = r^{j + (-1)^e k} s^{e + f}
    jj = (j[:, None] + np.where(e[:, None] == 1, -1, 1) * j[None, :]) % n
    table = jj + n * ((e[:, None] + e[None, :]) % 2)
    irreps = [
        Irrep("trivial", np.ones((2 * n, 1, 1), complex), True),
        Irrep("sign", np.where(e == 1, -1.0, 1.0)[:, None, None].astype(complex), True),
    ]
    if n % 2 == 0:
        alt = (-1.0) ** j
        irreps.append(Irrep("r-alt", alt[:, None, None].astype(complex), True))
        irreps.append(
            Irrep(
                "r-alt,sign",
                (alt * np.where(e == 1, -1.0, 1.0))[:, None, None].astype(complex),
                True,
            )
        )
    flip = np.diag([1.0, -1.0])
    for k in range(1, (n - 1) // 2 + 1):
        mats = _rotation(2 * np.pi * k * j / n)
        mats = np.where(e[:, None, None] == 1, mats @ flip, mats)
        irreps.append(Irrep(f"rho{k}", mats.astype(complex), True))
    return FiniteGroup(f"D{n}", table, tuple(irreps))


def _perm_matrix(p) -> np.ndarray:
    m = np.zeros((len(p), len(p)))
    m[list(p), range(len(p))] = 1.0  # e_i -> e_{p(i)}
    return m


def _sum_zero_basis(n: int) -> np.ndarray:
    """Orthonormal basis (n, n - 1) of the vectors with zero sum (Helmert)."""
    basis = np.zeros((n, n - 1))
    for k in range(1, n):
        basis[:k, k - 1] = 1.0
        basis[k, k - 1] = -k
        basis[:, k - 1] /= math.sqrt(k * (k + 1))
    return basis


def _sign(p) -> float:
    inv = sum(1 for i in range(len(p)) for k in range(i + 1, len(p)) if p[i] > p[k])
    return -1.0 if inv % 2 else 1.0


def symmetric(n: int) -> FiniteGroup:
    """S_n for n in {3, 4}: permutations in lexicographic order, (p q)(i) = p(q(i))."""
    n = _check_order(n, "n of the symmetric group S_n", 3)
    if n > 4:
        raise InputError(f"symmetric groups are offered for n = 3 and 4 (explicit irreps); got {n}")
    perms = list(itertools.permutations(range(n)))
    index = {p: i for i, p in enumerate(perms)}
    table = np.array([[index[tuple(p[q[i]] for i in range(n))] for q in perms] for p in perms])
    sign = np.array([_sign(p) for p in perms])
    B = _sum_zero_basis(n)
    standard = np.stack([B.T @ _perm_matrix(p) @ B for p in perms])
    irreps = [
        Irrep("trivial", np.ones((len(perms), 1, 1), complex), True),
        Irrep("sign", sign[:, None, None].astype(complex), True),
        Irrep("standard", standard.astype(complex), True),
    ]
    if n == 4:
        irreps.append(
            Irrep("standard,sign", (standard * sign[:, None, None]).astype(complex), True)
        )
        pairings = [((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))]

        def on_pairings(p):
            moved = [
                tuple(sorted(tuple(sorted((p[a], p[b]))) for a, b in pairing))
                for pairing in pairings
            ]
            return tuple(pairings.index(m) for m in moved)

        B3 = _sum_zero_basis(3)
        two = np.stack([B3.T @ _perm_matrix(on_pairings(p)) @ B3 for p in perms])
        irreps.append(Irrep("two", two.astype(complex), True))
    return FiniteGroup(f"S{n}", table, tuple(irreps))


_NAME = re.compile(r"^(Z|D|S)(\d+)$")


def get_group(name: str) -> FiniteGroup:
    """A group by name: ``Z23``, ``Z2xZ3xZ4``, ``D5``, ``S3``, ``S4`` (case-insensitive)."""
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"group name must be a string like 'Z23', 'D5', 'S4'; got {name!r}")
    parts = [p.strip().upper() for p in name.split("x" if "x" in name else "X")]
    groups = []
    for part in parts:
        m = _NAME.match(part)
        if m is None:
            raise InputError(
                f"unknown group {name!r}; expected Z<M> (cyclic), D<n> (dihedral), S3, S4, or "
                "a product like Z2xZ3"
            )
        kind, k = m.group(1), int(m.group(2))
        groups.append({"Z": cyclic, "D": dihedral, "S": symmetric}[kind](k))
    return groups[0] if len(groups) == 1 else product(*groups)


def train_test_split(
    group: FiniteGroup, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the M^2 pairs (a-major, as :meth:`FiniteGroup.pairs`): a seeded random
    ``round(fraction M^2)`` for training (at least 1), the rest for testing."""
    if not (isinstance(fraction, (int, float)) and 0.0 < fraction < 1.0):
        raise InputError(f"training fraction must be in (0, 1); got {fraction!r}")
    total = group.order**2
    n = min(total - 1, max(1, round(fraction * total)))
    perm = np.random.default_rng(seed).permutation(total)
    return np.sort(perm[:n]), np.sort(perm[n:])
