"""Shared task and helpers of the DMFT laws (family-private)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech import progress
from lmech.experiment.dmft import regression_task, train_mean_field
from lmech.laws.spec import LawSpec, param


@dataclass(frozen=True)
class TaskSpec(LawSpec):
    num_train: int = param(32, ge=2, le=400, doc="P training points")
    num_test: int = param(16, ge=1, le=400, doc="test points")
    input_dim: int = param(8, ge=3, le=4096, doc="D, inputs x ~ N(0, I_D)")
    target: str = param("quadratic", choices=("quadratic", "linear"))
    data_seed: int = param(0, ge=0, doc="seed of the inputs (fixed across runs)")
    activation: str = param("relu", choices=("relu", "erf", "tanh"))
    lr: float = param(0.25, gt=0, le=2.0, doc="eta; one step is DMFT time dt = 2 eta")
    steps: int = param(60, ge=2, doc="gradient-descent steps")
    log_every: int = param(6, ge=1, doc="steps between logged times")


def network_bytes(spec: TaskSpec, width: int, seeds: int) -> int:
    """Peak bytes of training ``seeds`` two-layer networks of ``width`` on the task (errs high).

    Parameters, gradients and optimizer copies (E N (D + 1)), activations and their
    derivatives over all points (E N P_tot), the per-member NTK over the training points
    at every logged step, float64, 3x headroom.
    """
    n = spec.num_train + spec.num_test
    logs = spec.steps // spec.log_every + 2
    per = 8 * seeds * (8 * width * (spec.input_dim + 1) + 6 * width * n + logs * spec.num_train**2)
    return 3 * per + 2**26


def task(spec: TaskSpec):
    X, y, yt = regression_task(
        spec.num_train, spec.num_test, spec.input_dim, spec.data_seed, spec.target
    )
    return X, X @ X.T / spec.input_dim, y, yt


def log_steps(spec: TaskSpec) -> np.ndarray:
    return np.array(sorted(set(range(0, spec.steps + 1, spec.log_every)) | {spec.steps}))


def rms_deviation(pred: pd.DataFrame, meas: pd.DataFrame) -> pd.Series:
    """Per-seed RMS relative deviation of train and test losses from DMFT, per width."""
    p = pred.set_index("step")
    out = {}
    for w, g in meas[meas["step"] > 0].groupby("width"):
        r = [
            g[c].to_numpy() / p.loc[g["step"], c].to_numpy() - 1.0
            for c in ("train_loss", "test_loss")
        ]
        out[int(w)] = float(np.sqrt(np.mean(np.concatenate(r) ** 2)))
    return pd.Series(out).sort_index()


def exponent_interval(
    pred: pd.DataFrame, meas: pd.DataFrame, n_boot: int = 400
) -> tuple[float, float]:
    """95% bootstrap interval of the width exponent (seeds resampled within each width)."""
    p = pred.set_index("step")
    widths, per_seed = [], []
    for w, g in meas[meas["step"] > 0].groupby("width"):
        d = sum(
            (g[c].to_numpy() / p.loc[g["step"], c].to_numpy() - 1.0) ** 2
            for c in ("train_loss", "test_loss")
        )
        per_seed.append(pd.Series(d).groupby(g["seed"].to_numpy()).mean().to_numpy())
        widths.append(float(w))
    gen = np.random.default_rng(0)  # resampling only; not a measurement draw
    x = np.log(widths)
    slopes = []
    for _ in range(n_boot):
        m = [v[gen.integers(0, len(v), len(v))].mean() for v in per_seed]
        if min(m) > 0:
            slopes.append(np.polyfit(x, 0.5 * np.log(m), 1)[0])
    lo, hi = np.percentile(slopes, [2.5, 97.5]) if slopes else (np.nan, np.nan)
    return float(lo), float(hi)


def train_width_sweep(
    spec, seed: int, device: str, *, depth: int = 1, feature_kernels: bool = False
) -> pd.DataFrame:
    """``spec.seeds`` mean-field networks with ``depth`` hidden layers at each of
    ``spec.widths``, trained one width at a time (:func:`train_mean_field`): the history
    table of all of them (with the feature-kernel columns if asked), with progress per
    width."""
    X, _, y, yt = task(spec)
    label = "muP two-layer widths" if depth == 1 else f"muP depth-{depth} widths"
    parts = []
    with progress.task(label, len(spec.widths)) as advance:
        for w in spec.widths:
            hist, _ = train_mean_field(
                X, y, yt, widths=[w], seeds=spec.seeds, gamma0=spec.gamma0, lr=spec.lr,
                steps=spec.steps, log_every=spec.log_every, activation=spec.activation,
                seed=seed, device=device, depth=depth, feature_kernels=feature_kernels,
            )  # fmt: skip
            parts.append(hist)
            advance(1)
    return pd.concat(parts, ignore_index=True)


def worst_loss_rel(m: pd.DataFrame, q: pd.DataFrame, prefix: str = "") -> float:
    """The largest |m / q - 1| over the train and test losses (q's columns ``prefix``-ed)."""
    return max(
        float(np.max(np.abs(m[c] / q[prefix + c] - 1.0))) for c in ("train_loss", "test_loss")
    )
