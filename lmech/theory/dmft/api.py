"""One call from a small dataset to the DMFT prediction of training (two-layer or deep networks)."""

from __future__ import annotations

import numpy as np

from lmech.errors import InputError
from lmech.theory.dmft.deep import DeepResult, dmft_deep
from lmech.theory.dmft.two_layer import TwoLayerResult, dmft_two_layer

__all__ = ["dmft_predict"]


def dmft_predict(
    X,
    y,
    *,
    X_test=None,
    y_test=None,
    activation: str = "relu",
    depth: int = 1,
    gamma0: float = 1.0,
    lr: float = 0.25,
    steps: int = 100,
    n_times: int = 21,
    n_particles: int = 65536,
    seed: int = 0,
    tol: float | None = None,
    n_samples: int = 8192,
    n_jacobian: int = 256,
    progress_label: str | None = "DMFT",
) -> TwoLayerResult | DeepResult:
    """DMFT of full-batch gradient descent (learning rate ``lr``, ``steps`` steps) of a
    mean-field / muP network with ``depth`` hidden layers on (X, y), at infinite width;
    ``result.table()`` has t, train/test loss and alignment.

    ``depth=1``: f = (1/(gamma0 N)) sum_i a_i phi(w_i . x / sqrt(D)), solved by the
    particle method (:func:`dmft_two_layer`, ``n_particles``, any activation), on
    ``n_times`` grid points; ``tol`` bounds its Monte-Carlo error.
    ``depth >= 2``: the Monte-Carlo fixed point (:func:`dmft_deep`, ``n_samples``,
    ``n_jacobian``; tanh, erf, identity with Jacobian-estimated response functions, relu
    with Stein-estimated ones, where ``n_jacobian`` is unused and ``n_samples`` of 16384
    give ~1% on the losses), on every step (``n_times`` is ignored; keep ``steps``
    to a few tens); ``tol`` bounds its Monte-Carlo error (``mc_tol``). Step k is time
    t = 2 lr k (the engine's mean loss (1/P) sum (f - y)^2). Progress is reported on the
    particle steps or the fixed-point sweeps.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise InputError(f"depth must be an integer >= 1 (hidden layers); got {depth!r}")
    from lmech.theory.dmft._common import activation as _activation

    _activation(activation)  # unknown names: an InputError listing the known ones
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) != len(np.asarray(y)):
        raise InputError(f"X must be (P, D) with one row per target; got {X.shape}")
    Xall = X
    if X_test is not None:
        X_test = np.asarray(X_test, dtype=np.float64)
        if X_test.ndim != 2 or X_test.shape[1] != X.shape[1]:
            raise InputError(f"X_test must be (P_test, {X.shape[1]}); got {X_test.shape}")
        Xall = np.vstack([X, X_test])
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InputError(f"steps must be a positive integer; got {steps!r}")
    if not (isinstance(lr, int | float) and lr > 0):
        raise InputError(f"lr must be a positive number; got {lr!r}")
    if depth >= 2:
        return dmft_deep(
            Xall @ Xall.T / X.shape[1], y, t_grid=2.0 * lr * np.arange(steps + 1),
            depth=depth, activation=activation, gamma0=gamma0, y_test=y_test,
            n_samples=n_samples, n_jacobian=n_jacobian, mc_tol=tol, seed=seed,
            progress_label=progress_label,
        )  # fmt: skip
    n_times = max(2, min(int(n_times), steps + 1))
    marks = np.unique(np.linspace(0, steps, n_times).round().astype(int))
    sub = np.diff(marks)
    if not (sub == sub[0]).all():  # equal intervals, so every grid step is one GD step
        marks = np.arange(0, steps + 1, max(1, steps // (n_times - 1)))
        sub = np.diff(marks)
    return dmft_two_layer(
        Xall @ Xall.T / X.shape[1], y, t_grid=2.0 * lr * marks, activation=activation,
        gamma0=gamma0, y_test=y_test, n_particles=n_particles, seed=seed, scheme="euler",
        substeps=int(sub[0]), tol=tol, progress_label=progress_label,
    )  # fmt: skip
