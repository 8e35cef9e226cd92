r"""Trained mean-field (muP) two-layer networks at many widths and seeds, for the DMFT laws.

The network is :func:`lmech.nn.models.build` of ``MLPSpec(D, N, depth=1, bias=False)``
with ``Parameterization("mean-field", richness=gamma_0)``:

.. math:: f(x) = \frac{1}{\gamma_0 N}\sum_i a_i\,\phi(w_i \cdot x),\qquad
          a_i \sim \mathcal N(0, 1),\ w_i \sim \mathcal N(0, I/D),

trained with the shared ensemble engine (:func:`lmech.experiment.ensemble.train`, all
seeds of one width as one vmapped program, float64, full-batch SGD, centred output
f - f_0). The mean-field table's lr factors are gamma_0^2 N for both layers; here the
input layer's is divided by D, which puts the first layer on the DMFT clock of
Bordelon & Pehlevan 2022 (h = w . x / sqrt(D) with w ~ N(0, I) trained at rate
gamma_0^2 N; with w_here = w / sqrt(D) the same flow needs the factor gamma_0^2 N / D).
With the engine's loss (1/P) sum (f - y)^2 and learning rate eta, one step is one Euler
step dt = 2 eta of the flow on (1/(2P)) sum (f - y)^2 that :mod:`lmech.theory.dmft` solves.

The NTK of a member is read off its parameters (two-layer closed form):
K = (1/N) sum_i [phi(h_i) phi(h_i)^T + a_i^2 phi'(h_i) phi'(h_i)^T (x.x'/D)], recorded at
the logged steps through the engine's ``pre_step`` hook.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from lmech.errors import InputError
from lmech.experiment.ensemble import Ensemble, train
from lmech.nn.models import MLPSpec
from lmech.nn.param import Parameterization
from lmech.seeding import derive_seed, rng

__all__ = ["regression_task", "train_two_layer", "TWO_LAYER_COLUMNS"]

TWO_LAYER_COLUMNS = ("width", "seed", "step", "t", "train_loss", "test_loss", "alignment")


def regression_task(
    num_train: int, num_test: int, input_dim: int, data_seed: int, target: str = "quadratic"
):
    """Gaussian inputs x ~ N(0, I_D) and a fixed nonlinear target (numpy float64).

    ``quadratic``: y = (x_1 x_2 + x_1 + (x_3^2 - 1)/2) / sqrt(2.25), unit variance under
    the input law. ``linear``: y = x_1. Returns (X (P + P_test, D), y (P,), y_test).
    """
    if target not in ("quadratic", "linear"):
        raise InputError(f"target must be 'quadratic' or 'linear'; got {target!r}")
    if input_dim < 3 and target == "quadratic":
        raise InputError(f"the quadratic target needs input_dim >= 3; got {input_dim}")
    g = rng(data_seed, "dmft-task", "inputs")
    X = g.standard_normal((num_train + num_test, input_dim))
    if target == "quadratic":
        yall = (X[:, 0] * X[:, 1] + X[:, 0] + 0.5 * (X[:, 2] ** 2 - 1.0)) / 1.5
    else:
        yall = X[:, 0].copy()
    return X, yall[:num_train], yall[num_train:]


def _ntk_from_params(params, X, activation: str, derivative) -> torch.Tensor:
    """(E, n, n) NTK of every member in DMFT units (module docstring)."""
    W = params["input.weight"]  # (E, N, D)
    a = params["output.weight"][:, 0, :]  # (E, N)
    N, D = W.shape[1], W.shape[2]
    h = torch.einsum("end,pd->enp", W, X)
    ph, dph = _act(activation)(h), derivative(h)
    Kx = X @ X.T / D
    ad = a[:, :, None] * dph
    return (ph.transpose(1, 2) @ ph + (ad.transpose(1, 2) @ ad) * Kx) / N


def _act(name: str):
    return {"relu": torch.relu, "erf": torch.erf, "tanh": torch.tanh}.get(name, lambda x: x)


def _deriv(name: str):
    if name == "relu":
        return lambda x: (x > 0).to(x.dtype)
    if name == "erf":
        return lambda x: (2.0 / np.sqrt(np.pi)) * torch.exp(-x * x)
    if name == "tanh":
        return lambda x: 1.0 - torch.tanh(x) ** 2
    return torch.ones_like


def train_two_layer(
    X: np.ndarray,
    y: np.ndarray,
    y_test: np.ndarray,
    *,
    widths: Sequence[int],
    seeds: int,
    gamma0: float,
    lr: float,
    steps: int,
    log_every: int,
    activation: str = "relu",
    seed: int = 0,
    device: str = "cpu",
    alignment: bool = True,
    predictions: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Train ``seeds`` networks per width; returns (history table, final test predictions).

    ``X`` holds the P training points (first, as many as ``y``) and then the test points.
    History columns: :data:`TWO_LAYER_COLUMNS` (t = 2 lr step, the DMFT time). With
    ``predictions`` the second table has one row per (width, seed, point) with the
    centred output f - f_0 at the end of training on every point (train then test).
    """
    if gamma0 <= 0:
        raise InputError(f"trained networks need gamma0 > 0; got {gamma0}")
    P = len(y)
    dev = torch.device(device)
    Xt = torch.as_tensor(X, dtype=torch.float64, device=dev)
    Xtr, Xte = Xt[:P], Xt[P:]
    ytr = torch.as_tensor(y, dtype=torch.float64, device=dev)
    yte = torch.as_tensor(y_test, dtype=torch.float64, device=dev)
    D = X.shape[1]
    deriv = _deriv(activation)
    log_steps = sorted(set(range(0, steps + 1, log_every)) | {steps})
    rows, preds = [], []
    for N in widths:
        spec = MLPSpec(D, int(N), depth=1, activation=activation, bias=False)
        p = Parameterization("mean-field", "sgd", richness=float(gamma0))
        member_seeds = [derive_seed(seed, "dmft-net", int(N), k) for k in range(seeds)]
        ens = Ensemble.from_spec(spec, p, member_seeds, dtype="float64", device=dev)
        factors = dict(ens.lr_factors)
        factors["input.weight"] /= D
        ens = Ensemble(ens.template, ens.params, factors)
        f0_all = ens.forward(Xt).detach()[..., 0]  # (E, P_tot)
        kernels: dict[int, torch.Tensor] = {}
        calls = [0]

        def hook(params, calls=calls, kernels=kernels):
            s = calls[0]
            calls[0] += 1
            if alignment and s in log_steps:
                kernels[s] = _ntk_from_params(params, Xtr, activation, deriv)

        run = train(
            ens, Xtr, ytr, lr=lr, steps=steps, center=True, log_steps=log_steps,
            observers=("loss",), test=(Xte, yte), seed=derive_seed(seed, "dmft-batches"),
            pre_step=hook if alignment else None,
        )  # fmt: skip
        if alignment:
            kernels[steps] = _ntk_from_params(ens.params, Xtr, activation, deriv)
        tr = run.scalar("loss")
        te = run.scalar("loss", "test")
        for s in log_steps:
            for e in range(seeds):
                al = np.nan
                if alignment:
                    K = kernels[s][e]
                    al = float(ytr @ K @ ytr / (torch.linalg.norm(K) * (ytr @ ytr)))
                rows.append(
                    (int(N), e, s, 2.0 * lr * s, float(tr.loc[s, e]), float(te.loc[s, e]), al)
                )
        if predictions:
            with torch.no_grad():
                out = (ens.forward(Xt)[..., 0] - f0_all).cpu().numpy()
            for e in range(seeds):
                for j in range(out.shape[1]):
                    preds.append((int(N), e, j, float(out[e, j])))
    hist = pd.DataFrame(rows, columns=list(TWO_LAYER_COLUMNS))
    pred = pd.DataFrame(preds, columns=["width", "seed", "point", "f"]) if predictions else None
    return hist, pred
