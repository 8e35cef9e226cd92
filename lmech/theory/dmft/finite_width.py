r"""Finite-width fluctuations in the lazy limit: the 1/N variance of the predictions.

At gamma_0 -> 0 a centred width-N two-layer network trains by kernel flow with its
empirical NTK at initialization,

.. math::

    K_N = \frac1N\sum_{i=1}^N k_i,\qquad
    k_{i,\mu\nu} = \phi(h_{i\mu})\phi(h_{i\nu}) + a_i^2 \phi'(h_{i\mu})\phi'(h_{i\nu}) K^x_{\mu\nu},

a mean of N i.i.d. single-neuron kernels with mean K (the infinite-width NTK). Writing
:math:`K_N = K + \frac1N\sum_i \delta k_i` and linearizing the flow
:math:`\dot f = \frac1P K_{N,:,tr}(y - f_{tr})` around the infinite-width trajectory
:math:`\bar f` gives :math:`f_N = \bar f + \frac1N\sum_i \delta f_i + O(1/N)` with

.. math::

    \dot{\delta f_i} = \frac1P\left[\delta k_{i,:,tr}\,(y - \bar f_{tr})
        - K_{:,tr}\,\delta f_{i,tr}\right],\qquad \delta f_i(0) = 0,

so the variance across initializations is, to leading order,

.. math:: \operatorname{Var}_N[f_\nu(t)] = \frac{C_\nu(t)}{N},\qquad
          C_\nu(t) = E\big[\delta f_\nu(t)^2\big]

[derived; this is the lazy-limit case of Bordelon & Pehlevan 2023, Sec. 4, where the
prediction variance is set by the initial-kernel fluctuations alone]. C is estimated by
Monte Carlo over S single neurons; its standard error is reported. With
``scheme="euler"`` the recursion is the exact linear response of gradient descent with
step dt, so it compares with networks trained by GD.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmech._memory import check_allocation
from lmech.errors import InputError
from lmech.seeding import rng
from lmech.theory.dmft._common import (
    activation as _activation,
)
from lmech.theory.dmft._common import (
    check_gram,
    check_targets,
    check_time_grid,
    pair_expectations,
)

__all__ = ["LazyVariance", "lazy_prediction_variance"]


@dataclass
class LazyVariance:
    """C(t) with Var_N[f(t)] = C(t) / N (train points first, then test points)."""

    t: np.ndarray  # (T+1,)
    mean: np.ndarray  # (T+1, P_tot) infinite-width predictions f_bar(t)
    prefactor: np.ndarray  # (T+1, P_tot) C(t)
    stderr: np.ndarray  # (T+1, P_tot) Monte-Carlo standard error of C(t)
    n_samples: int

    def variance(self, width: int) -> np.ndarray:
        return self.prefactor / width


def lazy_prediction_variance(
    Kx,
    y,
    *,
    t_grid,
    activation: str = "relu",
    n_samples: int = 20_000,
    seed: int = 0,
    scheme: str = "rk4",
    substeps: int = 1,
    min_samples: int = 100,
) -> LazyVariance:
    """The lazy-limit prediction variance prefactor C(t) (module docstring).

    Args:
        Kx: (P_tot, P_tot) input Gram (training points first), symmetric PSD.
        y: (P,) training targets.
        t_grid: increasing times from 0.
        activation: ``relu``, ``erf``, ``tanh`` or ``identity``.
        n_samples: S single neurons of the Monte-Carlo average (>= ``min_samples``).
        scheme, substeps: as in :func:`lmech.theory.dmft.dmft_two_layer`.
    """
    Kx = check_gram(Kx)
    t = check_time_grid(t_grid)
    y = np.asarray(y, dtype=np.float64)
    P = y.size
    if P < 1 or P > Kx.shape[0]:
        raise InputError(f"y has {P} targets but the Gram covers {Kx.shape[0]} points")
    y = check_targets(y, P)
    S = n_samples
    if isinstance(S, bool) or not isinstance(S, int | np.integer) or S < min_samples:
        raise InputError(
            f"n_samples must be an integer >= {min_samples} (a variance from fewer single-neuron "
            f"samples has a relative error above {np.sqrt(2 / min_samples):.0%}); got {S!r}"
        )
    if scheme not in ("rk4", "euler"):
        raise InputError(f"scheme must be 'rk4' or 'euler'; got {scheme!r}")
    if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
        raise InputError(f"substeps must be a positive integer; got {substeps!r}")
    act = _activation(activation)
    Ptot = Kx.shape[0]
    check_allocation(
        8 * (S * Ptot * 12 + 3 * len(t) * Ptot),
        f"the lazy variance with {S} samples over {Ptot} points",
        "use fewer samples",
    )
    gen = rng(seed, "dmft-lazy-variance", "neurons")
    lam, V = np.linalg.eigh(Kx)
    root = V * np.sqrt(np.clip(lam, 0.0, None))[None, :]
    h = gen.standard_normal((S, Ptot)) @ root.T
    a2 = gen.standard_normal(S) ** 2
    ph, dph = act.fn(h), act.deriv(h)
    e_phi, e_dphi = pair_expectations(act, Kx)
    K = e_phi + e_dphi * Kx
    KP, KxP = K[:, :P], Kx[:, :P]

    def rhs(fbar, df):
        delta = (y - fbar[:P]) / P
        dk_delta = (
            ph * (ph[:, :P] @ delta)[:, None]
            + a2[:, None] * dph * ((dph[:, :P] * delta[None, :]) @ KxP.T)
            - (KP @ delta)[None, :]
        )
        return KP @ delta, dk_delta - df[:, :P] @ KP.T / P

    fbar = np.zeros(Ptot)
    df = np.zeros((S, Ptot))
    T = len(t)
    means, pref, se = np.zeros((T, Ptot)), np.zeros((T, Ptot)), np.zeros((T, Ptot))
    for k in range(T):
        if k:
            dt = (t[k] - t[k - 1]) / substeps
            for _ in range(substeps):
                if scheme == "euler":
                    g1, d1 = rhs(fbar, df)
                    fbar, df = fbar + dt * g1, df + dt * d1
                else:
                    g1, d1 = rhs(fbar, df)
                    g2, d2 = rhs(fbar + 0.5 * dt * g1, df + 0.5 * dt * d1)
                    g3, d3 = rhs(fbar + 0.5 * dt * g2, df + 0.5 * dt * d2)
                    g4, d4 = rhs(fbar + dt * g3, df + dt * d3)
                    fbar = fbar + dt / 6 * (g1 + 2 * g2 + 2 * g3 + g4)
                    df = df + dt / 6 * (d1 + 2 * d2 + 2 * d3 + d4)
        sq = df * df
        means[k], pref[k] = fbar, sq.mean(0)
        se[k] = sq.std(0, ddof=1) / np.sqrt(S)
    return LazyVariance(t=t, mean=means, prefactor=pref, stderr=se, n_samples=int(S))
