"""Shared protocol of the two stepwise-learning laws (QWEM by GD, SGNS): spec, theory, evaluate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech.errors import ConfigError
from lmech.laws.base import Evaluation
from lmech.laws.embeddings._common import (
    TEXTS,
    WEIGHTINGS,
    crossing_steps,
    erank_from_u,
    statistics_bytes,
    text_statistics,
)
from lmech.laws.spec import LawSpec, param
from lmech.theory.word2vec import mode_trajectory, qwem_target, switch_on_time, top_eigenpairs

#: a mode is "on" once u_k = s_k^2 reaches this fraction of lambda_k (the sigmoid's midpoint)
FRACTION = 0.5
THEORY_COLUMNS = ("step", "mode", "eigenvalue", "u_pred", "switch_on_step")
EXPERIMENT_COLUMNS = ("step", "mode", "u")


@dataclass(frozen=True)
class DynamicsSpec(LawSpec):
    """Full-batch GD from a small random init on the statistics of a bundled text."""

    texts: str = param("lee_background", choices=TEXTS, doc="bundled gensim text(s)")
    vocab_size: int = param(300, ge=2, le=20000, doc="V: most frequent words kept")
    window: int = param(16, ge=1, le=100, doc="L: co-occurrence window on each side")
    weighting: str = param("linear", choices=WEIGHTINGS, doc="distance weighting of pairs")
    psi: float = param(1.0, gt=0, le=100, doc="negative-sampling weight")
    dim: int = param(4, ge=1, le=512, doc="d: embedding dimension")
    steps: int = param(7600, ge=1, doc="gradient steps")
    log_every: int = param(5, ge=1, doc="steps between singular-value records")
    lr_scale: float = param(0.01, gt=0, le=1.0, doc="learning rate = lr_scale / lambda_1(M*)")
    init_scale: float = param(1e-12, gt=0, le=1.0, doc="W_0 entries N(0, init_scale^2 / d)")

    def validate(self) -> None:
        if self.dim > self.vocab_size:
            raise ConfigError(
                f"dim={self.dim} exceeds vocab_size={self.vocab_size}: a V-word vocabulary "
                "has at most V eigendirections; lower dim or raise vocab_size"
            )
        if self.init_scale**2 >= FRACTION:
            raise ConfigError(
                f"init_scale={self.init_scale} is not small: need init_scale^2 < {FRACTION}"
            )

    def memory_bytes(self) -> int:
        # the statistics, then M* and the full-batch SGNS trainer's dense V x V float64
        # arrays (P/G, neg/G, S, D and the temporaries of sigmoid, softplus, eigvalsh)
        V = self.vocab_size
        return statistics_bytes(self.texts, V, self.window) + 16 * 8 * V * V

    def statistics(self):
        return text_statistics(self.texts, self.vocab_size, self.window, self.weighting)

    def target(self) -> np.ndarray:
        _, P, Pi = self.statistics()
        return qwem_target(P, Pi, self.psi)

    def learning_rate(self, Mstar: np.ndarray) -> float:
        return self.lr_scale / float(np.linalg.eigvalsh(Mstar)[-1])


def dynamics_theory(spec: DynamicsSpec) -> pd.DataFrame:
    """u_k(t) of gradient flow at the logged steps (t = step, kappa = 2 lr, u_0 =
    init_scale^2) and the switch-on step of every mode."""
    Mstar = spec.target()
    lam, _ = top_eigenpairs(Mstar, spec.dim)
    lr = spec.learning_rate(Mstar)
    if np.any(lam <= spec.init_scale**2 / FRACTION):
        raise ConfigError(
            f"the top-{spec.dim} eigenvalues of M* include {lam.min():.3g} <= 0: a negative "
            "eigendirection is never learned; lower dim"
        )
    steps = np.unique(np.r_[np.arange(0, spec.steps + 1, spec.log_every), spec.steps])
    u = mode_trajectory(lam, spec.init_scale**2, steps, 2 * lr)
    tau = switch_on_time(lam, spec.init_scale**2, 2 * lr, FRACTION)
    d = spec.dim
    return pd.DataFrame(
        {
            "step": np.repeat(steps, d),
            "mode": np.tile(np.arange(d), steps.size),
            "eigenvalue": np.tile(lam, steps.size),
            "u_pred": u.ravel(),
            "switch_on_step": np.tile(tau, steps.size),
        }
    )


def result_table(result) -> pd.DataFrame:
    d = result.singular_values.shape[1]
    return pd.DataFrame(
        {
            "step": np.repeat(result.steps, d),
            "mode": np.tile(np.arange(d), result.steps.size),
            "u": (result.singular_values**2).ravel(),
        }
    )


def _wide(df: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    table = df.pivot(index="step", columns="mode", values=col).sort_index()
    return table.index.to_numpy(float), table.to_numpy(float)


def switch_on_statistics(pred: pd.DataFrame, meas: pd.DataFrame, fraction: float) -> dict:
    first = pred[pred["step"] == pred["step"].min()].sort_values("mode")
    lam = first["eigenvalue"].to_numpy(float)
    tau = first["switch_on_step"].to_numpy(float)
    steps, u = _wide(meas, "u")
    t = crossing_steps(steps, u, fraction * lam)
    rel = np.abs(t - tau) / tau
    in_order = float(np.mean(np.diff(t) > 0)) if t.size > 1 else 1.0
    return {
        "lam": lam,
        "tau": tau,
        "t": t,
        "max_rel_err_switch_on": float(np.max(rel)),
        "fraction_in_order": in_order if np.all(np.isfinite(t)) else float("nan"),
        "stagger": float(t[-1] / t[0] - 1.0) if t.size > 1 else float("nan"),
        "worst": int(np.nanargmax(rel)) if np.any(np.isfinite(rel)) else -1,
    }


def erank_plateau_error(
    pred: pd.DataFrame, meas: pd.DataFrame, tau: np.ndarray, t: np.ndarray
) -> float:
    """max over plateaus of |erank_meas - erank_theory|: plateau k (k modes on) is read at
    the geometric midpoint of switch-ons k and k + 1, predicted ones for the theory and
    measured ones for the measurement (the step heights, separate from their timing), and
    the last plateau at the last logged step."""
    if not np.all(np.isfinite(t)):
        return float("nan")
    steps_p, u_p = _wide(pred, "u_pred")
    steps_m, u_m = _wide(meas, "u")
    err = 0.0
    for k in range(len(tau)):
        if k + 1 < len(tau):
            mp, mm = np.sqrt(tau[k] * tau[k + 1]), np.sqrt(t[k] * t[k + 1])
        else:
            mp = mm = steps_m[-1]
        i = int(np.argmin(np.abs(steps_m - mm)))
        j = int(np.argmin(np.abs(steps_p - mp)))
        err = max(err, abs(float(erank_from_u(u_m[i])) - float(erank_from_u(u_p[j]))))
    return err


def evaluate_dynamics(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    s = switch_on_statistics(pred, meas, FRACTION)
    values = {
        "max_rel_err_switch_on": s["max_rel_err_switch_on"],
        "fraction_in_order": s["fraction_in_order"],
        "stagger_last_over_first": s["stagger"],
        "max_abs_err_erank_plateau": erank_plateau_error(pred, meas, s["tau"], s["t"]),
    }
    detail = (
        "switch-on steps measured "
        + ", ".join(f"{t:.0f}" for t in s["t"])
        + " vs predicted "
        + ", ".join(f"{t:.0f}" for t in s["tau"])
        + f"; worst mode {s['worst'] + 1}"
    )
    return Evaluation(values, detail)
