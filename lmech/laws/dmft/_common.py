"""Shared task and helpers of the DMFT laws (family-private)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmech.experiment.dmft import regression_task
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
