r"""dmft-two-layer-rich: muP two-layer networks converge to the rich DMFT loss and alignment curves, deviations ~ N^-1/2.

Claim:
    At richness gamma_0 = O(1) the mean-field DMFT of a two-layer network
    (:func:`lmech.theory.dmft.dmft_two_layer`: particles (a, h) with
    :math:`\dot a = \frac{\gamma_0}{P}\sum_\mu\Delta_\mu\phi(h_\mu)`,
    :math:`\dot h_\nu = \frac{\gamma_0}{P} a\sum_\mu K^x_{\nu\mu}\phi'(h_\mu)\Delta_\mu` and
    :math:`\dot f = \frac1P K(t)\Delta`, :math:`K = \Phi + G\odot K^x`) gives the loss and
    the kernel-target alignment :math:`y^\top K y / (\|K\|_F\|y\|^2)` of muP networks of
    any large width. Finite networks deviate by fluctuations of order N^{-1/2}: the
    per-seed RMS relative deviation of the loss curves scales as N^{-1/2}.

System:
    Gaussian inputs (P = 32, 16 test points, D = 8), quadratic target, ReLU, gamma_0 = 1,
    eta = 0.25 (DMFT step dt = 0.5), 60 full-batch steps; networks of widths 256-2048
    (quick; 256-4096 in paper), 8 seeds each (:mod:`lmech.experiment.dmft`, float64,
    centred). DMFT: 65536 particles, the same Euler (gradient-descent) steps.

Measurement:
    ``widest_rel_err``: the worst relative gap, over logged times and both losses,
    between the widest width's seed-mean and DMFT. ``alignment_err``: the worst absolute
    gap of its alignment. ``width_exponent_error``: |slope - (-1/2)| of the log-log fit
    of the per-seed RMS relative loss deviation against N. ``lazy_null_rel_err``: the
    widest networks against the lazy (gamma_0 = 0) DMFT, which must be far off (the
    networks learn features).

Known limits:
    The particle solver is itself a width-M network: its Monte-Carlo error on the loss
    is ~0.7 M^{-1/2} relative at late times (measured spread between particle seeds:
    0.3% at M = 65536), a floor under the width deviations. The seed-mean also carries
    the O(1/N) bias, invisible here next to the O(1/sqrt(N S)) noise. The solver is
    exact gradient descent of its particles (a test checks it against a network's own
    neurons to round-off), so there is no time-discretization gap. Measured at the quick
    preset, seeds 0-3: widest-width loss gap 0.8-1.6%, alignment gap 0.002-0.004, and
    width exponents -0.39, -0.38, -0.30, -0.37 (95% bootstrap intervals over seeds
    [-0.55, -0.26], [-0.66, -0.18], [-0.44, -0.12], [-0.56, -0.18]): consistently a
    little flatter than -1/2 over N = 256-2048, within the declared 0.25. Over a wider
    range against a 262144-particle reference (widths 256, 1024, 4096, 8192, 8 seeds,
    seed 0) the RMS deviations were 0.042, 0.021, 0.0099, 0.0079: a fitted slope of
    -0.49, so the quick preset's flatter slopes are read as the noise of a short width
    range (at seeds 0 and 2 its 1024 -> 2048 step is nearly flat).

Source:
    Bordelon & Pehlevan, "Self-consistent dynamical field theory of kernel evolution in
    wide neural networks", NeurIPS 2022, Sec. 3 and Fig. 2 (two-layer DMFT, alignment);
    Bordelon & Pehlevan, "Dynamics of finite width kernel and prediction fluctuations in
    mean field neural networks", NeurIPS 2023, Sec. 3 (O(N^-1/2) fluctuations);
    Mei, Montanari, Nguyen, PNAS 2018 (mean-field two-layer limit).

Run:
    ``lmech check dmft-two-layer-rich`` (quick, 11 s of CPU with start-up and report).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.dmft._common import (
    TaskSpec,
    exponent_interval,
    log_steps,
    network_bytes,
    rms_deviation,
    task,
    train_width_sweep,
    worst_loss_rel,
)
from lmech.laws.spec import param
from lmech.theory.dmft import dmft_two_layer

THEORY_COLUMNS = (
    "step", "t", "train_loss", "test_loss", "alignment", "lazy_train_loss",
    "lazy_test_loss", "lazy_alignment", "kernel_stderr",
)  # fmt: skip
EXPERIMENT_COLUMNS = ("width", "seed", "step", "t", "train_loss", "test_loss", "alignment")


@dataclass(frozen=True)
class Spec(TaskSpec):
    widths: tuple[int, ...] = param(
        (256, 512, 1024, 2048), ge=8, le=65536, min_len=3, distinct=True, increasing=True
    )
    seeds: int = param(8, ge=2, le=256, doc="networks per width")
    gamma0: float = param(1.0, gt=0, le=10.0, doc="richness gamma_0")
    n_particles: int = param(65536, ge=256, le=2**22, doc="DMFT Monte-Carlo particles M")

    def memory_bytes(self) -> int:
        # the particle solver's own estimate (M P_tot 12 + T (P_tot^2 + P^2)), 3x headroom,
        # plus the widest width's networks (widths train one after another)
        n = self.num_train + self.num_test
        T = self.steps // self.log_every + 2
        theory = 3 * 8 * (self.n_particles * n * 12 + T * (n * n + self.num_train**2))
        return theory + network_bytes(self, max(self.widths), self.seeds)


def theory(spec: Spec) -> pd.DataFrame:
    _, Kx, y, yt = task(spec)
    steps = log_steps(spec)
    t = 2.0 * spec.lr * steps
    kw = dict(t_grid=t, activation=spec.activation, y_test=yt, scheme="euler",
              substeps=spec.log_every)  # fmt: skip
    rich = dmft_two_layer(Kx, y, gamma0=spec.gamma0, n_particles=spec.n_particles,
                          progress_label="DMFT two-layer (rich)", **kw)  # fmt: skip
    lazy = dmft_two_layer(Kx, y, gamma0=0.0, n_particles=2, progress_label=None, **kw)
    return pd.DataFrame(
        {
            "step": steps, "t": t, "train_loss": rich.train_loss, "test_loss": rich.test_loss,
            "alignment": rich.alignment, "lazy_train_loss": lazy.train_loss,
            "lazy_test_loss": lazy.test_loss, "lazy_alignment": lazy.alignment,
            "kernel_stderr": rich.kernel_stderr,
        }
    )  # fmt: skip


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    return train_width_sweep(spec, seed, device)[list(EXPERIMENT_COLUMNS)]


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    p = pred.set_index("step")
    widest = meas[meas["width"] == meas["width"].max()]
    m = widest.groupby("step")[["train_loss", "test_loss", "alignment"]].mean()
    q = p.loc[m.index]
    rel = worst_loss_rel(m, q)
    align = float(np.max(np.abs(m["alignment"] - q["alignment"])))
    lazy = worst_loss_rel(m, q, "lazy_")
    dev = rms_deviation(pred, meas)
    slope, _ = np.polyfit(np.log(dev.index.to_numpy(float)), np.log(dev.to_numpy()), 1)
    lo, hi = exponent_interval(pred, meas)
    detail = (
        f"widest N={int(widest['width'].iloc[0])}: worst loss gap {rel:.4f}, alignment gap "
        f"{align:.4f} (final DMFT {q['alignment'].iloc[-1]:.3f}); vs lazy DMFT {lazy:.3f}; "
        "rms deviation "
        + ", ".join(f"N={w}: {v:.4f}" for w, v in dev.items())
        + f"; slope {slope:.3f} (theory -0.5; 95% bootstrap over seeds "
        f"[{lo:.2f}, {hi:.2f}]); DMFT kernel MC error "
        f"{float(pred['kernel_stderr'].iloc[0]):.2e}"
    )
    return Evaluation(
        {
            "widest_rel_err": rel,
            "alignment_err": align,
            "width_exponent_error": abs(float(slope) + 0.5),
            "lazy_null_rel_err": lazy,
        },
        detail,
    )


def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    from lmech.figures.dmft import rich_figure

    return rich_figure(pred, meas)


LAW = Law(
    name="dmft-two-layer-rich",
    claim="at gamma_0 = 1 muP two-layer networks match the DMFT loss (<= 4%) and "
    "alignment (<= 0.02) curves, per-seed deviations shrink as N^-1/2 (+/- 0.25), and "
    "differ from the lazy limit (>= 10%)",
    source="Bordelon & Pehlevan, NeurIPS 2022, Sec. 3; Bordelon & Pehlevan, NeurIPS 2023",
    spec=Spec,
    presets={
        "smoke": Spec(
            num_train=8,
            num_test=4,
            steps=4,
            log_every=2,
            widths=(16, 32, 64),
            seeds=2,
            n_particles=512,
        ),
        "quick": Spec(),
        "paper": Spec(
            widths=(256, 512, 1024, 2048, 4096),
            seeds=16,
            n_particles=2**20,
            num_train=100,
            steps=100,
            log_every=10,
        ),
    },  # fmt: skip
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=Criterion(
        Check(
            "widest_rel_err",
            "<=",
            0.04,
            why="width-2048 per-seed RMS loss deviation ~1.9%, so an 8-seed mean has SE ~0.7%, "
            "plus the solver's ~0.3% MC error; worst of 20 correlated points, measured "
            "0.8-1.6% at seeds 0-3",
        ),
        Check(
            "alignment_err",
            "<=",
            0.02,
            why="per-seed alignment spread at N=2048 is 0.005-0.009 (measured), so the "
            "8-seed mean has SE <= 0.003; 0.02 is ~6 SE and an eighth of the change 0.28 -> 0.44",
        ),
        Check(
            "width_exponent_error",
            "<=",
            0.25,
            why="4 widths over a factor 8 with 8 seeds: bootstrap slope SE ~0.08-0.12; "
            "measured errors 0.11-0.20 at seeds 0-3 (all flatter than -1/2)",
        ),
        Check(
            "lazy_null_rel_err",
            ">=",
            0.1,
            why="the lazy (static-NTK) curves must be far from the networks for the rich "
            "DMFT to be tested at all; measured 0.66 (seeds 0-3), far beyond the 4% tolerance",
        ),
    ),
    # 15%: almost 4x the loss tolerance; it also drags every width's deviation to ~15%,
    # flattening the width exponent to ~0
    prediction=Prediction("test_loss", relative=0.15),
    tags=("dmft", "mup", "feature-learning", "two-layer"),
    theory_columns=THEORY_COLUMNS,
    experiment_columns=EXPERIMENT_COLUMNS,
    doc=__doc__ or "",
)
