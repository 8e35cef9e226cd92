r"""dmft-lazy-limit: at gamma_0 -> 0 the two-layer DMFT is NTK gradient descent with the infinite-width NTK.

Claim:
    In the mean-field two-layer DMFT (Bordelon & Pehlevan 2022, Sec. 3; the solver
    :func:`lmech.theory.dmft.dmft_two_layer`) the kernel
    :math:`K(t) = \Phi(t) + G(t)\odot K^x` stops moving as gamma_0 -> 0, and the dynamics
    become kernel regression dynamics with

    .. math:: K(0) = E[\phi(u)\phi(u')] + E[a^2]\,E[\phi'(u)\phi'(u')]\,K^x
              = \Theta^{(1)}(x, x'),

    the depth-1 infinite-width NTK of :class:`lmech.kernels.infinite.NTK` (NTK
    parameterization, sigma_w = 1, no bias). So (i) the DMFT loss curve at gamma_0 = 0
    equals NTK gradient descent (step dt) and NTK gradient flow (RK4 vs the
    eigen-decomposition) to the solver's tolerance, and (ii) centred mean-field
    networks at small gamma_0 and large width, trained by full-batch gradient descent,
    follow that curve.

System:
    Gaussian inputs (P = 32, 16 test points, D = 8), a quadratic target, ReLU; networks
    :mod:`lmech.experiment.dmft` (width 2048, gamma_0 = 0.02, 8 seeds, eta = 0.25,
    60 steps, float64, engine ensembles). The DMFT solver computes K(0) from its own
    numpy closed forms (Cho & Saul arc-cosine forms), the NTK side from the torch
    recursion of :mod:`lmech.kernels` (two implementations).

Measurement:
    ``solver_exactness``: the largest relative gap between DMFT and NTK train/test
    losses, for gradient descent (Euler, step dt = 2 eta; closed form
    (1 - lambda dt / P)^k) and for gradient flow (RK4 with 8 substeps; closed form
    e^{-lambda t / P}). ``network_rel_err``: largest relative gap between the seed-mean
    network test and train losses and the DMFT curve. ``null_rel_err``: the same for the
    null model where only the readout trains (kernel Phi(0), the NNGP); it must be
    large, so the networks' agreement is with the NTK, not any kernel.

Known limits:
    At width N the empirical NTK fluctuates by O(1/sqrt(N)) around K(0); the seed-mean
    loss then deviates by an O(1/N) bias plus O(1/sqrt(N S)) noise. Measured at the
    quick preset (seeds 0-3): the worst relative gap of the 8-seed mean was 0.6-2.7%;
    the per-seed RMS deviation 1.4% (test) to 3.4% (train). gamma_0 = 0.02 adds a kernel motion of O(gamma_0^2) = 4e-4.
    The RK4 flow has an O(dt^4) error (measured 1e-9 with 8 substeps of dt = 0.5).

Source:
    Bordelon & Pehlevan, "Self-consistent dynamical field theory of kernel evolution in
    wide neural networks", NeurIPS 2022, Sec. 3-4 (lazy limit gamma_0 -> 0 recovers the
    NTK); Jacot, Gabriel, Hongler, NeurIPS 2018 (NTK dynamics); Chizat, Oyallon, Bach,
    NeurIPS 2019 (lazy training).

Run:
    ``lmech check dmft-lazy-limit`` (quick, 6 s of CPU with start-up and report; 0.5 s of
    computation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from lmech.experiment.dmft import train_two_layer
from lmech.kernels.infinite import NNGP, NTK
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.dmft._common import TaskSpec, log_steps, network_bytes, task
from lmech.laws.spec import param
from lmech.theory.dmft import dmft_two_layer, lazy_kernel_flow

THEORY_COLUMNS = (
    "step", "t", "train_loss", "test_loss", "ntk_train_loss", "ntk_test_loss",
    "flow_train_loss", "flow_test_loss", "ntk_flow_train_loss", "ntk_flow_test_loss",
    "null_train_loss", "null_test_loss",
)  # fmt: skip
EXPERIMENT_COLUMNS = ("width", "seed", "step", "t", "train_loss", "test_loss")


@dataclass(frozen=True)
class Spec(TaskSpec):
    width: int = param(2048, ge=8, le=65536, doc="network width N")
    seeds: int = param(8, ge=1, le=256, doc="networks (initializations)")
    gamma0: float = param(0.02, gt=0, le=0.2, doc="richness of the trained networks (small)")
    flow_substeps: int = param(8, ge=1, le=1000, doc="RK4 steps per step dt for the flow")

    def memory_bytes(self) -> int:
        # the networks, plus the theory's (T, P_tot, P_tot) kernels and NTK/NNGP Grams
        n = self.num_train + self.num_test
        theory = 3 * 8 * (3 * (self.steps // self.log_every + 2) * n * n + 8 * n * n)
        return network_bytes(self, self.width, self.seeds) + theory


def _losses(F, y, yt):
    P = y.size
    return ((F[:, :P] - y) ** 2).mean(1), ((F[:, P:] - yt) ** 2).mean(1)


def theory(spec: Spec) -> pd.DataFrame:
    X, Kx, y, yt = task(spec)
    steps = log_steps(spec)
    dt = 2.0 * spec.lr
    t = dt * steps
    sub = int(spec.log_every)
    common = dict(activation=spec.activation, gamma0=0.0, y_test=yt, n_particles=2)
    gd = dmft_two_layer(
        Kx, y, t_grid=t, scheme="euler", substeps=sub, progress_label=None, **common
    )
    flow = dmft_two_layer(
        Kx, y, t_grid=t, scheme="rk4", substeps=sub * spec.flow_substeps, progress_label=None,
        **common,
    )  # fmt: skip
    Xt = torch.as_tensor(X, dtype=torch.float64)
    Kntk = NTK(depth=1, activation=spec.activation).block(Xt, Xt).numpy()
    Knngp = NNGP(depth=1, activation=spec.activation).block(Xt, Xt).numpy()
    ntk_gd = _losses(lazy_kernel_flow(Kntk, y, t, dt=dt), y, yt)
    ntk_flow = _losses(lazy_kernel_flow(Kntk, y, t), y, yt)
    null = _losses(lazy_kernel_flow(Knngp, y, t, dt=dt), y, yt)
    return pd.DataFrame(
        {
            "step": steps, "t": t, "train_loss": gd.train_loss, "test_loss": gd.test_loss,
            "ntk_train_loss": ntk_gd[0], "ntk_test_loss": ntk_gd[1],
            "flow_train_loss": flow.train_loss, "flow_test_loss": flow.test_loss,
            "ntk_flow_train_loss": ntk_flow[0], "ntk_flow_test_loss": ntk_flow[1],
            "null_train_loss": null[0], "null_test_loss": null[1],
        }
    )  # fmt: skip


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    X, _, y, yt = task(spec)
    hist, _ = train_two_layer(
        X, y, yt, widths=[spec.width], seeds=spec.seeds, gamma0=spec.gamma0, lr=spec.lr,
        steps=spec.steps, log_every=spec.log_every, activation=spec.activation, seed=seed,
        device=device, alignment=False,
    )  # fmt: skip
    return hist[list(EXPERIMENT_COLUMNS)]


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    exact = max(
        _rel(pred["train_loss"], pred["ntk_train_loss"]),
        _rel(pred["test_loss"], pred["ntk_test_loss"]),
        _rel(pred["flow_train_loss"], pred["ntk_flow_train_loss"]),
        _rel(pred["flow_test_loss"], pred["ntk_flow_test_loss"]),
    )
    m = meas.groupby("step")[["train_loss", "test_loss"]].mean()
    p = pred.set_index("step").loc[m.index]
    net = max(_rel(m["train_loss"], p["train_loss"]), _rel(m["test_loss"], p["test_loss"]))
    null = max(
        _rel(m["train_loss"], p["null_train_loss"]), _rel(m["test_loss"], p["null_test_loss"])
    )
    detail = (
        f"DMFT(gamma0=0) vs NTK: worst relative gap {exact:.2e}; networks (N="
        f"{int(meas['width'].iloc[0])}, {meas['seed'].nunique()} seeds) vs DMFT {net:.4f}, "
        f"vs readout-only NNGP null {null:.3f}; final test loss DMFT "
        f"{p['test_loss'].iloc[-1]:.4f}, networks {m['test_loss'].iloc[-1]:.4f}"
    )
    return Evaluation(
        {"solver_exactness": exact, "network_rel_err": net, "null_rel_err": null}, detail
    )


def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    from lmech.figures.dmft import lazy_limit_figure

    return lazy_limit_figure(pred, meas)


LAW = Law(
    name="dmft-lazy-limit",
    claim="two-layer DMFT at gamma_0 = 0 equals NTK gradient descent/flow with "
    "lmech.kernels' infinite-width NTK (relative gap <= 1e-6), and wide lazy mean-field "
    "networks follow it (<= 5%), not the readout-only NNGP null (>= 20%)",
    source="Bordelon & Pehlevan, NeurIPS 2022, Sec. 3-4; Jacot et al., NeurIPS 2018",
    spec=Spec,
    presets={
        "smoke": Spec(
            num_train=8, num_test=4, steps=4, log_every=2, width=64, seeds=1, flow_substeps=2
        ),
        "quick": Spec(),
        "paper": Spec(
            num_train=100, num_test=50, width=8192, seeds=16, steps=200, log_every=10, lr=0.1
        ),
    },  # fmt: skip
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=Criterion(
        Check(
            "solver_exactness",
            "<=",
            1e-6,
            why="Euler DMFT vs the closed-form descent agree to round-off (~1e-13); RK4 "
            "flow vs e^{-lambda t/P} has an O(dt^4) error, measured 1e-9 with 8 substeps",
        ),
        Check(
            "network_rel_err",
            "<=",
            0.05,
            why="width-2048 NTK fluctuation: per-seed RMS loss deviation 1.4-3.4% (measured), "
            "so an 8-seed mean has SE ~1.1% plus an O(1/N) bias; worst of 20 correlated "
            "points, measured 0.6-2.7% at seeds 0-3",
        ),
        Check(
            "null_rel_err",
            ">=",
            0.2,
            why="the readout-only kernel Phi(0) omits G*K^x (about half of the NTK), so its "
            "losses decay much slower; measured 0.3-0.6 here, far beyond the 5% tolerance",
        ),
    ),
    # 20% off: four times the network tolerance and far beyond the solver's 1e-6
    prediction=Prediction("test_loss", relative=0.2),
    tags=("dmft", "ntk", "lazy", "two-layer"),
    theory_columns=THEORY_COLUMNS,
    experiment_columns=EXPERIMENT_COLUMNS,
    doc=__doc__ or "",
)
