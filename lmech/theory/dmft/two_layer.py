r"""DMFT of a two-layer network in the mean-field / muP limit: the particle method.

Model (Bordelon & Pehlevan 2022, Sec. 3 and App. for two-layer networks; Mei, Montanari,
Nguyen 2018):

.. math::

    f_\mu = \frac{1}{\gamma_0 N} \sum_{i=1}^N a_i \phi(h_{i\mu}),\qquad
    h_{i\mu} = w_i \cdot x_\mu / \sqrt D,\qquad a_i, w_{ij} \sim \mathcal N(0, 1),

trained by gradient flow :math:`\dot\theta = -\gamma_0^2 N \nabla_\theta \mathcal L` on
:math:`\mathcal L = \frac{1}{2P}\sum_\mu (f_\mu - y_\mu)^2`. With
:math:`\Delta_\mu = y_\mu - f_\mu` and :math:`K^x = X X^\top / D`, each neuron is a particle
:math:`(a_i, h_i)` over the training *and* test points [derived from the chain rule]:

.. math::

    \dot a_i = \frac{\gamma_0}{P}\sum_\mu \Delta_\mu \phi(h_{i\mu}),\qquad
    \dot h_{i\nu} = \frac{\gamma_0}{P}\, a_i \sum_\mu K^x_{\nu\mu}\phi'(h_{i\mu})\Delta_\mu,

and, exactly at every N,

.. math::

    \dot f_\nu = \frac1P\sum_\mu K_{\nu\mu}(t)\,\Delta_\mu,\qquad
    K = \Phi + G \odot K^x,\quad \Phi = \langle \phi(h)\phi(h)^\top\rangle,\quad
    G = \langle a^2 \phi'(h)\phi'(h)^\top\rangle .

Two-layer networks have no hidden-to-hidden random matrix, hence no response functions:
the N -> infinity limit is the average over the initial law a ~ N(0, 1),
h(0) ~ N(0, K^x), and a finite sample of M particles is a width-M network. f is
integrated from the kernel (f(0) = 0, the infinite-width value), never read off the
particles, so nothing divides by gamma_0 and gamma_0 = 0 is the static-kernel limit.

Control variate: the kernel is taken as :math:`K(t) = K_\text{exact}(0) + K_M(t) - K_M(0)`,
with :math:`K_\text{exact}(0)` in closed form (:mod:`lmech.theory.dmft._common`); the
Monte-Carlo error then scales with the kernel's *change*, which is O(gamma_0^2) at small
gamma_0 (the first-order change is odd in a and averages to zero), so the lazy limit is
exact to the time integrator's accuracy.

Time stepping: ``scheme="rk4"`` integrates the flow (classical Runge-Kutta, ``substeps``
per grid interval); ``scheme="euler"`` is full-batch gradient descent with step dt on the
particle network: Euler steps of the particles, and f moves by the exact change of
:math:`\frac{1}{\gamma_0}\langle a\phi(h)\rangle` over the step (so the O(dt^2) terms of
a real gradient-descent step are kept) plus the control-variate correction times dt. A
network trained with the engine's mean loss (1/P) sum (f - y)^2 and learning rate eta
takes steps dt = 2 eta.

Cost O(M P_tot r) per step with r = rank K^x <= D (the particles move inside the span
of K^x: h = z R^T with K^x = R R^T, state (a, z)); memory a few (M, P_tot) arrays.
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
from lmech.theory.dmft._common import (
    activation as _activation,
)
from lmech.theory.dmft._common import (
    check_gamma0,
    check_gram,
    check_targets,
    check_time_grid,
    pair_expectations,
)

__all__ = ["TwoLayerResult", "dmft_two_layer", "kernel_alignment", "lazy_kernel_flow"]

SCHEMES = ("rk4", "euler")


def kernel_alignment(K: np.ndarray, y: np.ndarray) -> float:
    r"""Centred-free kernel-target alignment :math:`y^\top K y / (\|K\|_F \|y\|^2)`."""
    return float(y @ K @ y / (np.linalg.norm(K) * (y @ y)))


@dataclass
class TwoLayerResult:
    """What :func:`dmft_two_layer` returns (arrays indexed by the time grid first)."""

    t: np.ndarray  # (T+1,)
    f: np.ndarray  # (T+1, P) train predictions
    f_test: np.ndarray  # (T+1, P_test)
    kernel: np.ndarray  # (T+1, P_tot, P_tot) NTK K(t) over train + test points
    phi_kernel: np.ndarray  # (T+1, P, P) feature kernel Phi(t, t) on the train points
    y: np.ndarray
    y_test: np.ndarray | None
    n_particles: int
    n_steps: int
    kernel_stderr: float  # relative Monte-Carlo standard error of K(T) (train block)
    gamma0: float
    activation: str
    stored_phi: np.ndarray | None = field(default=None, repr=False)  # (T+1, n_store, P)

    @property
    def train_loss(self) -> np.ndarray:
        """Mean squared error (1/P) sum (f - y)^2 at each grid time."""
        return ((self.f - self.y) ** 2).mean(1)

    @property
    def test_loss(self) -> np.ndarray:
        if self.y_test is None or self.y_test.size == 0:
            return np.full(self.t.shape, np.nan)
        return ((self.f_test - self.y_test) ** 2).mean(1)

    @property
    def alignment(self) -> np.ndarray:
        P = self.y.size
        if len(self.kernel) != len(self.t):
            return np.full(self.t.shape, np.nan)
        return np.array([kernel_alignment(k[:P, :P], self.y) for k in self.kernel])

    def feature_kernel_two_time(self, i: int, j: int) -> np.ndarray:
        """Phi(t_i, t_j) on the train points, from the stored particles (``n_store``)."""
        if self.stored_phi is None:
            raise InputError("two-time kernels need dmft_two_layer(..., n_store > 0)")
        a, b = self.stored_phi[i], self.stored_phi[j]
        return a.T @ b / a.shape[0]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "t": self.t,
                "train_loss": self.train_loss,
                "test_loss": self.test_loss,
                "alignment": self.alignment,
            }
        )


def lazy_kernel_flow(
    K: np.ndarray, y: np.ndarray, t_grid, *, n_train: int | None = None, dt: float | None = None
) -> np.ndarray:
    r"""Predictions (T+1, P_tot) of kernel gradient flow (or descent) with a static kernel.

    Flow: :math:`\dot f = \frac1P K_{:, \text{tr}} (y - f_\text{tr})`, f(0) = 0, solved in
    the eigenbasis of the train block :math:`K_{tr} = V \Lambda V^\top`:
    :math:`f_\text{tr}(t) = V (1 - e^{-\Lambda t / P}) V^\top y` and
    :math:`f_\text{all}(t) = K_{:, tr} V \,\mathrm{diag}((1 - e^{-\lambda t/P})/\lambda)\, V^\top y`.
    With ``dt`` it is gradient descent with step dt instead: :math:`e^{-\lambda t/P}`
    becomes :math:`(1 - \lambda\, dt/P)^{t/dt}`.
    """
    K = np.asarray(K, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    P = y.size if n_train is None else n_train
    t = np.asarray(t_grid, dtype=np.float64)
    lam, V = np.linalg.eigh(K[:P, :P])
    lam = np.clip(lam, 0.0, None)
    yt = V.T @ y
    if dt is None:
        decay = np.exp(-np.outer(t, lam) / P)
    else:
        steps = np.rint(t / dt)
        decay = (1.0 - lam * dt / P)[None, :] ** steps[:, None]
    small = lam < 1e-14 * max(lam.max(), 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(small[None, :], 0.0, (1.0 - decay) / np.where(small, 1.0, lam)[None, :])
    # f(t) = (1/P) K_{:,tr} int_0^t Delta ds with int_0^t e^{-lam s/P} ds = P (1 - e^{-lam t/P}) / lam
    # (and the same sum for descent); a null mode of the PSD train block is also null in
    # K_{:, tr}, so its gain does not matter (0)
    return (gain * yt[None, :]) @ (K[:, :P] @ V).T


def dmft_two_layer(
    Kx,
    y,
    *,
    t_grid,
    activation: str = "relu",
    gamma0: float = 1.0,
    y_test=None,
    n_particles: int = 20_000,
    seed: int = 0,
    scheme: str = "rk4",
    substeps: int = 1,
    control_variate: bool = True,
    tol: float | None = None,
    n_store: int = 0,
    particles: tuple[np.ndarray, np.ndarray] | None = None,
    kernels: bool = True,
    progress_label: str | None = "DMFT two-layer",
) -> TwoLayerResult:
    r"""Solve the two-layer DMFT (module docstring) on a time grid by M particles.

    Args:
        Kx: (P_tot, P_tot) input Gram x_mu . x_nu / D over the P training points (first)
            and the test points (after them); symmetric positive semi-definite.
        y: (P,) training targets.
        t_grid: increasing times starting at 0 (gradient-flow time of the
            :math:`\frac{1}{2P}\sum (f - y)^2` loss).
        activation: ``relu``, ``erf``, ``tanh`` or ``identity``.
        gamma0: richness gamma_0 >= 0 (0: static NTK).
        y_test: (P_test,) test targets, for the test loss (optional).
        n_particles: M Monte-Carlo particles (neurons), >= 2.
        seed: seed of the particle draw (``lmech.seeding.rng(seed, "dmft-two-layer")``).
        scheme: ``"rk4"`` (flow) or ``"euler"`` (= gradient descent with the step dt).
        substeps: integration steps per grid interval.
        control_variate: use the closed-form K(0) (module docstring).
        tol: if given, the largest relative Monte-Carlo standard error accepted on the
            final kernel; a larger one raises :class:`ConvergenceError` naming the
            particle count needed. Before the run, an M too small for tol even at
            initialization (without the control variate) raises :class:`InputError`.
        n_store: particles whose phi(h) on the train points is kept at every grid time
            (for two-time kernels Phi(t, s)).
        particles: optional initial (a (M,), h (M, P_tot)) instead of the random draw,
            e.g. the neurons of a real network (then the solver is that network's
            gradient descent; ``n_particles`` is ignored).
        kernels: record K(t) and Phi(t) at the grid times (an O(M P_tot^2) product each);
            False keeps only the predictions and losses (``kernel`` is then empty and
            ``alignment`` NaN).
    """
    Kx = check_gram(Kx)
    g0 = check_gamma0(gamma0)
    t = check_time_grid(t_grid)
    y = np.asarray(y, dtype=np.float64)
    P = y.size
    if P < 1 or P > Kx.shape[0]:
        raise InputError(
            f"y has {P} training targets but the Gram covers {Kx.shape[0]} points; the first "
            "P rows/columns of Kx are the training points"
        )
    y = check_targets(y, P)
    Pt = Kx.shape[0] - P
    if y_test is not None:
        y_test = np.asarray(y_test, dtype=np.float64)
        if y_test.shape != (Pt,):
            raise InputError(
                f"y_test must have shape ({Pt},) (the test points of Kx); got {y_test.shape}"
            )
    if scheme not in SCHEMES:
        raise InputError(f"scheme must be one of {SCHEMES}; got {scheme!r}")
    if particles is not None:
        a_in, h_in = (np.asarray(v, dtype=np.float64) for v in particles)
        if a_in.ndim != 1 or h_in.shape != (a_in.size, Kx.shape[0]):
            raise InputError(
                f"particles must be (a (M,), h (M, {Kx.shape[0]})); got {a_in.shape}, {h_in.shape}"
            )
        n_particles = int(a_in.size)
    M = n_particles
    if isinstance(M, bool) or not isinstance(M, int | np.integer) or M < 2:
        raise InputError(f"n_particles must be an integer >= 2; got {M!r}")
    if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
        raise InputError(f"substeps must be a positive integer; got {substeps!r}")
    if tol is not None and not (isinstance(tol, int | float) and tol > 0 and math.isfinite(tol)):
        raise InputError(f"tol must be a positive number or None; got {tol!r}")
    n_store = int(min(max(n_store, 0), M))
    act = _activation(activation)
    Ptot = Kx.shape[0]
    check_allocation(
        8 * (M * Ptot * 12 + len(t) * (Ptot * Ptot + P * P + n_store * P)),
        f"the two-layer DMFT with {M} particles over {Ptot} points and {len(t)} times",
        "use fewer particles, points or grid times",
    )
    gen = rng(seed, "dmft-two-layer", "particles")
    # low-rank factor Kx = R R^T (rank r <= D): the fields are h = z R^T with z ~ N(0, I_r),
    # and every particle moves inside that span, so the state is (a, z) (cost M r per point)
    lam, V = np.linalg.eigh(Kx)
    keep = lam > 1e-12 * max(float(lam[-1]), 1e-300)
    R = V[:, keep] * np.sqrt(lam[keep])[None, :]
    RP = R[:P]
    z = gen.standard_normal((M, R.shape[1]))
    a = gen.standard_normal(M)
    if particles is not None:
        a, z = a_in.copy(), (h_in @ R) / lam[keep][None, :]
        gap = np.abs(z @ R.T - h_in).max()
        if gap > 1e-8 * max(1.0, float(np.abs(h_in).max())):
            raise InputError(
                f"particles' fields h must lie in the span of Kx (h = W x); off by {gap:.3g}"
            )
    h = z @ R.T

    def kernel_mc(a, h):
        ph, dph = act.fn(h), act.deriv(h)
        ad = a[:, None] * dph
        return (ph.T @ ph + (ad.T @ ad) * Kx) / M

    # per-particle kernel spread at init: the MC error without the control variate
    sub = slice(0, min(M, 256))  # particles for the per-particle spread
    ph0, dph0 = act.fn(h[sub, :P]), act.deriv(h[sub, :P])
    k_each = (
        ph0[:, :, None] * ph0[:, None, :]
        + (a[sub, None, None] ** 2) * (dph0[:, :, None] * dph0[:, None, :]) * Kx[None, :P, :P]
    )
    e_phi, e_dphi = pair_expectations(act, Kx)
    K0 = e_phi + e_dphi * Kx  # E[a^2] = 1
    rms = float(np.sqrt((K0[:P, :P] ** 2).mean()))
    se_init = float(np.sqrt(k_each.var(0).mean() / M)) / rms
    if tol is not None and not control_variate and se_init > tol:
        need = int(math.ceil(M * (se_init / tol) ** 2))
        raise InputError(
            f"n_particles={M} gives a relative Monte-Carlo standard error of {se_init:.2g} on "
            f"the kernel at initialization, above the requested tol={tol:g}; use at least "
            f"{need} particles or a looser tol"
        )
    del k_each
    correction = K0 - kernel_mc(a, h) if control_variate else np.zeros_like(Kx)
    corrP = correction[:, :P]

    def rhs(a, z, f, h=None, ph=None):
        delta = (y - f[:P]) / P  # includes the 1/P of the loss
        h = z @ R.T if h is None else h
        ph = act.fn(h) if ph is None else ph
        dph = act.deriv(h)
        s = ph[:, :P] @ delta  # (M,)
        v = (a[:, None] * dph[:, :P] * delta[None, :]) @ RP  # (M, r): dz / gamma0
        # G-part of df: sum_i a_i phi'_{i nu} sum_mu Kx_{nu mu} a_i phi'_{i mu} Delta_mu
        df = (ph.T @ s + (((a[:, None] * dph).T @ v) * R).sum(1)) / M + corrP @ delta
        return g0 * s, g0 * v, df

    f = np.zeros(Ptot)
    T = len(t)
    fs = np.zeros((T, Ptot))
    Ks = np.zeros((T, Ptot, Ptot))
    Phis = np.zeros((T, P, P))
    stored = np.zeros((T, n_store, P)) if n_store else None

    h0, a0 = h.copy(), a.copy()
    ph_init = act.fn(h0[:, :P])
    phi_corr = (e_phi[:P, :P] - ph_init.T @ ph_init / M) if control_variate else 0.0
    del ph_init

    def record(k, a, h, f):
        fs[k] = f
        ph = act.fn(h)
        if kernels or k == 0:
            Ks[k] = kernel_mc(a, h) + correction
            Phis[k] = ph[:, :P].T @ ph[:, :P] / M + phi_corr
        if stored is not None:
            stored[k] = ph[:n_store, :P]

    record(0, a, h, f)
    # predictions a million times the targets' scale mean the step size is unstable
    f_cap = 1e6 * (1.0 + float(np.abs(y).max()))
    K_static = Ks[0] if g0 == 0.0 else None
    ph_cur = None  # phi(h) of the current particles (Euler reuses it)
    n_steps = 0
    bar = progress.task(progress_label, T - 1) if progress_label else _null()
    with bar as advance:
        for k in range(T - 1):
            dt = (t[k + 1] - t[k]) / substeps
            for _ in range(substeps):
                if g0 == 0.0:
                    f = f + dt * _lazy_rhs(f, y, P, K_static, dt, scheme)
                elif scheme == "euler":
                    # gradient descent on the particles; f moves by the exact change of
                    # (1/gamma0) <a phi(h)> (second order in dt included), plus the
                    # control-variate correction of the kernel
                    if ph_cur is None:
                        ph_cur = act.fn(h)
                    da, dz, _ = rhs(a, z, f, h, ph_cur)
                    delta = (y - f[:P]) / P
                    a1, z1 = a + dt * da, z + dt * dz
                    h1 = z1 @ R.T
                    ph1 = act.fn(h1)
                    step_f = (a1 @ ph1 - a @ ph_cur) / (g0 * M)
                    a, z, h, ph_cur = a1, z1, h1, ph1
                    f = f + step_f + dt * (corrP @ delta)
                else:
                    k1 = rhs(a, z, f, h)
                    k2 = rhs(a + 0.5 * dt * k1[0], z + 0.5 * dt * k1[1], f + 0.5 * dt * k1[2])
                    k3 = rhs(a + 0.5 * dt * k2[0], z + 0.5 * dt * k2[1], f + 0.5 * dt * k2[2])
                    k4 = rhs(a + dt * k3[0], z + dt * k3[1], f + dt * k3[2])
                    a = a + dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
                    z = z + dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
                    h = z @ R.T
                    f = f + dt / 6 * (k1[2] + 2 * k2[2] + 2 * k3[2] + k4[2])
                n_steps += 1
            if not (np.isfinite(f).all() and np.isfinite(h).all() and np.abs(f).max() < f_cap):
                raise ConvergenceError(
                    f"two-layer DMFT diverged at t = {t[k + 1]:g} (gamma0={g0:g}, dt={dt:g}); "
                    "use a smaller time step (more substeps) or scheme='rk4'"
                )
            record(k + 1, a, h, f)
            advance(1)
    # Monte-Carlo error of the final kernel: spread of the per-particle kernel change
    ph1, dph1 = act.fn(h[sub, :P]), act.deriv(h[sub, :P])
    ph0, dph0 = act.fn(h0[sub, :P]), act.deriv(h0[sub, :P])
    k1 = (
        ph1[:, :, None] * ph1[:, None, :]
        + (a[sub, None, None] ** 2) * (dph1[:, :, None] * dph1[:, None, :]) * Kx[None, :P, :P]
    )
    if control_variate:
        k0 = (
            ph0[:, :, None] * ph0[:, None, :]
            + (a0[sub, None, None] ** 2) * (dph0[:, :, None] * dph0[:, None, :]) * Kx[None, :P, :P]
        )
        spread = (k1 - k0).var(0).mean()
    else:
        spread = k1.var(0).mean()
    kernel_se = float(np.sqrt(spread / M)) / rms
    if tol is not None and kernel_se > tol:
        need = int(math.ceil(M * (kernel_se / tol) ** 2))
        raise ConvergenceError(
            f"two-layer DMFT: the relative Monte-Carlo standard error of the final kernel is "
            f"{kernel_se:.2g} with {M} particles, above tol={tol:g}; rerun with at least "
            f"{need} particles"
        )
    if not kernels:
        Ks, Phis = Ks[:0], Phis[:0]
    return TwoLayerResult(
        t=t, f=fs[:, :P], f_test=fs[:, P:], kernel=Ks, phi_kernel=Phis, y=y, y_test=y_test,
        n_particles=M, n_steps=n_steps, kernel_stderr=kernel_se, gamma0=g0,
        activation=act.name, stored_phi=stored,
    )  # fmt: skip


class _null:
    def __enter__(self):
        return lambda k=1: None

    def __exit__(self, *exc):
        return False


def _lazy_rhs(f, y, P, K, dt, scheme):
    """df/dt of the static-kernel flow (RK4 for the linear ODE, or Euler)."""

    def g(ff):
        return K[:, :P] @ (y - ff[:P]) / P

    if scheme == "euler":
        return g(f)
    k1 = g(f)
    k2 = g(f + 0.5 * dt * k1)
    k3 = g(f + 0.5 * dt * k2)
    k4 = g(f + dt * k3)
    return (k1 + 2 * k2 + 2 * k3 + k4) / 6
