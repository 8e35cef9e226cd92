r"""lazy-vs-rich: the NTK moves in proportion to the richness gamma; under muP it moves width-independently.

Claim:
    Train f = (1/gamma) [f_NTK(theta) - f_NTK(theta_0)] by gradient descent with
    learning rate eta_0 gamma^2 (:class:`lmech.nn.param.Parameterization` ``richness``).
    Then df/dt is independent of gamma while the parameters move by O(gamma), so the
    relative change of the (learning-rate-weighted) empirical NTK over training is

    .. math::

        \frac{\|K_T - K_0\|_F}{\|K_0\|_F} \propto \frac{\gamma}{\sqrt n}
        \quad (\gamma \to 0, \text{ fixed } n),

    and with gamma = gamma_0 sqrt(n) (muP / mean-field scaling) it is independent of n.
    The theory table carries the two exponents: 1 in gamma (NTK parameterization, fixed
    n) and 0 in n (muP, fixed gamma_0). Checks: the log-log slope against gamma at fixed
    width is within 0.2 of 1; at fixed gamma_0 under muP every width's value v_n is
    within 0.2 of the predicted (n / n_widest)^0 = 1 times the widest width's value.

System:
    Teacher-student regression (128 points, d = 16, :mod:`lmech.laws.transfer._common`), tanh
    MLP 16 -> n -> n -> 1, float32, full-batch gradient descent (MSE) on the centered
    network for a fixed number of steps. Part 1: NTK parameterization at width 256,
    gamma in {0.01, 0.02, 0.05, 0.1}, eta_0 = 0.5. Part 2: muP (base width 64) with
    richness gamma_0 = 1 at widths 128..1024, lr 0.1. Seeds of one configuration are one
    vmapped ensemble.

Measurement:
    K = sum_p lr_p J_p J_p^T on the first 32 training points (lr_p the per-parameter
    learning rate; the kernel of the training dynamics) at the start and the end of
    training (:mod:`lmech.experiment.ensemble` observer ``ntk_change``), averaged over seeds.

Known limits:
    The proportionality is first order in gamma; second-order terms make the curve
    slightly steeper at larger gamma. Measured (seeds 0, 1, width 256, 100 steps): the
    local slope was 1.03 over 0.01..0.03, 1.1 over 0.03..0.1 and 1.18 over 0.1..0.3, so
    the check stays at gamma <= 0.1 (gamma / sqrt(n) <= 0.006). Under muP the kernel
    moves by ~45% at gamma_0 = 1; finite-width fluctuations of that number across
    initializations are ~10%, and width 64 (the base width) came out 18% below width 1024
    with two seeds, which is why part 2 starts at 128 and averages four seeds.
    Quick preset: slope 0.930 (seed 0) and 1.047 (seed 1); muP NTK change relative to
    width 1024 was 1.12, 1.00, 0.98 (n = 128, 256, 512; seed 0) and 1.07, 1.00, 1.00
    (seed 1).

Source:
    Chizat, Oyallon, Bach, "On Lazy Training in Differentiable Programming", NeurIPS 2019,
    Sec. 2 (scale alpha = 1/gamma); Geiger, Spigler, Jacot, Wyart, "Disentangling feature
    and lazy training in deep neural networks", J. Stat. Mech. 2020 (kernel change
    ∝ alpha^-1 n^-1/2); Bordelon & Pehlevan, "Self-consistent dynamical field theory of
    kernel evolution in wide neural networks", NeurIPS 2022 (gamma_0 = gamma / sqrt(n)).

Run:
    ``lmech check lazy-vs-rich`` (quick, ~17 s with one thread on a shared 2-core machine).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lmech import progress
from lmech.errors import ConfigError
from lmech.experiment.ensemble import Ensemble, train
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.spec import param
from lmech.laws.transfer._common import TaskSpec, init_seeds, task_data
from lmech.nn.models import MLPSpec
from lmech.nn.param import Parameterization

EXPERIMENT_COLUMNS = ("parameterization", "width", "richness", "seed", "ntk_change")


@dataclass(frozen=True)
class Spec(TaskSpec):
    num_train: int = param(128, ge=1)
    probe: int = param(32, ge=1, doc="training points the NTK is taken on")
    depth: int = param(2, ge=1)
    width: int = param(256, ge=1, doc="part 1 (NTK parameterization)")
    richness: tuple[float, ...] = param(
        (0.01, 0.02, 0.05, 0.1), gt=0, min_len=2, distinct=True, doc="part 1: gamma"
    )
    lr: float = param(0.5, gt=0, doc="part 1: eta_0 (the applied lr is eta_0 gamma^2)")
    widths: tuple[int, ...] = param((128, 256, 512, 1024), ge=1, min_len=2, distinct=True)
    mup_richness: float = param(1.0, gt=0, doc="part 2: gamma_0 under muP")
    mup_lr: float = param(0.1, gt=0)
    steps: int = param(100, ge=1)
    seeds: int = param(2, ge=1, doc="part 1 networks per gamma")
    mup_seeds: int = param(4, ge=1, doc="part 2 networks per width")

    def memory_bytes(self) -> int:
        # the largest ensemble (seeds x parameters, float32: parameters, gradients, K_0 and
        # temporaries, 8 P each), its activations on the training set, the probe NTK's
        # Jacobians (members chunked to 256 MiB, one member at least; x2 for jacrev's
        # intermediates), the task's data and 64 MiB for the interpreter and torch
        w = max(self.width, *self.widths)
        members = max(self.seeds, self.mup_seeds)
        params = self.mlp_params(w, self.depth)
        jac = 4 * self.probe * params
        jac_members = min(members, max(1, 2**28 // jac))
        acts = 4 * self.num_train * w * (self.depth + 1)
        return (
            2**26
            + self.task_bytes(self.num_train)
            + 4 * members * (8 * params + acts)
            + 2 * jac_members * jac
        )

    def validate(self) -> None:
        if self.probe > self.num_train:
            raise ConfigError(
                f"probe {self.probe} > num_train {self.num_train}: the NTK is taken on "
                "training points; lower probe or raise num_train"
            )


def theory(spec: Spec) -> pd.DataFrame:
    """The exponents of the NTK change: 1 in gamma (fixed n), 0 in n (muP, fixed gamma_0)."""
    return pd.DataFrame(
        {"parameterization": ["ntk", "mup"], "axis": ["richness", "width"], "exponent": [1.0, 0.0]}
    )


def _ntk_change(spec, arch, p, lr, seeds, X, y, loss, device) -> np.ndarray:
    ens = Ensemble.from_spec(arch, p, seeds, device=device)
    run = train(
        ens, X, y, lr=lr, steps=spec.steps, loss=loss, center=True, observers=("ntk_change",),
        probe=X[: spec.probe],
    )  # fmt: skip
    return run.scalar("ntk_change").loc[spec.steps].to_numpy()


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    X, y, loss, k = task_data(spec.task, spec.num_train, spec.input_dim, spec.data_seed)
    mup = Parameterization("mup", "sgd", base_width=spec.base_width, richness=spec.mup_richness)
    parts = [  # (parameterization, width, gamma, lr, seeds)
        *(("ntk", spec.width, g, spec.lr, spec.seeds) for g in spec.richness),
        *(("mup", w, spec.mup_richness, spec.mup_lr, spec.mup_seeds) for w in spec.widths),
    ]
    rows = []
    with progress.task("richness and width ensembles", len(parts)) as advance:
        for kind, w, g, lr, count in parts:
            p = mup if kind == "mup" else Parameterization("ntk", "sgd", richness=g)
            arch = MLPSpec(X.shape[1], w, spec.depth, k, spec.activation)
            seeds = init_seeds(seed, count)
            values = _ntk_change(spec, arch, p, lr, seeds, X, y, loss, device)
            rows += [(kind, w, g, i, float(v)) for i, v in enumerate(values)]
            advance(1)
    return pd.DataFrame(rows, columns=list(EXPERIMENT_COLUMNS))


def _summary(pred: pd.DataFrame, meas: pd.DataFrame) -> tuple[pd.Series, float, pd.DataFrame]:
    """Seed-mean NTK change per gamma, its log-log slope, muP ratios to the widest width."""
    e = dict(zip(pred["parameterization"], pred["exponent"], strict=True))
    ntk = meas[meas["parameterization"] == "ntk"].groupby("richness")["ntk_change"].mean()
    slope = float(np.polyfit(np.log(ntk.index), np.log(ntk.to_numpy()), 1)[0])
    mup = meas[meas["parameterization"] == "mup"].groupby("width")["ntk_change"].mean()
    widths = mup.index.to_numpy(float)
    ratio = pd.DataFrame(
        {"measured": mup / mup.iloc[-1], "predicted": (widths / widths[-1]) ** e["mup"]}
    )
    return ntk, slope, ratio


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    ntk, slope, ratio = _summary(pred, meas)
    e_gamma = float(pred.loc[pred["parameterization"] == "ntk", "exponent"].iloc[0])
    values = {
        "gamma_exponent_error": abs(slope - e_gamma),
        "mup_width_ratio_error": float((ratio["measured"] - ratio["predicted"]).abs().max()),
    }
    detail = (
        f"slope of NTK change vs gamma {slope:.3f} (theory {e_gamma:g}; "
        + ", ".join(f"gamma={g:g}: {v:.2e}" for g, v in ntk.items())
        + "); muP NTK change / widest width: "
        + ", ".join(
            f"n={w}: {r.measured:.3f} (theory {r.predicted:.3f})" for w, r in ratio.iterrows()
        )
    )
    return Evaluation(values, detail)


def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(10.0, 4.0), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ntk, slope, ratio = _summary(pred, meas)
    e_gamma = float(pred.loc[pred["parameterization"] == "ntk", "exponent"].iloc[0])
    part = meas[meas["parameterization"] == "ntk"]
    ax1.scatter(part["richness"], part["ntk_change"], s=10, alpha=0.5, color="C0")
    ax1.plot(ntk.index, ntk.values, "o-", color="C0", label=f"mean over seeds (slope {slope:.2f})")
    g = ntk.index.to_numpy()
    ax1.plot(
        g, ntk.iloc[0] * (g / g[0]) ** e_gamma, "k--", lw=1, label=f"slope {e_gamma:g} (theory)"
    )
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("richness gamma (NTK parameterization)")
    ax1.set_ylabel("relative NTK change |K_T - K_0| / |K_0|")
    ax1.set_title(f"fixed width {int(part['width'].iloc[0])}", fontsize=9)
    ax1.legend(fontsize=8, frameon=False)
    mup = meas[meas["parameterization"] == "mup"]
    widest = mup.groupby("width")["ntk_change"].mean().iloc[-1]
    ax2.scatter(mup["width"], mup["ntk_change"], s=10, alpha=0.5, color="C1")
    ax2.plot(
        ratio.index, widest * ratio["measured"], "o-", color="C1", label="muP, mean over seeds"
    )
    ax2.plot(ratio.index, widest * ratio["predicted"], "k--", lw=1, label="theory")
    lo, hi = widest * (ratio["predicted"] - 0.2), widest * (ratio["predicted"] + 0.2)
    ax2.fill_between(ratio.index, lo, hi, color="C1", alpha=0.12, label="tolerance")
    ax2.set_xscale("log", base=2)
    ax2.set_ylim(0, None)
    ax2.set_xlabel("width n")
    ax2.set_title(f"muP, gamma_0 = {mup['richness'].iloc[0]:g}", fontsize=9)
    ax2.legend(fontsize=8, frameon=False)
    fig.suptitle("Lazy vs rich: kernel movement vs richness and width", fontsize=10)
    return fig


LAW = Law(
    name="lazy-vs-rich",
    claim="relative NTK change is proportional to gamma (slope 1 +/- 0.2) and, at fixed "
    "gamma_0 under muP, width-independent (within 0.2 of the widest width's)",
    source="Chizat, Oyallon, Bach, NeurIPS 2019, Sec. 2; Geiger et al., J. Stat. Mech. 2020; "
    "Bordelon & Pehlevan, NeurIPS 2022",
    spec=Spec,
    presets={
        "smoke": Spec(
            width=32,
            widths=(32, 64),
            base_width=32,
            steps=5,
            mup_seeds=1,
            seeds=1,
            num_train=32,
            probe=8,
        ),
        "quick": Spec(),
        "paper": Spec(
            width=1024,
            richness=(0.003, 0.01, 0.03, 0.1),
            widths=(128, 256, 512, 1024, 2048),
            steps=1000,
            seeds=8,
            mup_seeds=8,
            num_train=512,
            depth=3,
        ),
    },  # fmt: skip
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=Criterion(
        Check(
            "gamma_exponent_error",
            "<=",
            0.2,
            why="the proportionality is first order in gamma: second-order terms steepen the "
            "local slope to 1.1 over gamma 0.03..0.1 (width 256), and 2-seed means scatter it",
        ),
        Check(
            "mup_width_ratio_error",
            "<=",
            0.2,
            why="finite-width fluctuations of the kernel change across initializations are "
            "~10% per network; a 4-seed mean at each width against the widest one's",
        ),
    ),
    # both exponents moved by 0.5: the gamma slope then misses by 0.5 - 0.2 at best, and
    # the predicted muP ratio at n = 128 becomes 8^-0.5 = 0.35 or 8^0.5 = 2.8
    prediction=Prediction("exponent", absolute=0.5),
    tags=("parameterization", "richness", "ntk", "feature-learning"),
    theory_columns=("parameterization", "axis", "exponent"),
    experiment_columns=EXPERIMENT_COLUMNS,
    doc=__doc__ or "",
)
