r"""CoGS: the semiring of two-layer quadratic networks on modular addition (Tian 2025).

A network z on Z_d with hidden width q has, for each hidden node j, input vectors
u_{a,j}, u_{b,j} in C^d and an output vector w_j in C^d; its output on the pair (g1, g2)
at class c is

.. math:: o[g_1, g_2, c] = \sum_j w_j[c]\,(u_{a,j}[g_1] + u_{b,j}[g_2])^2 .

Fourier coefficients (omega = e^{2 pi i / d}; the output layer has the opposite sign):

.. math:: z_{a,k,j} = \tfrac1d \sum_g u_{a,j}[g]\,\omega^{-kg},\qquad
          z_{c,k,j} = \tfrac1d \sum_g w_j[g]\,\omega^{+kg}.

Sum potentials (Tian, Sec. 3-4), each a sum over hidden nodes of a product of per-node
coefficients:

.. math:: r_{k_1 k_2 k}(z) = \sum_j z_{a,k_1,j} z_{b,k_2,j} z_{c,k,j},\qquad
          r_{p k_1 k_2 k}(z) = \sum_j z_{p,k_1,j} z_{p,k_2,j} z_{c,k,j}\ (p \in \{a, b\}).

(For real weights z_{p,-m} = conj(z_{p,m}), so r_{p,k',p'-k',k} is the
"r_{p' k' k}" with a conjugate of the paper's earlier notation.) The semiring
(Tian, Sec. 4): ``z1 + z2`` concatenates hidden nodes, ``z1 * z2`` is the Kronecker
product along the hidden dimension (node (j1, j2) has coefficients
z1_{.,k,j1} z2_{.,k,j2} for a, b and c and every k; in weight space a circular
convolution divided by d). Every sum potential is then a ring homomorphism to C.
Identities: :meth:`CoGSNet.zero` (no nodes) and :meth:`CoGSNet.one` (one node with every
coefficient 1, i.e. u_a = u_b = w = d e_0).

Loss (the projected MSE against the centred one-hot target e_{g1+g2} - 1/d, summed
over classes, averaged over all d^2 pairs), by Parseval [derived; tested against the
direct evaluation]:

.. math:: \ell = d \sum_{k \ne 0} \sum_{k_1,k_2} |O(k_1,k_2,k) - \tfrac1d [k_1=k_2=k]|^2,
          \quad O = 2 r_{k_1 k_2 k} + [k_2=0] \sum_{m+n \equiv k_1} r_{a m n k}
                    + [k_1=0] \sum_{m+n \equiv k_2} r_{b m n k}.

Constructions (Tian, Sec. 5), for any odd d, one block per frequency k = 1..(d-1)/2
placed at +k with its conjugate at -k:

- order 6: z_syn * z_nu (6 nodes per frequency, width 3(d-1)), zero loss;
- order 6, variant: z_{nu=i} * z_{syn,alpha beta} (6 nodes), where z_{syn,alpha beta} =
  (1,1,1), (alpha w, w/alpha, w), (beta w^2, w^2/beta, w^2) for unit alpha, beta
  [derived: z_{nu=i} zeroes abar b c, a bbar c, aac, bbc, abar abar c, bbar bbar c, and
  any unit alpha, beta keep sum |a|^2 c = sum |b|^2 c = sum abar bbar c = 0 on the
  order-3 factor]; alpha = beta = 1 is z_syn;
- order-4/6 mixture: z_{nu=i} * z_xi (4 nodes) at some frequencies, order 6 at the
  others. The order-4 blocks zero R_c and R_* but leave
  R_n = sum_j (|a_j|^2 + |b_j|^2) c_j != 0 (an input-independent output 2 R_n at
  frequency k). An order-6 block at another frequency k' can cancel it [derived here;
  it is how trained networks do it, see cogs-factorization]: give its nodes an extra
  output coefficient e_j at frequency k with sum_j v_j e_j = 0 for the eight products
  v in {ab, abar b, a bbar, abar bbar, aa, bb, abar abar, bbar bbar} of the node's
  frequency-k' inputs (every output term at (+-k', +-k', k) and (+-2k', 0, k)) and
  sum_j 2 (|a_j|^2 + |b_j|^2) e_j = -2 R_n (the term at (0, 0, k)). For z_syn * z_nu this
  has the solution e = (1,1,1) (x) (|nu|^2, 1) g (the z_syn sums of w^{+-m}, w^{+-2m}
  vanish; the z_nu factor leaves two equations in two unknowns), so one order-6 block
  carries the cancellation for every order-4 frequency (:func:`rn_carrier`); width
  4 n4 + 6 n6 with n6 >= 1 and no extra node. (``cancel="constant_node"`` instead adds
  one node with constant input u_a = 1, u_b = 0 whose output cancels the term: width
  4 n4 + 6 n6 + 1, also derived here.);
- perfect memorization: d^2 nodes per frequency, a = omega^m, b = omega^n,
  c ~ omega^{-(m+n)} over (m, n) in Z_d^2 [derived; every constraint sum is a character
  sum that vanishes for odd d]: width d^2 (d-1)/2.

Source: Y. Tian, "Composing Global Solutions to Reasoning Tasks via Algebraic Objects in
Neural Nets" (CoGS), arXiv 2410.01779 v4 (NeurIPS 2025), Sec. 3 (loss decoupling),
Sec. 4 (semiring, Thm. on sum potentials as ring homomorphisms), Sec. 5 (constructions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lmech._memory import check_allocation
from lmech.errors import InputError

__all__ = [
    "CoGSNet",
    "block_constraints",
    "block_net",
    "block_product",
    "classify_factors",
    "classify_order3",
    "check_modulus",
    "direct_loss",
    "fourier_coefficients",
    "fourier_loss",
    "memorization_solution",
    "order4_block",
    "order6_block",
    "order46_solution",
    "order6_solution",
    "order6_ab_block",
    "output_fourier",
    "predicted_width",
    "rn_carrier",
    "random_net",
    "sum_potentials",
    "sum_potentials_square",
    "syn_block",
    "syn_ab_block",
    "nu_block",
    "nu_i_block",
    "xi_block",
]

_W3 = np.exp(2j * np.pi / 3)


def check_modulus(d: int, *, odd: bool = False) -> int:
    """d as an int >= 2 (odd and >= 3 when ``odd``); an InputError otherwise."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
        raise InputError(f"modulus d must be an int, got {type(d).__name__} {d!r}")
    d = int(d)
    if d < 2:
        raise InputError(f"modulus d must be >= 2, got {d}")
    if odd and (d % 2 == 0 or d < 3):
        raise InputError(
            f"this construction needs an odd modulus d >= 3 (for even d the frequencies k and "
            f"-k coincide at d/2 and the constraint sums no longer vanish), got d = {d}; use an "
            f"odd d such as {d + 1}"
        )
    return d


def _as_weights(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise InputError(
            f"{name} must be a (q, d) array (one row per hidden node), got shape {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_):
        raise InputError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.complex128 if np.iscomplexobj(arr) else np.float64)
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or inf")
    return arr


@dataclass(frozen=True, eq=False)
class CoGSNet:
    """Two-layer quadratic network on Z_d: weights ``ua``, ``ub``, ``w``, each (q, d).

    Row j of ``ua`` / ``ub`` is hidden node j's input vector for the first / second
    operand; row j of ``w`` its output vector over the d classes. q = 0 is allowed only
    as the additive identity (:meth:`zero`).
    """

    ua: np.ndarray
    ub: np.ndarray
    w: np.ndarray

    def __post_init__(self) -> None:
        ua, ub, w = (
            _as_weights(x, n) for x, n in ((self.ua, "ua"), (self.ub, "ub"), (self.w, "w"))
        )
        if not (ua.shape == ub.shape == w.shape):
            raise InputError(
                f"ua, ub, w must share the shape (q, d), got {ua.shape}, {ub.shape}, {w.shape}"
            )
        check_modulus(ua.shape[1])
        object.__setattr__(self, "ua", ua)
        object.__setattr__(self, "ub", ub)
        object.__setattr__(self, "w", w)

    @property
    def d(self) -> int:
        return int(self.ua.shape[1])

    @property
    def width(self) -> int:
        return int(self.ua.shape[0])

    @classmethod
    def zero(cls, d: int) -> CoGSNet:
        """Additive identity: the network with no hidden nodes."""
        d = check_modulus(d)
        e = np.zeros((0, d))
        return cls(e, e, e)

    @classmethod
    def one(cls, d: int) -> CoGSNet:
        """Multiplicative identity: one node with every Fourier coefficient equal to 1."""
        d = check_modulus(d)
        e = np.zeros((1, d))
        e[0, 0] = d
        return cls(e, e.copy(), e.copy())

    @classmethod
    def from_fourier(cls, za, zb, zc) -> CoGSNet:
        """The network whose Fourier coefficients (q, d) are ``za``, ``zb``, ``zc``."""
        za, zb, zc = (np.asarray(x, dtype=np.complex128) for x in (za, zb, zc))
        if za.ndim != 2 or not (za.shape == zb.shape == zc.shape):
            raise InputError(
                f"za, zb, zc must share the shape (q, d), got {za.shape}, {zb.shape}, {zc.shape}"
            )
        d = za.shape[1]
        # u[g] = sum_k z_k omega^{kg} = d ifft(z); w[g] = sum_k z_{c,k} omega^{-kg} = fft(z_c)
        return cls(d * np.fft.ifft(za, axis=1), d * np.fft.ifft(zb, axis=1), np.fft.fft(zc, axis=1))

    def fourier(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(z_a, z_b, z_c), each (q, d) complex, index [j, k]."""
        d = self.d
        return (
            np.fft.fft(self.ua, axis=1) / d,
            np.fft.fft(self.ub, axis=1) / d,
            np.fft.ifft(self.w, axis=1),
        )

    def real_part(self) -> CoGSNet:
        """The network with the imaginary parts dropped (exact for conjugate-symmetric blocks)."""
        return CoGSNet(self.ua.real.copy(), self.ub.real.copy(), self.w.real.copy())

    def is_real(self, tol: float = 1e-12) -> bool:
        scale = max(1.0, *(float(np.abs(x).max(initial=0.0)) for x in (self.ua, self.ub, self.w)))
        return all(
            float(np.abs(np.imag(x)).max(initial=0.0)) <= tol * scale
            for x in (self.ua, self.ub, self.w)
        )

    def _same_d(self, other: object) -> CoGSNet:
        if not isinstance(other, CoGSNet):
            raise InputError(
                f"CoGS operations combine two CoGSNet objects, got {type(other).__name__}"
            )
        if other.d != self.d:
            raise InputError(
                f"CoGS operations need the same modulus, got d = {self.d} and d = {other.d}"
            )
        return other

    def __add__(self, other: CoGSNet) -> CoGSNet:
        """Ring addition: concatenate the hidden nodes."""
        other = self._same_d(other)
        return CoGSNet(
            *(np.concatenate([x, y]) for x, y in zip(self._w(), other._w(), strict=True))
        )

    def __mul__(self, other: CoGSNet) -> CoGSNet:
        """Ring multiplication: Kronecker product along the hidden dimension (node (j1, j2))."""
        other = self._same_d(other)
        q = self.width * other.width
        check_allocation(3 * 16 * q * self.d, f"the product of widths {self.width} x {other.width}")
        f1, f2 = self.fourier(), other.fourier()
        za, zb, zc = (
            (x[:, None, :] * y[None, :, :]).reshape(q, self.d) for x, y in zip(f1, f2, strict=True)
        )
        out = CoGSNet.from_fourier(za, zb, zc)
        if self.is_real() and other.is_real():
            out = out.real_part()
        return out

    def scaled(self, s: complex) -> CoGSNet:
        """Every Fourier coefficient of a, b and c times s (so each r scales by s^3)."""
        return CoGSNet(self.ua * s, self.ub * s, self.w * s)

    def _w(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.ua, self.ub, self.w

    def outputs(self) -> np.ndarray:
        """o[g1, g2, c] on all d^2 input pairs, by direct evaluation (brute force)."""
        d, q = self.d, self.width
        check_allocation(16 * (d * d * q + d**3), f"the direct evaluation (d = {d}, q = {q})")
        h = self.ua[:, :, None] + self.ub[:, None, :]  # (q, g1, g2)
        return np.einsum("jxy,jc->xyc", h * h, self.w)


def random_net(d: int, q: int, rng: np.random.Generator, *, scale: float = 1.0) -> CoGSNet:
    """A real network with i.i.d. N(0, scale^2) weights, width q >= 1."""
    d = check_modulus(d)
    if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or q < 1:
        raise InputError(f"hidden width q must be an int >= 1, got {q!r}")
    if not (scale > 0 and np.isfinite(scale)):
        raise InputError(f"scale must be a positive finite number, got {scale!r}")
    return CoGSNet(*(scale * rng.standard_normal((int(q), d)) for _ in range(3)))


def fourier_coefficients(net: CoGSNet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z_a, z_b, z_c) of ``net``, each (q, d)."""
    return net.fourier()


def sum_potentials(net: CoGSNet) -> np.ndarray:
    """r_{k1 k2 k} as a (d, d, d) complex array, index [k1, k2, k]."""
    za, zb, zc = net.fourier()
    check_allocation(16 * net.d**3, f"the (d, d, d) sum-potential tensor, d = {net.d}")
    return np.einsum("jx,jy,jz->xyz", za, zb, zc, optimize=True)


def sum_potentials_square(net: CoGSNet, p: str) -> np.ndarray:
    """r_{p k1 k2 k} (p = 'a' or 'b') as a (d, d, d) complex array, index [k1, k2, k]."""
    if p not in ("a", "b"):
        raise InputError(f"p must be 'a' or 'b' (the input layer), got {p!r}")
    za, zb, zc = net.fourier()
    zp = za if p == "a" else zb
    check_allocation(16 * net.d**3, f"the (d, d, d) sum-potential tensor, d = {net.d}")
    return np.einsum("jx,jy,jz->xyz", zp, zp, zc, optimize=True)


def _fold(rp: np.ndarray) -> np.ndarray:
    """S[k1, k] = sum_{m + n = k1 mod d} rp[m, n, k]."""
    d = rp.shape[0]
    s = np.zeros((d, d), dtype=np.complex128)
    m = np.arange(d)
    for n in range(d):
        np.add.at(s, (m + n) % d, rp[:, n, :])
    return s


def output_fourier(net: CoGSNet) -> np.ndarray:
    """O(k1, k2, k) of the output from the sum potentials (the algebra's side)."""
    o = 2.0 * sum_potentials(net)
    o[:, 0, :] += _fold(sum_potentials_square(net, "a"))
    o[0, :, :] += _fold(sum_potentials_square(net, "b"))
    return o


def output_fourier_direct(net: CoGSNet) -> np.ndarray:
    """O(k1, k2, k) by a DFT of the directly evaluated outputs (brute force)."""
    o = net.outputs()
    d = net.d
    # O = (1/d^3) sum o[x, y, c] omega^{-(k1 x + k2 y - k c)}
    return np.fft.ifft(np.fft.fft(np.fft.fft(o, axis=0), axis=1), axis=2) / d**2


def _target_fourier(d: int) -> np.ndarray:
    t = np.zeros((d, d, d), dtype=np.complex128)
    k = np.arange(1, d)
    t[k, k, k] = 1.0 / d
    return t


def fourier_loss(net: CoGSNet) -> float:
    """The loss from the sum potentials: d sum_{k != 0} |O - T|^2."""
    d = net.d
    diff = output_fourier(net) - _target_fourier(d)
    return float(d * np.sum(np.abs(diff[:, :, 1:]) ** 2))


def direct_loss(net: CoGSNet) -> float:
    """Projected MSE on all d^2 pairs by direct evaluation: mean_{pairs} sum_c |P o - y|^2."""
    d = net.d
    o = net.outputs()
    po = o - o.mean(axis=2, keepdims=True)
    g = np.arange(d)
    y = np.zeros((d, d, d))
    y[g[:, None], g[None, :], (g[:, None] + g[None, :]) % d] = 1.0
    y -= 1.0 / d
    return float(np.mean(np.sum(np.abs(po - y) ** 2, axis=2)))


# ----------------------------------------------------------------------------- blocks


def _block(a, b, c) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b, c = (np.atleast_1d(np.asarray(x, dtype=np.complex128)) for x in (a, b, c))
    if a.ndim != 1 or not (a.shape == b.shape == c.shape) or a.size < 1:
        raise InputError(
            f"a block is three equal-length 1-D coefficient lists, got shapes {a.shape}, {b.shape}, {c.shape}"
        )
    return a, b, c


def syn_block() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z_syn: (1,1,1), (w,w,w), (w^2,w^2,w^2), w = e^{2 pi i/3} (order 3)."""
    w = _W3 ** np.arange(3)
    return w, w.copy(), w.copy()


def syn_ab_block(alpha: complex, beta: complex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z_{syn,alpha beta}: (1,1,1), (alpha w, w/alpha, w), (beta w^2, w^2/beta, w^2), |alpha| = |beta| = 1."""
    alpha, beta = complex(alpha), complex(beta)
    for name, x in (("alpha", alpha), ("beta", beta)):
        if not (np.isfinite(x) and abs(abs(x) - 1) < 1e-9):
            raise InputError(f"{name} must be a unit complex number (a phase), got {x!r}")
    w = _W3 ** np.arange(3)
    ph = np.array([1, alpha, beta])
    return ph * w, w / ph, w.copy()


def nu_block(nu: complex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z_nu: (1,1,1), (nu, -nu, -1/nu^2) (order 2; abc = 1 on each node)."""
    nu = complex(nu)
    if nu == 0 or not np.isfinite(nu):
        raise InputError(f"nu must be a nonzero finite complex number, got {nu!r}")
    return np.array([1, nu]), np.array([1, -nu]), np.array([1, -1 / nu**2])


def nu_i_block() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z_{nu=i}: (1,1,1), (i, -i, 1)."""
    return nu_block(1j)


def xi_block(xi: complex, sign: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z_xi: (1,1,1), (xi, 1/(xi c1), c1) with c1 = sign * i (order 2; abc = 1)."""
    xi = complex(xi)
    if xi == 0 or not np.isfinite(xi):
        raise InputError(f"xi must be a nonzero finite complex number, got {xi!r}")
    if sign not in (1, -1):
        raise InputError(f"sign must be +1 or -1, got {sign!r}")
    c1 = sign * 1j
    return np.array([1, xi]), np.array([1, 1 / (xi * c1)]), np.array([1, c1])


def block_product(x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kronecker product of two blocks (node (j1, j2) = elementwise product)."""
    x, y = _block(*x), _block(*y)
    return tuple(np.outer(u, v).ravel() for u, v in zip(x, y, strict=True))  # type: ignore[return-value]


def order6_block(nu: complex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z_syn * z_nu: 6 nodes."""
    return block_product(syn_block(), nu_block(nu))


def order6_ab_block(alpha: complex, beta: complex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z_{nu=i} * z_{syn,alpha beta}: 6 nodes (the order-6 variant)."""
    return block_product(nu_i_block(), syn_ab_block(alpha, beta))


def order4_block(xi: complex, sign: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z_{nu=i} * z_xi: 4 nodes."""
    return block_product(nu_i_block(), xi_block(xi, sign))


def block_constraints(a, b, c) -> dict[str, complex]:
    """The constraint sums of one frequency block (Tian, Sec. 5: R_c, R_n, R_*)."""
    a, b, c = _block(a, b, c)
    ac, bc_ = np.conj(a), np.conj(b)
    return {
        "abc": np.sum(a * b * c),
        "abar_b_c": np.sum(ac * b * c),
        "a_bbar_c": np.sum(a * bc_ * c),
        "abar_bbar_c": np.sum(ac * bc_ * c),
        "aac": np.sum(a * a * c),
        "bbc": np.sum(b * b * c),
        "abar_abar_c": np.sum(ac * ac * c),
        "bbar_bbar_c": np.sum(bc_ * bc_ * c),
        "R_n": np.sum((np.abs(a) ** 2 + np.abs(b) ** 2) * c),
    }


def _normalized(a, b, c, target: complex):
    """Scale a block so that sum abc = target: a, b by s > 0, c by the rest."""
    a, b, c = _block(a, b, c)
    s_abc = np.sum(a * b * c)
    if abs(s_abc) == 0:
        raise InputError("the block has sum abc = 0 and cannot be scaled to the target")
    ratio = target / s_abc
    s = abs(ratio) ** (1 / 3)
    return a * s, b * s, c * (ratio / s**2)


def block_net(d: int, k: int, a, b, c) -> CoGSNet:
    """The placement y_k: a block at frequency k with its conjugate at -k (real weights)."""
    d = check_modulus(d, odd=True)
    if not (1 <= int(k) <= (d - 1) // 2):
        raise InputError(f"frequency k must be in 1..{(d - 1) // 2} for d = {d}, got {k}")
    a, b, c = _block(a, b, c)
    q = a.size
    za, zb, zc = (np.zeros((q, d), dtype=np.complex128) for _ in range(3))
    for z, v in ((za, a), (zb, b), (zc, c)):
        z[:, k] = v
        z[:, d - k] = np.conj(v)
    return CoGSNet.from_fourier(za, zb, zc).real_part()


def _frequencies(d: int) -> range:
    return range(1, (d - 1) // 2 + 1)


def order6_solution(d: int, nus: Sequence[complex] | None = None) -> CoGSNet:
    """z_F6: 6^{-1/3}-scaled z_syn * z_nu at every frequency, r_kkk = 1/(2d); width 3(d-1)."""
    d = check_modulus(d, odd=True)
    ks = _frequencies(d)
    nus = [1.0] * len(ks) if nus is None else list(nus)
    if len(nus) != len(ks):
        raise InputError(f"need one nu per frequency 1..{len(ks)} for d = {d}, got {len(nus)}")
    net = CoGSNet.zero(d)
    for k, nu in zip(ks, nus, strict=True):
        net = net + block_net(d, k, *_normalized(*order6_block(nu), 1 / (2 * d)))
    return net


def rn_carrier(a, b) -> np.ndarray:
    """Output coefficients e (one per node) of a frequency-k' block that add 1 to the
    input-independent output coefficient O(0, 0, k) at another frequency k and nothing else.

    Solves sum_j v_j e_j = 0 for v in {ab, abar b, a bbar, abar bbar, aa, bb, abar abar,
    bbar bbar} and sum_j 2 (|a_j|^2 + |b_j|^2) e_j = 1 (minimum norm); an InputError when
    the block cannot carry it (e.g. order-4 blocks; order-6 blocks can, see the module
    docstring).
    """
    a, b, _ = _block(a, b, np.ones_like(np.asarray(a)))
    ac, bc_ = np.conj(a), np.conj(b)
    A = np.stack([a * b, ac * b, a * bc_, ac * bc_, a * a, b * b, ac * ac, bc_ * bc_,
                  2 * (np.abs(a) ** 2 + np.abs(b) ** 2)])  # fmt: skip
    rhs = np.zeros(9, dtype=np.complex128)
    rhs[-1] = 1.0
    e = np.linalg.lstsq(A, rhs, rcond=None)[0]
    if np.abs(A @ e - rhs).max() > 1e-9:
        raise InputError(
            f"a block of {a.size} nodes cannot carry the R_n cancellation (residual "
            f"{np.abs(A @ e - rhs).max():.1e}); use an order-6 block (z_syn * z_nu) as carrier"
        )
    return e


def order46_solution(
    d: int,
    order4: Sequence[bool],
    params: Sequence[complex] | None = None,
    cancel: str = "order6",
) -> CoGSNet:
    """Order 4 (z_{nu=i} * z_xi) where ``order4[k-1]``, order 6 (z_syn * z_nu) elsewhere.

    ``params`` holds xi (order 4) or nu (order 6) per frequency (default 1). The order-4
    blocks leave R_n = sum_j (|a_j|^2 + |b_j|^2) c_j; with ``cancel="order6"`` (default)
    the first order-6 block carries output coefficients at every order-4 frequency that
    cancel it (:func:`rn_carrier`), width 4 n4 + 6 n6, needing n6 >= 1 when n4 >= 1; with
    ``cancel="constant_node"`` one extra node (u_a = 1, u_b = 0) does, width 4 n4 + 6 n6 + 1.
    """
    d = check_modulus(d, odd=True)
    ks = _frequencies(d)
    order4 = [bool(x) for x in order4]
    if len(order4) != len(ks):
        raise InputError(
            f"need one order-4 flag per frequency 1..{len(ks)} for d = {d}, got {len(order4)}"
        )
    params = [1.0] * len(ks) if params is None else list(params)
    if len(params) != len(ks):
        raise InputError(
            f"need one parameter per frequency 1..{len(ks)} for d = {d}, got {len(params)}"
        )
    if cancel not in ("order6", "constant_node"):
        raise InputError(f"cancel must be 'order6' or 'constant_node', got {cancel!r}")
    if cancel == "order6" and any(order4) and all(order4):
        raise InputError(
            f"the order-4/6 mixture cancels the order-4 blocks' R_n term with an order-6 block, "
            f"but all {len(ks)} frequencies are order 4; make one order 6, or pass "
            "cancel='constant_node'"
        )
    blocks, rn = [], np.zeros(d, dtype=np.complex128)  # rn[k]: the term to cancel at +k
    for k, is4, p in zip(ks, order4, params, strict=True):
        a, b, c = _normalized(*(order4_block(p) if is4 else order6_block(p)), 1 / (2 * d))
        blocks.append((k, a, b, c))
        if is4:
            rn[k] = np.sum((np.abs(a) ** 2 + np.abs(b) ** 2) * c)
    net = CoGSNet.zero(d)
    carried = cancel == "order6" and any(order4)
    carrier = next(i for i, f in enumerate(order4) if not f) if carried else -1
    for i, (k, a, b, c) in enumerate(blocks):
        if i != carrier:
            net = net + block_net(d, k, a, b, c)
            continue
        unit = rn_carrier(a, b)  # adds 1 to O(0, 0, k4) per unit of output at k4
        q = a.size
        za, zb, zc = (np.zeros((q, d), dtype=np.complex128) for _ in range(3))
        for z, v in ((za, a), (zb, b), (zc, c)):
            z[:, k], z[:, d - k] = v, np.conj(v)
        for k4 in np.flatnonzero(rn):
            # O(0, 0, k4) of the order-4 block is 2 rn[k4]; the carrier adds -2 rn[k4]
            zc[:, k4] = -2 * rn[k4] * unit
            zc[:, d - k4] = np.conj(zc[:, k4])
        net = net + CoGSNet.from_fourier(za, zb, zc).real_part()
    if cancel == "constant_node" and any(order4):
        zc = np.zeros(d, dtype=np.complex128)
        zc[1:] = -2.0 * rn[1:]
        zc[d - np.arange(1, d)] += np.conj(-2.0 * rn[1:])
        za = np.zeros((1, d), dtype=np.complex128)
        za[0, 0] = 1.0
        net = net + CoGSNet.from_fourier(za, np.zeros((1, d)), zc[None, :]).real_part()
    return net


def memorization_block(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """d^2 nodes (m, n): a = omega^m, b = omega^n, c = omega^{-(m+n)}."""
    om = np.exp(2j * np.pi * np.arange(d) / d)
    a = np.repeat(om, d)
    b = np.tile(om, d)
    return a, b, np.conj(a * b)


def memorization_solution(d: int) -> CoGSNet:
    """Order d^2 at every frequency; width d^2 (d-1)/2."""
    d = check_modulus(d, odd=True)
    check_allocation(3 * 16 * d * d * d * (d - 1) // 2, f"the memorization solution for d = {d}")
    net = CoGSNet.zero(d)
    for k in _frequencies(d):
        net = net + block_net(d, k, *_normalized(*memorization_block(d), 1 / (2 * d)))
    return net


def predicted_width(construction: str, d: int, n_order4: int = 0, cancel: str = "order6") -> int:
    """The hidden width each construction needs (see the module docstring)."""
    d = check_modulus(d, odd=True)
    nf = (d - 1) // 2
    if construction == "order6":
        return 6 * nf
    if construction == "order46":
        top = nf - 1 if cancel == "order6" and nf > 1 else nf
        if not (0 <= n_order4 <= top) or (cancel == "order6" and nf == 1 and n_order4):
            raise InputError(f"n_order4 must be in 0..{top} for d = {d} ({cancel}), got {n_order4}")
        extra = 1 if cancel == "constant_node" and n_order4 > 0 else 0
        return 4 * n_order4 + 6 * (nf - n_order4) + extra
    if construction == "memorization":
        return d * d * nf
    raise InputError(
        f"construction must be 'order6', 'order46' or 'memorization', got {construction!r}"
    )


# ------------------------------------------------------- analysis of trained networks


def node_frequencies(net: CoGSNet, threshold: float = 0.05) -> np.ndarray:
    """Each node's frequency argmax_{k in 0..(d-1)/2} |z_{a,k,j}|, or -1 below ``threshold``.

    The assignment of Tian's factorization analysis (Sec. 7, Table 2).
    """
    if not (threshold >= 0 and np.isfinite(threshold)):
        raise InputError(f"threshold must be a finite number >= 0, got {threshold!r}")
    za = net.fourier()[0][:, : (net.d - 1) // 2 + 1]
    mag = np.abs(za)
    k = mag.argmax(axis=1)
    return np.where(mag.max(axis=1, initial=0.0) > threshold, k, -1)


def frequency_orders(net: CoGSNet, threshold: float = 0.05) -> dict[int, int]:
    """{k: number of nodes assigned to k} for k = 1..(d-1)/2 (the per-frequency order)."""
    freq = node_frequencies(net, threshold)
    return {k: int(np.sum(freq == k)) for k in range(1, (net.d - 1) // 2 + 1)}


@dataclass(frozen=True)
class Factorization:
    """One order-4/6 block split as (order-2 factor) * (other factor)."""

    error: float  # Frobenius norm of the half-to-half ratios minus their row means
    factorable: bool  # error <= 0.1 sqrt(3 q_k)
    order2: np.ndarray  # (3,) the order-2 factor's second node (a, b, c); its first is (1,1,1)
    other: np.ndarray  # (3, q_k/2) the other factor, columns divided by the first column
    perm: np.ndarray | None = None  # node order: first half perm[:q/2], second half perm[q/2:]
    flip: np.ndarray | None = None  # second-half nodes whose (a, b) were negated (x^2 symmetry)

    def reconstruct(self, a, b, c) -> np.ndarray:
        """The (3, q_k) block rebuilt from the two factors on the nodes of (a, b, c): the
        first half is the other factor times its first node, the second half that times
        the order-2 factor's second node, with the sign flips undone."""
        F = np.stack(_block(a, b, c))
        h = F.shape[1] // 2
        first = np.asarray(self.other) * F[:, self.perm[:1]]
        second = first * np.asarray(self.order2)[:, None]
        second[:2, self.flip] *= -1
        out = np.empty_like(F)
        out[:, self.perm[:h]], out[:, self.perm[h:]] = first, second
        return out


def factorize_block(a, b, c) -> Factorization:
    """Factorize one frequency block of 4 or 6 nodes into an order-2 factor times the rest.

    Over all node orders, the split into halves whose c-ratios are most nearly constant is
    kept; the sign symmetry (a, b, c) -> (-a, -b, c) of x^2 is fixed on the second half;
    then R = second half / first half should have constant rows (the order-2 factor).
    """
    import itertools

    F = np.stack(_block(a, b, c))
    q = F.shape[1]
    if q not in (4, 6):
        raise InputError(f"factorize_block handles blocks of 4 or 6 nodes, got {q}")
    if np.any(np.abs(F) == 0):
        raise InputError("a block with a zero coefficient cannot be factorized by ratios")
    h = q // 2

    def split(p: np.ndarray):
        first, second = F[:, p[:h]], F[:, p[h:]].copy()
        ra = second[0] / first[0]
        flip = np.abs(ra - ra[0]) > 0.2 * abs(ra[0])
        second[:2, flip] *= -1
        R = second / first
        mean = R.mean(axis=1, keepdims=True)
        return float(np.linalg.norm(R - mean)), mean[:, 0], first / first[:, :1], flip

    # the paper's code keeps the order with the most constant c-ratio; ties between
    # orders (equal c entries, e.g. z_{nu=i} * z_syn) are broken here by the full error
    best = None
    for perm in itertools.permutations(range(q)):
        p = np.array(perm)
        ratio = F[2, p[h:]] / F[2, p[:h]]
        dev = float(np.abs(ratio - ratio.mean()).sum())
        err, o2, other, flip = split(p)
        key = (round(dev, 8), err)
        if best is None or key < best[0]:
            best = (key, err, o2, other, p, flip)
    _, err, o2, other, p, flip = best
    return Factorization(err, err <= 0.1 * np.sqrt(3 * q), o2, other, p, flip)


def classify_order2(x: np.ndarray, tol: float = 0.1) -> str:
    """Label an order-2 factor (1,1,1), (x0, x1, x2) after (abc)^{1/3} normalization.

    'xi' if c ~ +-i; '4c' (nu = i) if c ~ 1 and a ~ +-i; 'nu' if a + b ~ 0; else 'other'.
    """
    x = np.asarray(x, dtype=np.complex128)
    x = x / np.prod(x) ** (1 / 3)
    a, b, c = x
    if min(abs(c - 1j), abs(c + 1j)) < tol:
        return "xi"
    if abs(c - 1) < tol and min(abs(a - 1j), abs(a + 1j)) < tol:
        return "4c"
    if abs(a + b) < tol:
        return "nu"
    return "other"


def classify_order3(x: np.ndarray, tol: float = 0.1) -> tuple[str, complex, complex]:
    """Label an order-3 factor (3, 3) whose first column is (1, 1, 1): 'syn', 'syn_ab' or 'other'.

    As in Tian's analysis (Sec. 7, Table 2): each column is normalized by its principal
    (abc)^{1/3}; the sign symmetry (a, b, c) -> (-a, -b, c) is fixed so that Re a <= 0 on
    columns 2 and 3; the factor is conjugated when Im c_2 < 0. Then 'syn' when columns 2
    and 3 are within tol sqrt(3) of (w, w, w) and (w^2, w^2, w^2), w = e^{2 pi i/3};
    'syn_ab' when only their c entries are within tol of w and w^2. Returns the label and
    (alpha, beta) = (a_2 / w, a_3 / w^2) of z_{syn,alpha beta} (1, 1 for 'syn'; nan for
    'other').
    """
    x = np.array(x, dtype=np.complex128)
    if x.shape != (3, 3):
        raise InputError(f"an order-3 factor is a (3, 3) array (a, b, c rows), got {x.shape}")
    x = x / np.prod(x, axis=0, keepdims=True) ** (1 / 3)
    for i in (1, 2):
        if x[0, i].real > 0:
            x[:2, i] *= -1
    if x[2, 1].imag < 0:
        x = np.conj(x)
    w = _W3
    if (np.linalg.norm(x[:, 1] - w) < tol * np.sqrt(3)
            and np.linalg.norm(x[:, 2] - np.conj(w)) < tol * np.sqrt(3)):  # fmt: skip
        return "syn", 1.0 + 0j, 1.0 + 0j
    if abs(x[2, 1] - w) < tol and abs(x[2, 2] - np.conj(w)) < tol:
        return "syn_ab", complex(x[0, 1] / w), complex(x[0, 2] / np.conj(w))
    nan = complex(np.nan, np.nan)
    return "other", nan, nan


def classify_factors(f: Factorization, tol: float = 0.1) -> tuple[str, str]:
    """The labels of both factors of a factorized block, the order-2 one first.

    Order-4 blocks: both factors are order 2 (:func:`classify_order2`), returned sorted
    (e.g. ('4c', 'xi') for z_{nu=i} * z_xi). Order-6 blocks: (order-2 label, order-3 label
    from :func:`classify_order3`), e.g. ('nu', 'syn') or ('4c', 'syn_ab').
    """
    first = classify_order2(np.asarray(f.order2), tol)
    other = np.asarray(f.other)
    if other.shape == (3, 2):
        return tuple(sorted((first, classify_order2(other[:, 1], tol))))  # type: ignore[return-value]
    return first, classify_order3(other, tol)[0]
