r"""DMFT of a deep nonlinear mean-field / muP MLP: the Monte-Carlo fixed point.

Model (Bordelon & Pehlevan 2022, Sec. 3, eq. 1-3), all weights N(0, 1), L hidden layers:

.. math::

    h^1 = W^0 x/\sqrt D,\quad h^{l+1} = W^l\phi(h^l)/\sqrt N,\quad
    f = w^L\cdot\phi(h^L)/(\gamma_0 N),

trained by full-batch gradient descent with step dt on
:math:`\frac1{2P}\sum_\mu (f_\mu - y_\mu)^2` at rate :math:`\gamma_0^2 N` (so that the
engine's mean loss (1/P) sum (f - y)^2 with learning rate eta is dt = 2 eta). With
:math:`g^l = \gamma_0 N\,\partial f/\partial h^l = \phi'(h^l) z^l`,
:math:`z^l = W^{l\top} g^{l+1}/\sqrt N`, :math:`z^L = w^L`, c = dt/P and
:math:`\Delta = y - f`, the exact finite-width updates give [derived from the chain rule;
the tests check them against networks]

.. math::

    h^{l+1}(k) = \chi^{l+1}(k) + \gamma_0 c\sum_{s<k}\Phi^l(k,s)\,\Delta(s)\odot g^{l+1}(s),
    \qquad
    z^l(k) = \xi^l(k) + \gamma_0 c\sum_{s<k} G^{l+1}(k,s)\,\Delta(s)\odot\phi(h^l(s)),

with :math:`\chi^{l+1} = W^l(0)\phi(h^l)/\sqrt N`, :math:`\xi^l = W^l(0)^\top g^{l+1}/\sqrt N`,
:math:`\Phi^0 = K^x`, :math:`G^{L+1} = 1`, and the kernels
:math:`\Phi^l(k,s) = \langle\phi(h^l(k))\phi(h^l(s))^\top\rangle`,
:math:`G^l(k,s) = \langle g^l(k) g^l(s)^\top\rangle`. As N -> infinity (Gaussian conditioning
on the iid W^l(0), the paper's eq. 5-7; here in discrete time) the random-matrix fields become

.. math::

    \chi^{l+1}(k) = u^{l+1}(k) + \sum_{s<k} A^l(k,s)\,g^{l+1}(s),\qquad
    \xi^l(k) = r^l(k) + \sum_{s\le k} B^l(k,s)\,\phi(h^l(s)),

:math:`u^{l+1}\sim\mathcal{GP}(0,\Phi^l)`, :math:`r^l\sim\mathcal{GP}(0,G^{l+1})`
independent, with the response functions
:math:`A^l(k,s) = \langle\partial\phi(h^l(k))/\partial r^l(s)\rangle` and
:math:`B^l(k,s) = \langle\partial g^{l+1}(k)/\partial u^{l+1}(s)\rangle` (the equal-time
B term is there because g^{l+1}(k) is computed from chi^{l+1}(k)). Both are O(gamma_0); the
solver carries :math:`\tilde A = A/\gamma_0`, :math:`\tilde B = B/\gamma_0`. The output is,
by Stein's lemma on :math:`r^L = w^L(0)\sim\mathcal N(0,1)`,

.. math::

    f(k) = c\sum_{s<k}\Phi^L(k,s)\Delta(s)
           + \tfrac{1}{\gamma_0}\langle\partial\phi(h^L(k))/\partial r^L\rangle,

finite as gamma_0 -> 0, where it becomes kernel gradient descent with the
infinite-width NTK :math:`K = \sum_{l=0}^{L} G^{l+1}\odot\Phi^l` (at gamma_0 = 0 the
response A^l reduces to :math:`\dot\Phi^l\odot(\tilde A^{l-1} + c\Phi^{l-1}D)`, the
backward NTK recursion).

Algorithm (the paper's Sec. 4 / App. algorithm, discrete time): from the lazy kernels,
repeat: draw the sources u, r from fixed standard normals coloured by the Cholesky factor
of the current (T P x T P) kernels (common random numbers: the map is deterministic);
solve every sample's causal forward equations layer by layer; average to new Phi, G;
compute the responses from exact per-sample Jacobians (forward-mode tangents) on the
first ``n_jacobian`` samples; update f; damp. The system is causal, so undamped Picard
iteration is exact after at most (T + 1)(L + 1) sweeps; in practice it stops much sooner
at ``tol``.

Control variates: every kernel is K_MC(k, s) + K_exact(0) - K_MC(0, 0) with the closed
forms of :mod:`lmech.theory.dmft._common`; A is split into its leading part
:math:`\dot\Phi\odot M` (estimated on all samples, with the same control variate) plus the
Jacobian remainder, and B's leading per-sample term :math:`\phi''(u) r` (mean 0) is
subtracted. So the Monte-Carlo error is O(gamma_0 / sqrt(S)) and the gamma_0 = 0 limit is
exact NTK descent.

Activations with a weak second derivative (ReLU: phi'' is a delta) use a second
estimator, ``estimator="stein"`` (the default for ``relu``): Gaussian integration by parts
over the sampled sources. For a causal functional F(k) of a Gaussian source x with
covariance C, Stein's lemma on the leading block x(s < k) (or s <= k) gives
:math:`E[\partial F(k)/\partial x(s)] = E[F(k)\,x_{<k}^\top]\,C_{<k,<k}^{+}`, which needs
no derivative of phi at all. Restricting to the leading block keeps the map causal
(the full-C inverse mixes future times in and the fixed point then fails to converge);
eigenvalues below 1e-8 of the block's largest are dropped. Control variates with known
mean derivative are subtracted first (see ``_stein_layer``): for A and f the zeroth-
and first-order paths :math:`\phi(u)` and :math:`\gamma_0\phi'(u)\sum_s M_h\phi'(u)r`,
whose derivative's mean is :math:`E[\phi'(u)\phi'(u)] \odot M_h` (closed form for ReLU
and erf over the source's two-time kernel); for B the term :math:`\phi'(u)r`. At
gamma_0 = 0 the remainders vanish and the Stein solver is exact NTK descent too.
Measured (P = 8, T = 9, depth 2, gamma_0 = 1, S = 16384): 1.1% RMS sampler spread of the
losses (1.8% at S = 8192); tanh's Stein and Jacobian curves agree within their ~1% spread.
The Jacobian estimator with ReLU's delta dropped is biased (13% low late train loss
against networks at N = 1024); it is refused.

Cost per sweep O(S T^2 P_tot (T P_tot + P) L)
for the samples and O(S_J P_tot P^2 T^3 L) for the Jacobians; memory O(S T P_tot + S_J T^2
P_tot P + L T^2 P_tot^2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lmech import progress
from lmech._memory import check_allocation
from lmech.errors import ConvergenceError, InputError
from lmech.seeding import rng
from lmech.theory.dmft._common import activation as _activation
from lmech.theory.dmft._common import (
    check_gamma0,
    check_gram,
    check_targets,
    check_time_grid,
    pair_expectations,
)
from lmech.theory.dmft.two_layer import kernel_alignment

__all__ = ["DEEP_ACTIVATIONS", "ESTIMATORS", "DeepResult", "dmft_deep", "deep_ntk"]

DEEP_ACTIVATIONS = ("tanh", "erf", "identity", "relu")
SMOOTH_ACTIVATIONS = ("tanh", "erf", "identity")  # phi'' is a function: Jacobian estimator
ESTIMATORS = ("auto", "jacobian", "stein")
# eigenvalues of a source covariance below this fraction of its largest are dropped from
# the Stein pseudo-inverse: those directions carry under 1e-4 of the source's amplitude
_STEIN_RCOND = 1e-8


def _second(name: str):
    if name == "tanh":
        return lambda x: -2.0 * np.tanh(x) * (1.0 - np.tanh(x) ** 2)
    if name == "erf":
        return lambda x: (-4.0 / math.sqrt(math.pi)) * x * np.exp(-x * x)
    # identity: phi'' = 0. ReLU: phi'' is a delta, dropped here; only the biased
    # phi''-free ablation reaches this branch (the solver uses the Stein estimator)
    return np.zeros_like


@dataclass
class DeepResult:
    """What :func:`dmft_deep` returns (time index first; kernels two-time (T, P, T, P))."""

    t: np.ndarray  # (T,)
    f: np.ndarray  # (T, P)
    f_test: np.ndarray  # (T, P_test)
    kernel: np.ndarray  # (T, P, P) NTK K(t) on the train points
    y: np.ndarray
    y_test: np.ndarray | None
    depth: int
    gamma0: float
    activation: str
    n_samples: int
    n_jacobian: int
    iterations: int
    residual: float  # last relative fixed-point change
    # rough relative Monte-Carlo standard error of the final NTK: per-sample spread of the
    # change of its Phi^L and G^1 K^x terms over sqrt(S); it errs high (the losses' spread
    # between sampler seeds is several times smaller)
    kernel_stderr: float
    residual_history: list = field(default_factory=list, repr=False)  # per sweep
    phi: list = field(default_factory=list, repr=False)  # Phi^l, l = 1..L, (T,Pt,T,Pt)
    grad: list = field(default_factory=list, repr=False)  # G^l, l = 1..L, (T,P,T,P)
    response_a: list = field(default_factory=list, repr=False)  # A^l/gamma0, l = 1..L-1
    response_b: list = field(default_factory=list, repr=False)  # B^l/gamma0, l = 1..L-1

    @property
    def train_loss(self) -> np.ndarray:
        return ((self.f - self.y) ** 2).mean(1)

    @property
    def test_loss(self) -> np.ndarray:
        if self.y_test is None or self.y_test.size == 0:
            return np.full(self.t.shape, np.nan)
        return ((self.f_test - self.y_test) ** 2).mean(1)

    @property
    def alignment(self) -> np.ndarray:
        return np.array([kernel_alignment(k, self.y) for k in self.kernel])

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "t": self.t,
                "train_loss": self.train_loss,
                "test_loss": self.test_loss,
                "alignment": self.alignment,
            }
        )


def deep_ntk(Kx, depth: int, activation: str = "tanh") -> np.ndarray:
    """Infinite-width NTK sum_l G^{l+1} * Phi^l of the depth-L chain at initialization
    (numpy closed forms; the lazy kernel of :func:`dmft_deep`)."""
    phis, dphis = _lazy_kernels(check_gram(Kx), depth, _activation(activation))
    return _ntk_from(phis, dphis)


def _lazy_kernels(Kx, L, act):
    phis, dphis = [Kx], [None]
    for _ in range(L):
        e1, e2 = pair_expectations(act, phis[-1])
        phis.append(e1)
        dphis.append(e2)
    return phis, dphis


def _ntk_from(phis, dphis):
    L = len(phis) - 1
    G = np.ones_like(phis[0])
    K = phis[L].copy()
    for lay in range(L, 0, -1):
        G = G * dphis[lay]
        K = K + G * phis[lay - 1]
    return K


def _chol(C: np.ndarray) -> np.ndarray:
    """A factor L with L L^T = C (time-major, so lower-triangular = causal), jittered;
    an eigenvalue-clipped square root if C has negative directions beyond the jitter."""
    C = 0.5 * (C + C.T)
    if not np.isfinite(C).all():
        raise ConvergenceError(
            "dmft_deep: a kernel became NaN/infinite during the fixed point; use a smaller "
            "step dt or damping < 1"
        )
    scale = max(float(np.abs(np.diag(C)).max()), 1e-300)
    for jit in (1e-12, 1e-10, 1e-8):
        try:
            return np.linalg.cholesky(C + jit * scale * np.eye(len(C)))
        except np.linalg.LinAlgError:
            continue
    w, V = np.linalg.eigh(C)
    return V * np.sqrt(np.clip(w, 0.0, None))[None, :]


def _psd_roots(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A^{1/2}, pseudo-inverse of A^{1/2}) of a symmetric PSD matrix."""
    w, V = np.linalg.eigh(0.5 * (A + A.T))
    w = np.clip(w, 0.0, None)
    keep = w > 1e-12 * max(float(w.max()), 1e-300)
    r = np.sqrt(w)
    inv = np.where(keep, 1.0 / np.where(keep, r, 1.0), 0.0)
    return (V * r) @ V.T, (V * inv) @ V.T


def _psd_pinv(C: np.ndarray, rcond: float) -> np.ndarray:
    """Pseudo-inverse of a symmetric PSD matrix, eigenvalues below rcond * max dropped."""
    w, V = np.linalg.eigh(0.5 * (C + C.T))
    keep = w > rcond * max(float(w.max()), 1e-300)
    Vk = V[:, keep]
    return (Vk / w[keep]) @ Vk.T


def _cv_congruent(K_mc: np.ndarray, K_exact: np.ndarray) -> np.ndarray:
    """Q K_mc(k, s) Q^T with Q = K_exact^{1/2} K_mc(0, 0)^{-1/2}: exact at (0, 0), positive
    semi-definite as a two-time covariance, and an error that scales with the kernel's
    change (a control variate that keeps the kernel samplable)."""
    root, _ = _psd_roots(K_exact)
    _, inv = _psd_roots(K_mc[0, :, 0, :])
    Q = root @ inv
    out = np.einsum("ab,kbsc->kasc", Q, K_mc, optimize=True)
    return np.einsum("kasc,dc->kasd", out, Q, optimize=True)


def dmft_deep(
    Kx,
    y,
    *,
    t_grid,
    depth: int = 2,
    activation: str = "tanh",
    gamma0: float = 1.0,
    y_test=None,
    n_samples: int = 8192,
    n_jacobian: int = 256,
    damping: float = 1.0,
    tol: float = 1e-7,
    max_iter: int | None = None,
    mc_tol: float | None = None,
    seed: int = 0,
    responses: bool = True,
    estimator: str = "auto",
    progress_label: str | None = "DMFT deep",
) -> DeepResult:
    r"""Solve the deep DMFT (module docstring) for gradient descent on an equal-step grid.

    Args:
        Kx: (P_tot, P_tot) input Gram x . x' / D, the P training points first.
        y: (P,) training targets.
        t_grid: equally spaced times 0, dt, 2 dt, ...: one gradient-descent step of the
            (1/(2P)) sum (f - y)^2 loss per interval (a fine grid approximates the flow).
        depth: L >= 1 hidden layers (L = 1 is the two-layer network).
        activation: ``tanh``, ``erf``, ``identity`` or ``relu``.
        gamma0: richness >= 0 (0: static NTK).
        y_test: (P_test,) test targets (optional).
        n_samples: S Monte-Carlo samples of each layer's single-site process.
        n_jacobian: S_J of them carry exact Jacobians for the response functions
            (Jacobian estimator only; the Stein estimator uses all S samples).
        damping: beta in X <- (1 - beta) X + beta X_new, in (0, 1].
        tol: relative fixed-point change at which the iteration stops.
        max_iter: sweep cap (default (T + 1)(L + 1), where the causal iteration is exact);
            reaching it above ``tol`` raises :class:`ConvergenceError`.
        mc_tol: if given, the largest relative Monte-Carlo standard error accepted on the
            final NTK; an S too small for it already at initialization raises
            :class:`InputError` before the solve, a final error above it
            :class:`ConvergenceError` (both name the sample count needed).
        seed: seed of the base normals (``rng(seed, "dmft-deep", ...)``).
        responses: False drops the response functions A and B of the hidden matrices
            (an ablation: the fields then ignore the reaction of W^l(0); the tests show
            that this misses trained networks at depth >= 2).
        estimator: how the responses are estimated: ``jacobian`` (exact per-sample
            tangents; needs phi'', so tanh, erf, identity), ``stein`` (Gaussian
            integration by parts; any activation) or ``auto`` (jacobian where phi'' is a
            function, stein for relu).
    """
    Kx = check_gram(Kx)
    g0 = check_gamma0(gamma0)
    t = check_time_grid(t_grid)
    dts = np.diff(t)
    if not np.allclose(dts, dts[0], rtol=1e-9, atol=0.0):
        raise InputError(
            "dmft_deep needs an equally spaced time grid (one gradient-descent step per "
            f"interval); got steps from {dts.min():g} to {dts.max():g}. Pass "
            "np.arange(n) * dt"
        )
    dt = float(dts[0])
    y = np.asarray(y, dtype=np.float64)
    P = y.size
    if P < 1 or P > Kx.shape[0]:
        raise InputError(
            f"y has {P} targets but the Gram covers {Kx.shape[0]} points; the first P "
            "rows/columns of Kx are the training points"
        )
    y = check_targets(y, P)
    Pt = Kx.shape[0]
    if y_test is not None:
        y_test = np.asarray(y_test, dtype=np.float64)
        if y_test.shape != (Pt - P,):
            raise InputError(f"y_test must have shape ({Pt - P},); got {y_test.shape}")
    if isinstance(depth, bool) or not isinstance(depth, int | np.integer) or depth < 1:
        raise InputError(f"depth must be an integer >= 1 (hidden layers); got {depth!r}")
    L = int(depth)
    act = _activation(activation)
    if act.name not in DEEP_ACTIVATIONS:
        raise InputError(
            f"dmft_deep supports the activations {DEEP_ACTIVATIONS}; got {act.name!r}. "
            "Pass one of them by name"
        )
    if estimator not in ESTIMATORS:
        raise InputError(
            f"estimator must be one of {ESTIMATORS} (how the response functions are "
            f"estimated); got {estimator!r}"
        )
    if estimator == "auto":
        estimator = "jacobian" if act.name in SMOOTH_ACTIVATIONS else "stein"
    if estimator == "jacobian" and act.name not in SMOOTH_ACTIVATIONS:
        raise InputError(
            f"estimator='jacobian' needs a twice-differentiable activation "
            f"{SMOOTH_ACTIVATIONS} (its tangents use phi''); {act.name!r} has a weak "
            "second derivative. Use estimator='stein' (or 'auto')"
        )
    stein = estimator == "stein"
    for name, v, least in (("n_samples", n_samples, 16), ("n_jacobian", n_jacobian, 2)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < least:
            raise InputError(f"{name} must be an integer >= {least}; got {v!r}")
    S, SJ = int(n_samples), int(min(n_jacobian, n_samples))
    if not (isinstance(damping, int | float) and 0 < damping <= 1):
        raise InputError(f"damping must be in (0, 1]; got {damping!r}")
    if not (isinstance(tol, int | float) and tol > 0 and math.isfinite(tol)):
        raise InputError(f"tol must be a positive number; got {tol!r}")
    if mc_tol is not None and not (isinstance(mc_tol, int | float) and mc_tol > 0):
        raise InputError(f"mc_tol must be a positive number or None; got {mc_tol!r}")
    T = len(t)
    max_iter = (T + 1) * (L + 1) if max_iter is None else int(max_iter)
    if max_iter < 1:
        raise InputError(f"max_iter must be >= 1; got {max_iter}")
    check_allocation(
        8 * (L * S * T * (5 * Pt + 5 * P) + 6 * SJ * T * T * Pt * P + 8 * L * (T * Pt) ** 2)
        + (8 * 4 * S * T * Pt if stein else 0),  # Stein: phi'(u), the path, the remainder
        f"the deep DMFT (depth {L}, {S} samples, {SJ} Jacobians, {T} times, {Pt} points)",
        "use fewer samples, Jacobian samples, grid times or points",
    )
    d1, d2 = act.fn, act.deriv
    d3 = _second(act.name)
    c = dt / P

    # closed-form lazy kernels (control variates) and their NTK
    phis0, dphis0 = _lazy_kernels(Kx, L, act)
    G0 = [None] * (L + 2)
    G0[L + 1] = np.ones((P, P))
    for lay in range(L, 0, -1):
        G0[lay] = dphis0[lay][:P, :P] * G0[lay + 1]
    ntk0 = _ntk_from(phis0, dphis0)
    rms0 = float(np.sqrt((ntk0[:P, :P] ** 2).mean()))

    gen = rng(seed, "dmft-deep", "base-normals")
    eps_u = [None] + [gen.standard_normal((S, T * Pt)) for _ in range(L)]
    eps_r = [None] + [gen.standard_normal((S, T * P)) for _ in range(L - 1)]
    eps_r.append(gen.standard_normal(S))
    eps_u[1] = eps_u[1][:, :Pt]  # layer 1's field is fixed in time (fixed inputs)

    def tile(K, a, b):  # a constant-in-time two-time kernel (T, a, T, b)
        return np.broadcast_to(K[None, :, None, :], (T, a, T, b)).copy()

    # state: Phi^l (l = 0..L), G^l (l = 1..L+1), At^l (l = 0..L-1), Bt^l (l = 1..L), f
    Phi = [tile(phis0[0], Pt, Pt)] + [tile(phis0[lay], Pt, Pt) for lay in range(1, L + 1)]
    G = [None] + [tile(G0[lay], P, P) for lay in range(1, L + 2)]
    At = [np.zeros((T, Pt, T, P)) for _ in range(L)]
    Bt = [None] + [np.zeros((T, P, T, P)) for _ in range(L)]
    f = np.asarray(_lazy_descent(ntk0, y, T, dt, P), dtype=np.float64)  # lazy start (T, Pt)
    causal = np.tril(np.ones((T, T)), -1)  # s < k
    causal_eq = np.tril(np.ones((T, T)))  # s <= k
    L1 = np.linalg.cholesky(Kx + 1e-12 * max(float(np.abs(Kx).max()), 1e-300) * np.eye(Pt))

    if mc_tol is not None:
        # relative standard error of a kernel at initialization without the control
        # variate (the spread of one sample's phi phi^T, first layer)
        ph = d1(eps_u[1][: min(S, 512)] @ L1.T)
        prod = ph[:, :P, None] * ph[:, None, :P]
        se = float(np.sqrt(prod.var(0).mean() / S)) / rms0
        if se > mc_tol:
            need = int(math.ceil(S * (se / mc_tol) ** 2))
            raise InputError(
                f"n_samples={S} gives a relative Monte-Carlo standard error of about {se:.2g} "
                f"on the kernels, above mc_tol={mc_tol:g}; use at least {need} samples or a "
                "looser mc_tol"
            )

    def layer(lay, Phi_prev, A_prev, G_next, B_here, delta, jac):
        """Samples of layer ``lay``: returns (phi, dphi, g, Jacobian products)."""
        # operators M_h (k, s, Pt, P) and M_z (k, s, P, P)
        Mh = np.einsum("kpsq,sq->kspq", Phi_prev[:, :, :, :P], delta) * c
        Mh = Mh + np.transpose(A_prev, (0, 2, 1, 3))
        Mh *= causal[:, :, None, None]
        Mz = np.einsum("kpsq,sq->kspq", G_next, delta) * c * causal[:, :, None, None]
        if B_here is not None:
            Mz = Mz + np.transpose(B_here, (0, 2, 1, 3)) * causal_eq[:, :, None, None]
        # sources
        if lay == 1:
            u = np.broadcast_to((eps_u[1] @ L1.T)[:, None, :], (S, T, Pt))
        else:
            Cu = Phi_prev.reshape(T * Pt, T * Pt)
            u = (eps_u[lay] @ _chol(Cu).T).reshape(S, T, Pt)
        if lay == L:
            r = np.broadcast_to(eps_r[L][:, None, None], (S, T, P))
        else:
            Cr = G_next.reshape(T * P, T * P)
            r = (eps_r[lay] @ _chol(Cr).T).reshape(S, T, P)
        h = np.zeros((S, T, Pt))
        z = np.zeros((S, T, P))
        g = np.zeros((S, T, P))
        ph = np.zeros((S, T, Pt))
        for k in range(T):
            h[:, k] = u[:, k]
            if k and g0:
                h[:, k] += g0 * _vec(Mh[k, :k], g[:, :k])
            ph[:, k] = d1(h[:, k])
            z[:, k] = r[:, k]
            if g0:
                z[:, k] += g0 * _vec(Mz[k, : k + 1], ph[:, : k + 1, :P])
            g[:, k] = d2(h[:, k, :P]) * z[:, k]
        dph = d2(h)
        out = {"phi": ph, "dphi": dph, "g": g, "Mh": Mh}
        if not jac:
            return out
        if stein:
            out.update(_stein_layer(lay, u, r, ph, g, Mh, Phi_prev, G_next))
            return out
        if not responses and lay < L:  # the ablation needs only the top layer's tangent
            return out
        # the top layer's tangent has one column (r^L is a scalar): cheap on all samples
        n = S if lay == L else SJ
        hj, zj, dj = h[:n], z[:n], dph[:n]
        ddj = d3(hj[:, :, :P])
        uj, rj = u[:n], r[:n]
        # r-tangents: Th = (d h / d r) / gamma0 over Pt rows, columns (s, nu) or one column
        C = 1 if lay == L else T * P
        Th = np.zeros((n, T, Pt, C))
        Jg = np.zeros((n, T, P, C))
        dTh = np.zeros((n, T, P, C))
        for k in range(T):
            if k:
                Th[:, k] = _mat(Mh[k, :k], Jg[:, :k])
            Jz = np.zeros((n, P, C))
            if lay == L:
                Jz += 1.0
            else:
                Jz[:, np.arange(P), k * P + np.arange(P)] = 1.0
            if g0:
                dTh[:, k] = dj[:, k, :P, None] * Th[:, k, :P]
                Jz += g0 * g0 * _mat(Mz[k, : k + 1], dTh[:, : k + 1])
            Jg[:, k] = (
                dj[:, k, :P, None] * Jz + g0 * (ddj[:, k] * zj[:, k])[:, :, None] * Th[:, k, :P]
            )
        out["a_full"] = np.einsum("nkp,nkpc->kpc", dj, Th, optimize=True) / n  # (T, Pt, C)
        dphJ = (dj.reshape(n, T * Pt).T @ dj[:, :, :P].reshape(n, T * P) / n).reshape(
            T, Pt, T, P
        )  # E_J[phi'(k) phi'(s)]
        out["lead_J"] = dphJ * np.transpose(Mh, (0, 2, 1, 3))
        if lay >= 2 and responses:
            # u-tangents (train rows), columns (s, nu): B~^{lay-1} = E[dg/du] / gamma0
            n = SJ
            zj, dj, ddj, uj, rj = zj[:n], dj[:n], ddj[:n], uj[:n], rj[:n]
            Uh = np.zeros((n, T, P, T * P))
            Ug = np.zeros((n, T, P, T * P))
            dUh = np.zeros((n, T, P, T * P))
            idx = np.arange(P)
            for k in range(T):
                Uh[:, k, idx, k * P + idx] = 1.0
                if k and g0:
                    Uh[:, k] += g0 * _mat(Mh[k, :k, :P], Ug[:, :k])
                dUh[:, k] = dj[:, k, :P, None] * Uh[:, k]
                Uz = g0 * _mat(Mz[k, : k + 1], dUh[:, : k + 1]) if g0 else 0.0
                Ug[:, k] = (ddj[:, k] * zj[:, k])[:, :, None] * Uh[:, k] + dj[:, k, :P, None] * Uz
            bfull = Ug.mean(0)  # (T, P, T P)
            lead = (d3(uj[:, :, :P]) * rj).mean(0)  # (T, P): mean-zero leading term
            for k in range(T):
                bfull[k, idx, k * P + idx] -= lead[k]
            out["b"] = bfull.reshape(T, P, T, P) / g0 if g0 else np.zeros((T, P, T, P))
        return out

    def cv(K_mc, K_exact):
        return K_mc + (K_exact - K_mc[0, :, 0, :])[None, :, None, :]

    def dphi_of_sources(lay, u, Phi_prev):
        """E[phi'(u(k)) phi'(u(s))] (T, Pt, T, P) of the Gaussian source u ~ GP(0, Phi_prev):
        closed form where one exists, else the samples with the t = 0 control variate."""
        if lay == 1:
            return tile(dphis0[1][:, :P], Pt, P)
        if act.name != "tanh":
            _, e2 = pair_expectations(act, Phi_prev.reshape(T * Pt, T * Pt))
            return e2.reshape(T, Pt, T, Pt)[:, :, :, :P].copy()
        d = d2(u)
        dP = (d.reshape(S, T * Pt).T @ d[:, :, :P].reshape(S, T * P) / S).reshape(T, Pt, T, P)
        return cv(dP, dphis0[lay][:, :P])

    def _stein_layer(lay, u, r, ph, g, Mh, Phi_prev, G_next):
        """Responses by Gaussian integration by parts over the sampled sources (no phi'').

        Stein's lemma for a Gaussian source x ~ N(0, C) independent of the other source:
        E[dF/dx] = E[F x^T] C^+. Each F is first reduced by a control variate whose
        derivative's mean is known: for A and f, F = phi(h(k)) minus phi(u(k)) (independent
        of r) minus gamma0 phi'(u(k)) sum_s M_h(k, s) phi'(u(s)) r(s) (the first-order
        path, mean derivative E[phi'(u) phi'(u)] M_h); for B, F = g(k) minus
        phi'(u(k)) r(k) (mean derivative 0). What is left is O(gamma0^2) per sample for
        smooth phi (O(gamma0^{3/2}) in RMS for ReLU, whose sign flips cost O(gamma0) with
        probability O(gamma0)), so the O(gamma0) responses divided by gamma0 carry a
        Monte-Carlo error O(gamma0 / sqrt(S)) (O(1/sqrt(gamma0 S)) for ReLU's B).
        """
        out = {}
        dPu = dphi_of_sources(lay, u, Phi_prev)  # (T, Pt, T, P)
        MhT = np.transpose(Mh, (0, 2, 1, 3))
        lead = dPu * MhT
        dpu = d2(u)
        src = dpu[:, :, :P] * r  # phi'(u(s)) r(s), (S, T, P)
        lin = np.zeros((S, T, Pt))
        for k in range(1, T):
            lin[:, k] = dpu[:, k] * _vec(Mh[k, :k], src[:, :k])
        R = ph - d1(u) - g0 * lin  # (S, T, Pt), O(gamma0^2)
        if lay == L:  # r^L = w^L(0) ~ N(0, 1), one column; f = ... + E[phi(h) w] / gamma0
            w = r[:, 0, 0]
            rem = np.einsum("nkp,n->kp", R, w, optimize=True) / S / g0 if g0 else 0.0
            out["f_resp"] = lead.sum((2, 3)) + rem
        elif responses:
            rem = np.zeros((T, Pt, T, P))
            if g0:
                rr = r.reshape(S, T * P)
                Cr = G_next.reshape(T * P, T * P)
                for k in range(1, T):  # h(k) depends on r(s < k) only: the leading block
                    n = k * P
                    cov = R[:, k].T @ rr[:, :n] / S  # (Pt, k P)
                    rem[k, :, :k] = (cov @ _psd_pinv(Cr[:n, :n], _STEIN_RCOND)).reshape(Pt, k, P)
            out["a"] = lead + rem / g0 if g0 else lead
        if lay >= 2 and responses:
            b = np.zeros((T, P, T, P))
            if g0:
                RB = g - src  # g(k) - phi'(u(k)) r(k), (S, T, P), O(gamma0)
                uu = u[:, :, :P].reshape(S, T * P)
                Cu = Phi_prev[:, :P, :, :P].reshape(T * P, T * P)
                for k in range(T):  # g(k) depends on u(s <= k) only: the leading block
                    n = (k + 1) * P
                    cov = RB[:, k].T @ uu[:, :n] / S  # (P, (k + 1) P)
                    b[k, :, : k + 1] = (cov @ _psd_pinv(Cu[:n, :n], _STEIN_RCOND)).reshape(
                        P, k + 1, P
                    )
                b /= g0
            out["b"] = b
        return out

    it, res, history = 0, float("inf"), []
    bar = progress.task(progress_label, max_iter) if progress_label else _null()
    with bar as advance:
        while it < max_iter:
            it += 1
            delta = y[None, :] - f[:, :P]  # (T, P)
            new_Phi, new_G, new_A, new_B = [Phi[0]], [None] * (L + 2), [At[0]], [None] * (L + 1)
            new_G[L + 1] = G[L + 1]
            stats = {}
            for lay in range(1, L + 1):
                B_here = Bt[lay] if lay < L else None
                o = layer(lay, new_Phi[lay - 1], new_A[lay - 1], G[lay + 1], B_here, delta,
                          jac=True)  # fmt: skip
                ph = o["phi"].reshape(S, T * Pt)
                Phi_mc = (ph.T @ ph / S).reshape(T, Pt, T, Pt)
                new_Phi.append(_cv_congruent(Phi_mc, phis0[lay]))
                gg = o["g"].reshape(S, T * P)
                new_G[lay] = _cv_congruent((gg.T @ gg / S).reshape(T, P, T, P), G0[lay])
                d = o["dphi"]
                dP = (d.reshape(S, T * Pt).T @ d[:, :, :P].reshape(S, T * P) / S).reshape(
                    T, Pt, T, P
                )
                dP = cv(dP, dphis0[lay][:, :P])
                MhT = np.transpose(o["Mh"], (0, 2, 1, 3))
                if stein:
                    if lay < L:
                        new_A.append(o["a"] if responses else np.zeros((T, Pt, T, P)))
                    else:
                        stats["f_resp"] = o["f_resp"]
                elif lay < L and responses:
                    rem = o["a_full"].reshape(T, Pt, T, P) - o["lead_J"]
                    new_A.append(dP * MhT + rem)
                elif lay < L:
                    new_A.append(np.zeros((T, Pt, T, P)))
                else:
                    rem = o["a_full"][:, :, 0] - o["lead_J"].sum((2, 3))
                    stats["f_resp"] = (dP * MhT).sum((2, 3)) + rem
                if lay >= 2:
                    new_B[lay - 1] = o["b"] if responses else np.zeros((T, P, T, P))
                stats[lay] = o
            # f(k) = c sum_{s<k} Phi^L(k, s) Delta(s) + (1/gamma0) <d phi(h^L(k)) / d r^L>
            PhiL = new_Phi[L][:, :, :, :P] * causal[:, None, :, None]
            f_new = c * np.einsum("kpsq,sq->kp", PhiL, delta) + stats["f_resp"]
            f_new[0] = 0.0
            # damped update and relative change
            changes = [np.abs(f_new - f).max() / max(np.abs(f_new).max(), 1e-12)]
            b = float(damping)
            f = (1 - b) * f + b * f_new
            for lay in range(1, L + 1):
                for old, new in ((Phi[lay], new_Phi[lay]), (G[lay], new_G[lay])):
                    changes.append(np.abs(new - old).max() / max(np.abs(new).max(), 1e-12))
                Phi[lay] = (1 - b) * Phi[lay] + b * new_Phi[lay]
                G[lay] = (1 - b) * G[lay] + b * new_G[lay]
                if lay < L:
                    At[lay] = (1 - b) * At[lay] + b * new_A[lay]
                    Bt[lay] = (1 - b) * Bt[lay] + b * new_B[lay]
            res = float(max(changes))
            history.append(res)
            if not (np.isfinite(f).all() and np.abs(f).max() < 1e6 * (1 + np.abs(y).max())):
                raise ConvergenceError(
                    f"dmft_deep diverged at sweep {it} (gamma0={g0:g}, dt={dt:g}); use a "
                    "smaller step dt or damping < 1"
                )
            advance(1)
            if res < tol:
                break
    if res >= tol:
        raise ConvergenceError(
            f"dmft_deep did not converge in {it} sweeps: relative change {res:.2g} > "
            f"tol={tol:g}; raise max_iter, lower damping or loosen tol"
        )
    # NTK at equal times on the train points: sum_l G^{l+1}(t,t) * Phi^l(t,t)
    kern = np.zeros((T, P, P))
    for k in range(T):
        K = Phi[L][k, :P, k, :P].copy()
        for lay in range(1, L + 1):
            K += G[lay][k, :, k, :] * Phi[lay - 1][k, :P, k, :P]
        kern[k] = K
    # Monte-Carlo error of the final NTK: per-sample spread of the kernel change
    o = stats[L]
    sub = slice(0, min(S, 512))
    ph_end, ph_0 = o["phi"][sub, -1, :P], o["phi"][sub, 0, :P]
    dlt = ph_end[:, :, None] * ph_end[:, None, :] - ph_0[:, :, None] * ph_0[:, None, :]
    g_end, g_st = stats[1]["g"][sub, -1], stats[1]["g"][sub, 0]
    dlt = (
        dlt
        + (g_end[:, :, None] * g_end[:, None, :] - g_st[:, :, None] * g_st[:, None, :])
        * Kx[None, :P, :P]
    )
    kernel_se = float(np.sqrt(dlt.var(0).mean() / S)) / rms0
    if mc_tol is not None and kernel_se > mc_tol:
        need = int(math.ceil(S * (kernel_se / mc_tol) ** 2))
        raise ConvergenceError(
            f"dmft_deep: relative Monte-Carlo error of the final kernel {kernel_se:.2g} with "
            f"{S} samples, above mc_tol={mc_tol:g}; rerun with at least {need} samples"
        )
    return DeepResult(
        t=t, f=f[:, :P], f_test=f[:, P:], kernel=kern, y=y, y_test=y_test, depth=L,
        gamma0=g0, activation=act.name, n_samples=S, n_jacobian=SJ, iterations=it,
        residual=res, residual_history=history, kernel_stderr=kernel_se, phi=Phi[1:], grad=G[1 : L + 1],
        response_a=At[1:], response_b=Bt[1:L],
    )  # fmt: skip


def _vec(M: np.ndarray, X: np.ndarray) -> np.ndarray:
    """sum_{s, q} M[s, p, q] X[n, s, q] -> (n, p) as one matrix product."""
    k, p, q = M.shape
    return X.reshape(X.shape[0], k * q) @ M.transpose(1, 0, 2).reshape(p, k * q).T


def _mat(M: np.ndarray, X: np.ndarray) -> np.ndarray:
    """sum_{s, q} M[s, p, q] X[n, s, q, c] -> (n, p, c) as one batched matrix product."""
    k, p, q = M.shape
    if X.shape[-1] == 1:  # one column: a single matrix product over the samples
        return _vec(M, X[..., 0])[..., None]
    return M.transpose(1, 0, 2).reshape(p, k * q) @ X.reshape(X.shape[0], k * q, X.shape[-1])


def _lazy_descent(K, y, T, dt, P):
    """f(k) of gradient descent with the static kernel K (f(0) = 0), train points first."""
    f = np.zeros((T, K.shape[0]))
    for k in range(1, T):
        f[k] = f[k - 1] + (dt / P) * K[:, :P] @ (y - f[k - 1, :P])
    return f


class _null:
    def __enter__(self):
        return lambda k=1: None

    def __exit__(self, *exc):
        return False
