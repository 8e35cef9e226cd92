r"""finite-width-prediction-variance: across initializations, lazy predictions vary as C(t)/N with the DMFT prefactor.

Claim:
    For a centred two-layer mean-field network at small richness, the empirical NTK at
    initialization is a mean of N i.i.d. single-neuron kernels, so the trained
    predictions fluctuate across seeds with variance

    .. math:: \operatorname{Var}_N[f_\nu(t)] = \frac{C_\nu(t)}{N} + O(N^{-2}),

    with C the linear response of the kernel flow to one neuron's kernel fluctuation
    (:func:`lmech.theory.dmft.lazy_prediction_variance`, the lazy limit of Bordelon &
    Pehlevan 2023). Checks: the fitted exponent of the test-point variance against N is
    -1 (within 0.2), and the measured N Var / C averaged over widths and test points is
    1 within 0.2.

System:
    Gaussian inputs (P = 32, 16 test points, D = 8), quadratic target, ReLU, gamma_0 =
    0.02 (lazy), eta = 0.25 for 60 steps (t = 30); widths 128-1024, 32 seeds each
    (:mod:`lmech.experiment.dmft`, engine ensembles, float64). Theory: 20000
    single-neuron samples, the same gradient-descent steps (exact linear response).

Measurement:
    Centred outputs f - f_0 at the end of training on the test points; their variance
    over seeds per width, averaged over test points.

Known limits:
    A variance from S = 32 seeds has a relative standard error sqrt(2/31) = 25% per
    point; averaged over 16 correlated test points and 4 widths the ratio's error is
    ~8% (measured at seeds 0-2: pooled ratio 0.96-0.98, per width 0.86-1.16,
    exponents -0.92 to -0.995). The O(1/N^2) terms and gamma_0 = 0.02
    feature motion add < 1% at N >= 128. In the rich regime the variance is not C/N
    (feature learning changes it); that case is not claimed here.

Source:
    Bordelon & Pehlevan, "Dynamics of finite width kernel and prediction fluctuations in
    mean field neural networks", NeurIPS 2023, Sec. 4 (lazy limit: the variance is set
    by the initial kernel fluctuations); Geiger et al., J. Stat. Mech. 2020 (1/N variance
    of lazy predictions); Dyer & Gur-Ari, ICLR 2020 (1/N corrections to the NTK).

Run:
    ``lmech check finite-width-prediction-variance`` (quick, 9 s of CPU with start-up and
    report).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lmech.experiment.dmft import train_two_layer
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.dmft._common import TaskSpec, network_bytes, task
from lmech.laws.spec import param
from lmech.theory.dmft import lazy_prediction_variance

THEORY_COLUMNS = ("point", "mean", "prefactor", "prefactor_stderr")
EXPERIMENT_COLUMNS = ("width", "seed", "point", "f")


@dataclass(frozen=True)
class Spec(TaskSpec):
    widths: tuple[int, ...] = param(
        (128, 256, 512, 1024), ge=8, le=65536, min_len=2, distinct=True, increasing=True
    )
    seeds: int = param(32, ge=4, le=1024, doc="networks per width")
    gamma0: float = param(0.02, gt=0, le=0.2, doc="richness of the trained networks (small)")
    n_samples: int = param(20000, ge=100, le=2**22, doc="single-neuron Monte-Carlo samples")

    def memory_bytes(self) -> int:
        # the lazy variance's own estimate (S P_tot 12 + 3 T P_tot), 3x headroom, plus the
        # widest width's networks
        n = self.num_train + self.num_test
        theory = 3 * 8 * (self.n_samples * n * 12 + 3 * (self.steps + 1) * n)
        return theory + network_bytes(self, max(self.widths), self.seeds)


def theory(spec: Spec) -> pd.DataFrame:
    _, Kx, y, _ = task(spec)
    t = 2.0 * spec.lr * np.arange(spec.steps + 1)
    lv = lazy_prediction_variance(Kx, y, t_grid=t, activation=spec.activation,
                                  n_samples=spec.n_samples, scheme="euler")  # fmt: skip
    P = spec.num_train
    pts = np.arange(P, P + spec.num_test)
    return pd.DataFrame({"point": pts, "mean": lv.mean[-1, P:], "prefactor": lv.prefactor[-1, P:],
                         "prefactor_stderr": lv.stderr[-1, P:]})  # fmt: skip


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    X, _, y, yt = task(spec)
    _, pred = train_two_layer(
        X, y, yt, widths=spec.widths, seeds=spec.seeds, gamma0=spec.gamma0, lr=spec.lr,
        steps=spec.steps, log_every=spec.steps, activation=spec.activation, seed=seed,
        device=device, alignment=False, predictions=True,
    )  # fmt: skip
    return pred[pred["point"] >= spec.num_train].reset_index(drop=True)


def _variances(meas: pd.DataFrame) -> pd.DataFrame:
    return meas.groupby(["width", "point"])["f"].var(ddof=1).unstack("point")


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    var = _variances(meas)
    C = pred.set_index("point")["prefactor"].loc[var.columns].to_numpy()
    N = var.index.to_numpy(float)
    mean_var = var.to_numpy().mean(1)
    slope = float(np.polyfit(np.log(N), np.log(mean_var), 1)[0])
    ratio = (N * mean_var) / C.mean()
    r = float(ratio.mean())
    gen = np.random.default_rng(0)  # resampling only; not a measurement draw
    boot = []
    f = {
        w: g.pivot(index="seed", columns="point", values="f").to_numpy()
        for w, g in meas.groupby("width")
    }
    for _ in range(300):
        v = [a[gen.integers(0, len(a), len(a))].var(0, ddof=1).mean() for a in f.values()]
        if min(v) > 0:  # a resample of one repeated seed has no spread
            boot.append(np.polyfit(np.log(list(f)), np.log(v), 1)[0])
    lo, hi = np.percentile(boot, [2.5, 97.5]) if boot else (np.nan, np.nan)
    detail = (
        f"slope of mean test-point variance vs N {slope:.3f} (theory -1; 95% bootstrap over "
        f"seeds [{lo:.2f}, {hi:.2f}]); N Var / C per width "
        + ", ".join(f"N={int(n)}: {v:.3f}" for n, v in zip(N, ratio, strict=True))
        + f"; mean C {C.mean():.4f}"
    )
    return Evaluation(
        {"exponent_error": abs(slope + 1.0), "prefactor_rel_err": abs(r - 1.0)}, detail
    )


def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(5.0, 3.8), layout="constrained")
    ax = fig.subplots()
    var = _variances(meas)
    N = var.index.to_numpy(float)
    ax.loglog(N, var.to_numpy().mean(1), "o", label="networks: mean over test points")
    ax.loglog(N, pred["prefactor"].mean() / N, "k-", label="lazy DMFT C / N")
    ax.set_xlabel("width N")
    ax.set_ylabel("variance of f across seeds")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("Finite-width prediction variance (lazy)", fontsize=10)
    return fig


LAW = Law(
    name="finite-width-prediction-variance",
    claim="lazy two-layer predictions vary across seeds as C/N: exponent -1 (+/- 0.2) and "
    "N Var / C = 1 (+/- 0.2) with C from the lazy DMFT linear response",
    source="Bordelon & Pehlevan, NeurIPS 2023, Sec. 4; Geiger et al., J. Stat. Mech. 2020",
    spec=Spec,
    presets={
        "smoke": Spec(
            num_train=8, num_test=4, steps=4, log_every=2, widths=(16, 32), seeds=4, n_samples=200
        ),
        "quick": Spec(),
        "paper": Spec(
            widths=(128, 256, 512, 1024, 2048, 4096),
            seeds=128,
            n_samples=200000,
            num_train=100,
            num_test=50,
        ),
    },  # fmt: skip
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=Criterion(
        Check(
            "exponent_error",
            "<=",
            0.2,
            why="32-seed variances have 25% relative SE per point; over 16 correlated test "
            "points and a factor 8 in N the slope SE is ~0.07; 0.2 is ~3 SE",
        ),
        Check(
            "prefactor_rel_err",
            "<=",
            0.2,
            why="the width- and point-averaged ratio has SE ~8% from 32 seeds; the theory's "
            "MC error is ~3% per point, < 2% on the mean (20000 samples); 0.2 is ~2.5 SE",
        ),
    ),
    # C off by 35%: the ratio moves to 0.74 or 1.54, beyond the 0.2 tolerance
    prediction=Prediction("prefactor", relative=0.35),
    tags=("dmft", "finite-width", "lazy", "variance"),
    theory_columns=THEORY_COLUMNS,
    experiment_columns=EXPERIMENT_COLUMNS,
    doc=__doc__ or "",
)
