r"""Infinite-width NNGP and NTK kernels of deep fully connected networks (torch).

The network is neural-tangents' (NT)

.. code-block:: python

    stax.serial(*[stax.Dense(width, W_std, b_std), Act()] * depth, stax.Dense(1, W_std, b_std))

that is ``depth`` hidden layers, each a dense layer followed by the activation, then a
linear readout. A dense layer in NTK parameterization (NT's default) computes

.. math:: h^{l+1} = \frac{\sigma_w}{\sqrt{n_l}} W^{l+1} \phi(h^l) + \sigma_b b^{l+1},
          \qquad W, b \text{ entries i.i.d. } \mathcal N(0, 1),

with :math:`\phi(h^0) := x \in \mathbb R^d` and :math:`n_0 = d`. Writing
:math:`q = \Sigma^{l}(x, x)`, :math:`q' = \Sigma^{l}(x', x')`, :math:`k = \Sigma^{l}(x, x')`
and :math:`(u, u') \sim \mathcal N(0, [[q, k], [k, q']])`, the kernels are

.. math::

    \Sigma^{0}(x, x') &= \sigma_{w,0}^2 \, \frac{x^\top x'}{d} + \sigma_{b,0}^2,
    \qquad \Theta^{0} = \Sigma^{0}, \\
    \Sigma^{l+1}(x, x') &= \sigma_{w,l+1}^2 \, \mathbb E[\phi(u)\phi(u')] + \sigma_{b,l+1}^2, \\
    \Theta^{l+1}(x, x') &= \Sigma^{l+1}(x, x')
        + \sigma_{w,l+1}^2 \, \mathbb E[\phi'(u)\phi'(u')] \, \Theta^{l}(x, x'),

for l = 0, ..., L-1 (L = ``depth``); the NNGP is :math:`\Sigma^{L}` and the NTK is
:math:`\Theta^{L}` (the readout is the last step). In NT's terms: the input kernel is
``x @ x'.T / d``, a Dense layer maps ``nngp -> W_std**2 * nngp + b_std**2`` and
``ntk -> nngp_new + W_std**2 * ntk``, an activation maps ``nngp -> E[phi phi]`` and
``ntk -> ntk * E[phi' phi']``. Widths do not enter.

Standard parameterization (NT's ``parameterization='standard'``, ``s=(1, 1)``) trains
:math:`W \sim \mathcal N(0, \sigma_w^2/n_l)` and :math:`b \sim \mathcal N(0, \sigma_b^2)`
directly. The NNGP is unchanged; the NTK depends on the hidden width n:

.. math::

    \Theta^{0} = x^\top x' + \beta, \qquad
    \Theta^{l+1} = n \, \mathbb E[\phi(u)\phi(u')] + \beta
        + \sigma_{w,l+1}^2 \, \mathbb E[\phi'(u)\phi'(u')] \, \Theta^{l},

with :math:`\beta = 1` if the network has biases (``bias_std`` not None) and 0 otherwise,
as NT's ``ntk = input_width * nngp + 1 + W_std**2 * ntk`` (the ``+ 1`` only when
``b_std`` is not None). NT's extra width scale ``s`` of that parameterization is not
offered (it is ``(1, 1)`` here). A zero ``bias_std`` keeps trainable biases (``beta = 1``)
while None removes them; the two differ only in the standard-parameterization NTK.

Gaussian expectations: closed forms for ReLU (arc-cosine kernel of degree 1 and 0), erf,
GELU (below, and the derivation in ``_gelu_pair``) and the identity (E[u u'] = k,
E[1] = 1); quadrature (:mod:`lmech.kernels._gauss_hermite`) for tanh and any other
elementwise function, see :class:`Activation`. :data:`ACTIVATIONS` is lmech's one table
of named activations: each entry also carries phi itself (``.fn``), which the finite
networks of :mod:`lmech.nn.models` apply.

With :math:`\theta = \operatorname{atan2}(\sqrt{q q' - k^2}, k)` (NT's stable form of
:math:`\arccos(k/\sqrt{q q'})`):

.. math::

    \text{ReLU:}\quad \mathbb E[\phi(u)\phi(u')]
        = \frac{\sqrt{q q' - k^2} + (\pi - \theta) k}{2\pi},
    \qquad \mathbb E[\phi'(u)\phi'(u')] = \frac{\pi - \theta}{2\pi}; \\
    \text{erf:}\quad \mathbb E[\phi(u)\phi(u')] = \frac{2}{\pi}
        \arcsin\frac{2k}{\sqrt{(1 + 2q)(1 + 2q')}}, \qquad
    \mathbb E[\phi'(u)\phi'(u')] = \frac{4}{\pi} \frac{1}{\sqrt{(1 + 2q)(1 + 2q') - 4k^2}}.

GELU, :math:`\phi(x) = x\Phi(x)`, with :math:`D = (1 + q)(1 + q') - k^2 > 0`,
:math:`\vartheta = \arcsin\big(k / \sqrt{(1 + q)(1 + q')}\big)` and
:math:`c = \frac{1}{1 + q} + \frac{1}{1 + q'} - 1`:

.. math::

    \mathbb E[\phi(u)\phi(u')] = k\Big(\frac14 + \frac{\vartheta}{2\pi}\Big)
        + \frac{q q' + c k^2}{2\pi\sqrt D}, \qquad
    \mathbb E[\phi'(u)\phi'(u')] = \frac14 + \frac{\vartheta}{2\pi}
        + \frac{k\,\big(D(1 + 2c) + q q' + c k^2\big)}{2\pi D^{3/2}}

A block k(X, Z) is computed from the input Gram block X Z^T and the two diagonals only,
layer by layer, in row tiles that stay in cache: memory is the (n, m) output plus a few
tiles, so :func:`lmech.kernels.base.gram` can tile a 50,000 x 50,000 Gram by row blocks.

References:
    Neal, "Bayesian learning for neural networks", 1996 (NNGP, one hidden layer);
    Lee et al., "Deep neural networks as Gaussian processes", ICLR 2018 (the Sigma
    recursion); Jacot, Gabriel, Hongler, "Neural tangent kernel", NeurIPS 2018, Thm. 1
    (the Theta recursion); Arora et al., "On exact computation with an infinitely wide
    neural net", NeurIPS 2019, Sec. 3 (the same recursion, ReLU); Cho & Saul, "Kernel
    methods for deep learning", NeurIPS 2009, Sec. 2 (arc-cosine kernels of degree 0
    and 1); Williams, "Computing with infinite networks", NeurIPS 1996 (erf);
    Tsuchida et al., "Avoiding kernel fixed points: computing with ELU and GELU infinite
    networks", AAAI 2021 (a GELU covariance; the forms here are derived independently
    and checked against quadrature);
    Novak et al., "Neural Tangents", ICLR 2020 (the conventions matched here);
    Sohl-Dickstein et al., "On the infinite width limit of neural networks with a
    standard parameterization", arXiv 2001.07301 (standard parameterization).

Warning:
    Duplicate inputs. The angle :math:`\theta` comes from :math:`q q' - k^2`, which
    cancels: for two identical inputs the input Gram entry (a GEMM) and the squared norm
    (a row sum) differ by up to ~d ulps, so :math:`\theta` would come out as
    :math:`O(\sqrt{d\epsilon})` instead of 0. The NNGP does not care (its slope in
    :math:`\theta` vanishes at 0), but the derivative factor of a kinked activation
    does (ReLU: :math:`(\pi - \theta)/2\pi`), which would put relative errors of ~1e-8
    (float64) and ~1e-3 (float32) on NTK entries of duplicates (NT has them). Here
    angles below :math:`\theta_{tol} = 2\sqrt{(d + 2)\epsilon}` (the round-off bound;
    8e-7 in float64 and 0.02 in float32 at d = 784) count as 0 in the derivative
    factor (and angles within it of :math:`\pi` as :math:`\pi`), so Gram diagonals
    equal :meth:`NTK.diag`. The price is a relative error of
    at most :math:`\theta_{tol}/2\pi` in the derivative factor of distinct pairs that
    close, which round-off already blurs to that level.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lmech.errors import InputError
from lmech.kernels import _gauss_hermite as gq

__all__ = ["Activation", "NNGP", "NTK", "ACTIVATIONS"]

_TWO_PI = 2.0 * math.pi
# Row tiles of about this many output entries keep a layer's temporaries in L2 on CPU.
_TILE_ELEMENTS = {"cpu": 2**18}
_TILE_ELEMENTS_OTHER = 2**24

Pair = tuple[torch.Tensor, torch.Tensor | None]

#: Most quadrature nodes per piece (or per dimension) and kinks an Activation may ask for.
MAX_NODES = 256
MAX_KINKS = 64
#: Deepest network kernel accepted: the recursion costs one pass over the Gram block per
#: layer, and the per-layer stds are held as lists of depth + 1 numbers.
MAX_DEPTH = 10_000
#: Standard deviations above this square to more than 1e200 and overflow within a layer.
MAX_STD = 1e100
#: Widest standard-parameterization network: n E[phi phi'] stays an exact float64 factor.
MAX_WIDTH = 2**53


# --- closed forms: (q (r,1), q' (1,m), k (r,m)) -> E[phi phi'], E[phi' phi'] -----------


def _relu_pair(qx, qz, k, derivative: bool, angle_tol: float) -> Pair:
    # sqrt(q q') sin(theta) = sqrt(q q' - k^2), clipped at 0 against round-off      (r, m)
    s = (qx * qz).addcmul_(k, k, value=-1.0).clamp_min_(0.0).sqrt_()
    theta = torch.atan2(s, k)
    dot = theta.mul(-1.0 / _TWO_PI).add_(0.5)  # (pi - theta) / (2 pi)
    nngp = s.mul_(1.0 / _TWO_PI).addcmul_(dot, k)  # (sqrt(qq') sin + (pi - theta) k) / 2pi
    if not derivative:
        return nngp, None
    # round-off angles of (anti)parallel pairs -> 0 (pi) in the derivative factor (module
    # Warning): theta <= tol -> 0, then pi - theta <= tol -> 0
    pi_minus = F.threshold_(theta, angle_tol, 0.0).neg_().add_(math.pi)
    dot = F.threshold_(pi_minus, angle_tol, 0.0).mul_(1.0 / _TWO_PI)
    return nngp, dot


def _relu_diag(q: torch.Tensor, derivative: bool) -> Pair:
    return 0.5 * q, (torch.full_like(q, 0.5) if derivative else None)  # theta = 0


def _erf_pair(qx, qz, k, derivative: bool, angle_tol: float) -> Pair:
    # r = sqrt((1+2q)(1+2q') - 4k^2) / 2 > 0 since k^2 <= q q'                       (r, m)
    r = ((0.5 + qx) * (0.5 + qz)).addcmul_(k, k, value=-1.0).sqrt_()
    nngp = torch.atan2(k, r).mul_(2.0 / math.pi)  # (2/pi) arcsin(2k / sqrt((1+2q)(1+2q')))
    return nngp, (r.reciprocal_().mul_(2.0 / math.pi) if derivative else None)


def _erf_diag(q: torch.Tensor, derivative: bool) -> Pair:
    nngp = torch.asin(2.0 * q / (1.0 + 2.0 * q)).mul_(2.0 / math.pi)
    return nngp, ((4.0 / math.pi) * torch.rsqrt(1.0 + 4.0 * q) if derivative else None)


@dataclass(frozen=True)
class _ClosedForm:
    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]  # phi itself, for the finite network
    pair: Callable[..., Pair]
    diag: Callable[..., Pair]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _identity_pair(qx, qz, k, derivative: bool, angle_tol: float) -> Pair:
    # phi(x) = x: E[u u'] = k, E[1 * 1] = 1                                          (r, m)
    return k.clone(), (torch.ones_like(k) if derivative else None)


def _identity_diag(q: torch.Tensor, derivative: bool) -> Pair:
    return q.clone(), (torch.ones_like(q) if derivative else None)


def _gelu_pair(qx, qz, k, derivative: bool, angle_tol: float) -> Pair:
    # GELU(x) = x Phi(x). With D = (1+q)(1+q') - k^2 >= 1 + q + q' > 0 and
    # theta = arcsin(k / sqrt((1+q)(1+q'))) = atan2(k, sqrt(D)):
    #   E = k/4 + k theta/(2 pi) + [q q' + k^2 (1/(1+q) + 1/(1+q') - 1)] / (2 pi sqrt(D))
    # (Gaussian integration by parts on u v 1{u > xi} 1{v > xi'}), and by Price's theorem
    # E[phi' phi'] = dE/dk = 1/4 + theta/(2 pi) + k (D (1 + 2c) + N) / (2 pi D^{3/2}),
    # c = 1/(1+q) + 1/(1+q') - 1, N the bracket above.                        (r, m)
    c = (1.0 + qx).reciprocal() + (1.0 + qz).reciprocal() - 1.0
    D = ((1.0 + qx) * (1.0 + qz)).addcmul_(k, k, value=-1.0)
    root = D.sqrt()
    theta = torch.atan2(k, root)
    N = (qx * qz).addcmul_(c, k * k)
    nngp = theta.mul(1.0 / _TWO_PI).add_(0.25).mul_(k).add_(N / (_TWO_PI * root))
    if not derivative:
        return nngp, None
    dot = theta.mul_(1.0 / _TWO_PI).add_(0.25)
    dot.add_(k * (D * (1.0 + 2.0 * c) + N) / (_TWO_PI * D * root))
    return nngp, dot


def _gelu_diag(q: torch.Tensor, derivative: bool) -> Pair:
    return _gelu_pair(q, q, q, derivative, 0.0)  # q = q' = k; D = 1 + 2q stays > 0


# --- any elementwise function by quadrature --------------------------------------------


@dataclass(frozen=True)
class Activation:
    r"""An elementwise activation whose Gaussian expectations are taken by quadrature.

    Computes :math:`\mathbb E[\phi(u)\phi(v)]` and :math:`\mathbb E[\phi'(u)\phi'(v)]`
    for :math:`(u, v) \sim \mathcal N(0, [[q, k], [k, q']])` with the rules of
    :mod:`lmech.kernels._gauss_hermite` (Cholesky change of variables; default
    ``"piecewise"``: Gauss-Legendre on pieces split at the activation's breakpoints).

    Args:
        fn: :math:`\phi`, a torch function applied elementwise (``torch.tanh``,
            ``torch.nn.functional.gelu``, ``lambda x: x**2``).
        derivative: :math:`\phi'`; None takes it by ``torch.autograd`` (one backward
            through ``fn``).
        kinks: points where :math:`\phi` or :math:`\phi'` is not smooth (ReLU: ``(0.0,)``;
            hard tanh: ``(-1.0, 1.0)``). ``0`` is always a split point. Missing a kink
            costs accuracy (algebraic instead of exponential convergence), not
            correctness.
        quadrature: ``"piecewise"`` (accurate: 1e-15 for ReLU with ``kinks=(0.0,)``;
            <= 1e-12 for erf at variances q <= 10) or ``"gauss-hermite"`` (N^2 points,
            ~20x cheaper; accurate only for smooth activations at small variance).
        nodes: nodes per piece (piecewise, default 16) or per dimension (Gauss-Hermite,
            default 32).

    Warning:
        The cost is ~2e4 function evaluations per kernel entry and layer (piecewise),
        against a few flops for the closed forms; use ``"relu"``/``"erf"``/``"gelu"`` where
        they apply.
    """

    fn: Callable[[torch.Tensor], torch.Tensor]
    derivative: Callable[[torch.Tensor], torch.Tensor] | None = None
    kinks: tuple[float, ...] = ()
    quadrature: str = "piecewise"
    nodes: int | None = None

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise InputError(f"Activation fn must be callable; got {type(self.fn).__name__}")
        if self.derivative is not None and not callable(self.derivative):
            raise InputError(
                f"Activation derivative must be callable or None; got {self.derivative!r}"
            )
        try:
            kinks = tuple(sorted({float(t) for t in self.kinks}))
        except (TypeError, ValueError):
            raise InputError(
                f"Activation kinks must be a sequence of numbers; got {self.kinks!r}"
            ) from None
        if not all(math.isfinite(t) for t in kinks):
            raise InputError(f"Activation kinks must be finite; got {self.kinks!r}")
        object.__setattr__(self, "kinks", kinks)
        if self.quadrature not in gq.DEFAULT_NODES:
            raise InputError(
                f"Activation quadrature must be one of {sorted(gq.DEFAULT_NODES)}; "
                f"got {self.quadrature!r}"
            )
        if self.nodes is not None and (
            isinstance(self.nodes, bool)
            or not isinstance(self.nodes, int)
            or not 2 <= self.nodes <= MAX_NODES
        ):
            raise InputError(
                f"Activation nodes must be an integer in [2, {MAX_NODES}] (the cost grows as "
                f"nodes^2 per kernel entry); got {self.nodes!r:.60}"
            )
        if len(kinks) > MAX_KINKS:
            raise InputError(
                f"Activation kinks must list at most {MAX_KINKS} points; got {len(kinks)}"
            )
        probe = torch.linspace(-3.0, 3.0, 7, dtype=torch.float64)
        for what, f in (("fn", self.fn), ("derivative", self.derivative)):
            if f is None:
                continue
            try:
                out = f(probe)
            except Exception as err:  # a user callable can raise anything
                raise InputError(
                    f"Activation {what} failed on a float64 tensor of shape (7,): {err}"
                ) from None
            if not isinstance(out, torch.Tensor) or out.shape != probe.shape:
                raise InputError(
                    f"Activation {what} must map a tensor to a tensor of the same shape; "
                    f"got {type(out).__name__} {getattr(out, 'shape', '')} for shape (7,)"
                )

    @property
    def breakpoints(self) -> tuple[float, ...]:
        """Split points of the piecewise rule: 0 and the kinks."""
        return tuple(sorted({0.0, *self.kinks}))

    def _evaluate(self, x: torch.Tensor, derivative: bool) -> tuple[torch.Tensor, ...]:
        if not derivative:
            return (self.fn(x),)
        if self.derivative is not None:
            return self.fn(x), self.derivative(x)
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            y = self.fn(x)
            try:
                # elementwise fn: d/dx_i sum_j fn(x_j) = fn'(x_i)
                (dy,) = torch.autograd.grad(y.sum(), x)
            except RuntimeError as err:
                raise InputError(
                    f"cannot differentiate activation {self.fn!r} with autograd ({err}); "
                    "pass Activation(fn, derivative=...)"
                ) from None
        return y.detach(), dy

    def _quad(self, derivative: bool) -> Callable[[torch.Tensor], tuple[torch.Tensor, ...]]:
        return lambda x: self._evaluate(x, derivative)

    def pair(self, qx, qz, k, derivative: bool, angle_tol: float = 0.0) -> Pair:
        """E[phi phi'] (and E[phi' phi'] if ``derivative``) for q (r,1), q' (1,m), k (r,m).

        With kinks, pairs at an angle below ``angle_tol`` are taken as parallel (module
        Warning); smooth activations need no such care (E[phi' phi'] is smooth in the
        angle), and snapping would cost them an O(angle_tol^2) error.
        """
        shape = k.shape
        out = gq.pair_expectations(
            self._quad(derivative),
            qx.expand(shape).reshape(-1),
            qz.expand(shape).reshape(-1),
            k.reshape(-1),
            breakpoints=self.breakpoints,
            nodes=self.nodes,
            method=self.quadrature,
            angle_tol=angle_tol if self.kinks else 0.0,
        )
        return out[0].view(shape), (out[1].view(shape) if derivative else None)

    def diag(self, q: torch.Tensor, derivative: bool) -> Pair:
        """E[phi(u)^2] (and E[phi'(u)^2]) for u ~ N(0, q), q of shape (n,)."""
        out = gq.diagonal_expectations(
            self._quad(derivative),
            q,
            breakpoints=self.breakpoints,
            nodes=self.nodes,
            method=self.quadrature,
        )
        return out[0], (out[1] if derivative else None)


# The one activation table of lmech: each entry carries phi (``.fn``, what a finite
# network applies, lmech.nn.models) and its Gaussian expectations (what the kernels use),
# so a network and its kernel built from one name cannot disagree on the activation.
ACTIVATIONS: dict[str, _ClosedForm | Activation] = {
    "relu": _ClosedForm("relu", torch.relu, _relu_pair, _relu_diag),
    "erf": _ClosedForm("erf", torch.erf, _erf_pair, _erf_diag),
    # exact GELU, x Phi(x) (NT's Gelu(approximate=False)); closed forms derived in
    # _gelu_pair, checked against quadrature and Monte Carlo in tests/kernels/test_infinite.py
    "gelu": _ClosedForm("gelu", F.gelu, _gelu_pair, _gelu_diag),
    "tanh": Activation(torch.tanh),
    "identity": _ClosedForm("identity", _identity, _identity_pair, _identity_diag),
}


def _resolve_activation(activation) -> _ClosedForm | Activation:
    if isinstance(activation, str):
        rule = ACTIVATIONS.get(activation.strip().lower())
        if rule is None:
            raise InputError(
                f"unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}, "
                "a callable, or an Activation"
            )
        return rule
    if isinstance(activation, Activation):
        return activation
    if callable(activation):
        return Activation(activation)
    raise InputError(f"activation must be a name, a callable or an Activation; got {activation!r}")


def _per_layer(value, depth: int, name: str, *, positive: bool) -> tuple[float, ...]:
    """One std per dense layer (depth + 1 of them, readout last), validated."""
    what = "> 0" if positive else ">= 0"
    values = value if isinstance(value, Sequence) and not isinstance(value, str) else None
    if values is None:
        values = [value] * (depth + 1)
    elif len(values) != depth + 1:
        raise InputError(
            f"{name} must be a number or a sequence of depth + 1 = {depth + 1} numbers "
            f"(one per dense layer, readout last); got {len(values)} values"
        )
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise InputError(f"{name} must be finite numbers {what}; got {value!r:.80}")
        if v < 0 or (positive and v == 0):
            raise InputError(f"{name} must be {what}; got {value!r:.80}")
        if v > MAX_STD:
            raise InputError(
                f"{name} must be at most {MAX_STD:.0e} (its square enters every layer and "
                f"would overflow float64); got {value!r:.80}"
            )
        out.append(float(v))
    return tuple(out)


def _check_inputs(X: torch.Tensor, Z: torch.Tensor | None) -> None:
    for name, A in (("X", X), ("Z", Z)):
        if A is None:
            continue
        if not isinstance(A, torch.Tensor):
            raise InputError(f"{name} must be a torch.Tensor; got {type(A).__name__}")
        if A.ndim != 2 or A.shape[1] == 0:
            raise InputError(f"{name} must be 2-D (n, d) with d >= 1; got shape {tuple(A.shape)}")
        if not A.is_floating_point():
            raise InputError(f"{name} must be floating point; got {A.dtype}; use X.double()")
        if not bool(torch.isfinite(A).all()):
            raise InputError(f"{name} must be finite; got NaN or inf entries")
    if Z is not None:
        if Z.shape[1] != X.shape[1]:
            raise InputError(f"Z must have {X.shape[1]} columns like X; got shape {tuple(Z.shape)}")
        if Z.dtype != X.dtype or Z.device != X.device:
            raise InputError(
                f"X and Z must share dtype and device; got {X.dtype} on {X.device} and "
                f"{Z.dtype} on {Z.device}"
            )


@dataclass(frozen=True)
class _FullyConnected:
    depth: int = 1
    activation: str | Callable[[torch.Tensor], torch.Tensor] | Activation = "relu"
    weight_std: float | Sequence[float] = 1.0
    bias_std: float | Sequence[float] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 1:
            raise InputError(
                f"depth (number of hidden layers) must be an integer >= 1; got {self.depth!r:.60} "
                "(for the depth-0 linear model use lmech.kernels.Linear or Polynomial)"
            )
        if self.depth > MAX_DEPTH:
            raise InputError(
                f"depth (number of hidden layers) must be at most {MAX_DEPTH}; got "
                f"{self.depth if self.depth < 10**18 else f'~2^{self.depth.bit_length() - 1}'}"
            )
        object.__setattr__(self, "_rule", _resolve_activation(self.activation))
        w = _per_layer(self.weight_std, self.depth, "weight_std", positive=True)
        b = (
            (0.0,) * (self.depth + 1)
            if self.bias_std is None
            else _per_layer(self.bias_std, self.depth, "bias_std", positive=False)
        )
        for name, v in (("weight_std", self.weight_std), ("bias_std", self.bias_std)):
            if isinstance(v, Sequence):
                object.__setattr__(self, name, tuple(v))  # hashable, like the dataclass
        object.__setattr__(self, "_w2", tuple(x * x for x in w))
        object.__setattr__(self, "_b2", tuple(x * x for x in b))

    # -- the recursion -------------------------------------------------------------------

    _standard = False  # NTK in standard parameterization (set by NTK)
    _beta = 0.0  # 1 if the standard-parameterization network has biases

    def _variances(self, X: torch.Tensor, derivative: bool):
        """Diagonal terms per layer, each (n,): Sigma^l(x, x) for l = 0..L, and at each
        hidden layer E[phi(u)^2] and E[phi'(u)^2] (None unless ``derivative``)."""
        w2, b2, rule = self._w2, self._b2, self._rule
        qs = [(X * X).sum(1).mul_(w2[0] / X.shape[1]).add_(b2[0])]  # Sigma^0(x, x)
        es, dots = [], []
        for layer in range(1, self.depth + 1):
            e, dot = rule.diag(qs[-1], derivative)
            qs.append(e * w2[layer] + b2[layer])  # Sigma^{l+1}(x, x)
            es.append(e)
            dots.append(dot)
        return qs, es, dots

    def _tile(self, g: torch.Tensor, qx, qz, d: int, ntk: bool) -> torch.Tensor:
        """One row tile: dot products g = x.z (r, m), overwritten -> kernel values (r, m).

        qx[l] (r, 1) and qz[l] (1, m) hold Sigma^l on the two diagonals, l = 0..L-1.
        """
        w2, b2, rule = self._w2, self._b2, self._rule
        standard = ntk and self._standard
        tol = 2.0 * math.sqrt((d + 2) * torch.finfo(g.dtype).eps)  # theta_tol, module Warning
        theta = g + self._beta if standard else None  # standard: Theta^0 = x.z + beta
        k = g.mul_(w2[0] / d).add_(b2[0])  # Sigma^0 = w^2 x.z / d + b^2
        if ntk and not standard:
            theta = k.clone()  # Theta^0 = Sigma^0
        for layer in range(1, self.depth + 1):
            # e = E[phi(u) phi(u')], dot = E[phi'(u) phi'(u')] (None for the NNGP)
            e, dot = rule.pair(qx[layer - 1], qz[layer - 1], k, ntk, tol)
            if ntk:
                theta.mul_(dot).mul_(w2[layer])  # w^2 E[phi' phi'] Theta^l
                if standard:
                    theta.add_(e, alpha=self.width).add_(self._beta)  # + n E[phi phi'] + beta
            k = e.mul_(w2[layer]).add_(b2[layer])  # Sigma^{l+1} = w^2 E[phi phi'] + b^2
            if ntk and not standard:
                theta.add_(k)  # + Sigma^{l+1}
        return theta if ntk else k

    def _block(self, X: torch.Tensor, Z: torch.Tensor, ntk: bool) -> torch.Tensor:
        _check_inputs(X, Z)
        qx = self._variances(X, False)[0][:-1]
        qz = qx if Z is X else self._variances(Z, False)[0][:-1]
        qz = [q[None, :] for q in qz]
        out = X @ Z.T  # (n, m) x.z; each row tile is overwritten by its kernel values
        n, m = out.shape
        rows = max(1, _TILE_ELEMENTS.get(out.device.type, _TILE_ELEMENTS_OTHER) // max(m, 1))
        for i in range(0, n, rows):
            g = out[i : i + rows]
            g.copy_(self._tile(g, [q[i : i + rows, None] for q in qx], qz, X.shape[1], ntk))
        return out


@dataclass(frozen=True)
class NNGP(_FullyConnected):
    r"""NNGP kernel :math:`\Sigma^{L}(x, x')` of a depth-L fully connected network.

    The covariance of the network output over random initializations at infinite width;
    see the module docstring for the recursion and conventions (NT's
    ``stax.serial(*[Dense(w, W_std, b_std), Act()] * depth, Dense(1, W_std, b_std))``,
    input kernel ``x.x'/d``). The NNGP is the same in NTK and standard parameterization.

    Args:
        depth: L >= 1, the number of hidden layers (the depth-0 linear model
            :math:`\sigma_w^2 x^\top x'/d + \sigma_b^2` is :class:`lmech.kernels.Linear`
            up to scale).
        activation: ``"relu"``, ``"erf"``, ``"gelu"``, ``"identity"`` (closed forms),
            ``"tanh"`` (quadrature), any elementwise torch callable, or an
            :class:`Activation`.
        weight_std: :math:`\sigma_w` (NT's ``W_std``), one number or depth + 1 numbers
            (one per dense layer, readout last).
        bias_std: :math:`\sigma_b` (NT's ``b_std``); None (NT's default) means no biases.

    Example:
        >>> K = gram(NNGP(depth=3, weight_std=2**0.5, bias_std=0.1), X)  # doctest: +SKIP
    """

    def block(self, X: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
        """k(X_i, Z_j) as an (n, m) tensor on X's device and dtype."""
        return self._block(X, Z, ntk=False)

    def diag(self, X: torch.Tensor) -> torch.Tensor:
        r""":math:`\Sigma^{L}(x_i, x_i)` for each row, shape (n,)."""
        _check_inputs(X, None)
        return self._variances(X, False)[0][-1]  # Sigma^L(x, x)


@dataclass(frozen=True)
class NTK(_FullyConnected):
    r"""Neural tangent kernel :math:`\Theta^{L}(x, x')` of a depth-L fully connected network.

    See the module docstring for the recursion and conventions (NT's
    ``stax.serial(*[Dense(w, W_std, b_std), Act()] * depth, Dense(1, W_std, b_std))``,
    input kernel ``x.x'/d``, NTK parameterization by default).

    Args:
        depth, activation, weight_std, bias_std: as in :class:`NNGP`.
        parameterization: ``"ntk"`` (NT's default; width-independent) or ``"standard"``
            (NT's ``parameterization='standard'`` with ``s=(1, 1)``; needs ``width``).
        width: the hidden width n; used by the standard parameterization only (the
            NTK-parameterized kernel does not depend on it).

    Warning:
        In standard parameterization the kernel grows linearly with ``width``: it is the
        NTK of that finite width's parameter scaling, not a width -> infinity limit.
    """

    parameterization: str = "ntk"
    width: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.parameterization not in ("ntk", "standard"):
            raise InputError(
                f"parameterization must be 'ntk' or 'standard'; got {self.parameterization!r}"
            )
        if self.width is not None and (
            isinstance(self.width, bool)
            or not isinstance(self.width, int)
            or not 1 <= self.width <= MAX_WIDTH
        ):
            shown = (
                self.width
                if not isinstance(self.width, int) or self.width < 10**18
                else (f"~2^{self.width.bit_length() - 1}")
            )
            raise InputError(
                f"width must be a positive integer up to 2^53 or None; got {shown!r:.60}"
            )
        if self.parameterization == "standard" and self.width is None and self.depth > 0:
            raise InputError(
                "the standard-parameterization NTK depends on the hidden width; pass width=n"
            )
        object.__setattr__(self, "_standard", self.parameterization == "standard")
        object.__setattr__(self, "_beta", 0.0 if self.bias_std is None else 1.0)

    def block(self, X: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
        """k(X_i, Z_j) as an (n, m) tensor on X's device and dtype."""
        return self._block(X, Z, ntk=True)

    def diag(self, X: torch.Tensor) -> torch.Tensor:
        r""":math:`\Theta^{L}(x_i, x_i)` for each row, shape (n,); exact at theta = 0."""
        _check_inputs(X, None)
        qs, es, dots = self._variances(X, True)
        if self._standard:
            theta = (X * X).sum(1).add_(self._beta)  # x.x + beta
        else:
            theta = qs[0].clone()  # Sigma^0(x, x)
        for layer in range(1, self.depth + 1):
            theta.mul_(dots[layer - 1]).mul_(self._w2[layer])  # w^2 E[phi'(u)^2] Theta^l
            if self._standard:
                theta.add_(es[layer - 1], alpha=self.width).add_(self._beta)
            else:
                theta.add_(qs[layer])
        return theta
