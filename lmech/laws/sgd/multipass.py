r"""sgd-multipass-finite-data: multi-pass SGD on P samples follows the fixed-data recursion.

Claim:
    SGD that re-samples batches (with replacement) from a fixed dataset X (P x D) has exact
    first and second moments conditional on the data: with m = E Delta, C = E Delta
    Delta^T and the residual second moment R = X C X^T - X m eps^T - eps m^T X^T +
    eps eps^T,

    .. math:: C' = C - \eta(A + A^\top) + \eta^2\big[(1-\tfrac1B)\tfrac{X^\top R X}{P^2}
              + \tfrac1B\tfrac{X^\top \mathrm{diag}(R) X}{P}\big],\quad
              A = X^\top(XC - \epsilon m^\top)/P,

    giving the test loss (tr(Sigma C) + sigma^2)/2 and the train loss tr(R)/(2P). The mean
    SGD test and train losses match it within Monte-Carlo error (max |z| <= 4); the
    train-test gap matches it (max |z| <= 4); the mean-field reduction (per-sample
    gradient moment replaced by its isotropic average, under which the train loss
    closes on itself) stays within 5% of the measured losses; and the online
    (infinite-data) recursion is rejected at P < D (|z| >= 10), where the test loss
    rises again as the noise is fit.

System:
    D = ``dim`` Gaussian features, lambda_k ∝ k^-1 (trace 1), teacher w ~ N(0, I_D),
    label noise sigma^2 = ``noise_variance``, datasets of P = ``sizes`` samples drawn once
    from ``data_seed`` (the theory conditions on them), eta = ``lr_scale`` / mean_i |x_i|^2,
    batch ``batches``, w0 = 0.

Measurement:
    :func:`lmech.experiment.sgd.multipass_sgd`: R SGD runs on each fixed dataset as one
    torch program; test loss exact under the population (0.5 (Delta^T Sigma Delta +
    sigma^2)), train loss the mean squared residual on the P samples.

Known limits:
    The recursion conditions on the dataset; averaging over datasets needs the two-point
    deterministic equivalent of Atanasov et al. (not implemented here). The mean-field
    reduction drops the Gaussian fourth-moment part of the per-sample gradient moment;
    its error against the exact recursion is at most 3.8% of the train loss (P = 80,
    t = 5) and 2.9% of the test loss (P = 80, t = 3) at the quick preset, largest in the
    first steps. Measured at the quick preset: max |z| 1.91, 1.66, 2.70 and mean-field
    worst error against SGD 4.2%, 4.2%, 3.9% at seeds 0, 1, 2.

Source:
    Atanasov, Bordelon, Zavatone-Veth, Paquette, Pehlevan, "Two-point deterministic
    equivalence for stochastic gradient dynamics in linear models", arXiv 2502.05074,
    Sec. 3 (multi-pass SGD; forcing and kernel of the train/test Volterra equations).

Run:
    ``lmech check sgd-multipass-finite-data`` (quick, ~3 s CPU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech.experiment.sgd import multipass_sgd
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.sgd import _common as cm
from lmech.laws.spec import LawSpec, param
from lmech.seeding import rng
from lmech.theory import sgd as th

COLUMNS = (
    "case",
    "P",
    "batch",
    "step",
    "test_loss",
    "train_loss",
    "mf_test_loss",
    "mf_train_loss",
    "online_test_loss",
)
MEAS = ("case", "P", "batch", "step", "test_loss", "test_se", "train_loss", "train_se")


@dataclass(frozen=True)
class Spec(LawSpec):
    dim: int = param(40, ge=2, le=2000, doc="D")
    noise_variance: float = param(0.1, ge=0, doc="sigma^2")
    sizes: tuple[int, ...] = param((80, 25), ge=2, min_len=1, doc="P per case")
    batches: tuple[int, ...] = param((4, 2), ge=1, min_len=1, doc="B per case")
    lr_scale: float = param(0.8, gt=0, le=1.5, doc="eta mean_i |x_i|^2")
    steps: int = param(400, ge=2, doc="T")
    log_points: int = param(12, ge=2, doc="geometric log steps")
    runs: int = param(1500, ge=2, doc="R SGD runs per dataset")
    data_seed: int = param(0, ge=0, doc="seed of the fixed datasets (theory and SGD share them)")

    def validate(self) -> None:
        cm.check_same_length(sizes=self.sizes, batches=self.batches)

    def memory_bytes(self) -> int:
        # exact recursion: C, A and products (D x D), R (P x P), X (P x D); the ensemble
        # R x (D + B D) for the errors and the gathered batch; float64, 2x headroom
        P, D, B = max(self.sizes), self.dim, max(self.batches)
        rec = 8 * (6 * D * D + 4 * P * P + 3 * P * D)
        sim = 8 * self.runs * (4 * D + 2 * B * D + 2 * P) + 8 * 4 * self.runs * self.log_points
        return 2 * (rec + sim) + 2**24

    def lam(self):
        return th.power_law_spectrum(self.dim, 1.0)

    def case(self, i: int):
        g = rng(self.data_seed, "multipass-data", i)
        P, lam = self.sizes[i], self.lam()
        X = g.standard_normal((P, self.dim)) * np.sqrt(lam)
        w = g.standard_normal(self.dim)
        eps = g.standard_normal(P) * np.sqrt(self.noise_variance)
        eta = self.lr_scale / float(np.mean((X**2).sum(1)))
        return X, eps, -w, np.full(self.steps, eta)


PRESETS = {
    "smoke": Spec(dim=10, sizes=(20, 6), steps=30, log_points=4, runs=40),
    "quick": Spec(),
    "paper": Spec(
        dim=100, sizes=(400, 200, 60), batches=(8, 4, 2), steps=2000, log_points=20, runs=4000
    ),
}


def theory(spec: Spec) -> pd.DataFrame:
    lam, s2 = spec.lam(), spec.noise_variance
    steps = cm.log_steps(spec.steps, spec.log_points)
    rows = []
    for i, (P, B) in enumerate(zip(spec.sizes, spec.batches, strict=True)):
        X, eps, d0, eta = spec.case(i)
        ex = th.multipass_recursion(X, eps, d0, lam, s2, eta, B)
        mf = th.multipass_mean_field(X, eps, d0, lam, s2, eta, B)
        eta_c = min(eta[0], 0.999 * th.stability_bound(lam, B))
        on = th.online_loss(lam, d0**2, s2, np.full(spec.steps, eta_c), B)
        curves = (ex["test"], ex["train"], mf["test"], mf["train"], on)
        rows += cm.grid_rows([(i, P, B)], steps, *(c[None, steps] for c in curves))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    lam, s2 = spec.lam(), spec.noise_variance
    steps = cm.log_steps(spec.steps, spec.log_points)
    rows = []
    for i, (P, B) in enumerate(zip(spec.sizes, spec.batches, strict=True)):
        X, eps, d0, eta = spec.case(i)
        mc = multipass_sgd(
            X,
            eps,
            d0,
            lam,
            s2,
            eta,
            B,
            runs=spec.runs,
            seed=seed,
            keys=(i,),
            log_steps=steps,
            device=device,
        )
        series = (mc[k][None] for k in ("test", "test_se", "train", "train_se"))
        rows += cm.grid_rows([(i, P, B)], mc["steps"], *series)
    return pd.DataFrame(rows, columns=list(MEAS))


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    j = cm.joined(pred, meas, ["case", "step"])
    zt, it = cm.max_abs_z(j["test_loss_pred"], j["test_loss_meas"], j["test_se"])
    zr, _ = cm.max_abs_z(j["train_loss_pred"], j["train_loss_meas"], j["train_se"])
    gap_p = j["test_loss_pred"] - j["train_loss_pred"]
    gap_m = j["test_loss_meas"] - j["train_loss_meas"]
    zg, ig = cm.max_abs_z(gap_p, gap_m, j["test_se"] + j["train_se"])  # se of a difference <= sum
    mf = max(
        float(np.max(np.abs(j["mf_test_loss"] / j["test_loss_meas"] - 1))),
        float(np.max(np.abs(j["mf_train_loss"] / j["train_loss_meas"] - 1))),
    )
    small = j[j["P_pred"] == j["P_pred"].min()]  # the smallest dataset: farthest from online
    zn, _ = cm.max_abs_z(small["online_test_loss"], small["test_loss_meas"], small["test_se"])
    r = j.iloc[ig]
    return Evaluation(
        {
            "max_abs_z": max(zt, zr),
            "gap_max_abs_z": zg,
            "mean_field_max_rel_err": mf,
            "online_null_max_abs_z": zn,
        },
        detail=f"test |z| {zt:.2f}, train |z| {zr:.2f}; gap at P={int(r['P_pred'])} t={int(r['step'])}: "
        f"{gap_p.iloc[ig]:.4g} vs {gap_m.iloc[ig]:.4g}; mean-field worst {mf:.2%}",
    )


def figure(pred: pd.DataFrame, meas: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, pred["case"].nunique(), figsize=(11, 4), squeeze=False)
    for ax, (c, p) in zip(axes[0], pred.groupby("case"), strict=True):
        m = meas[meas.case == c]
        for col, color in (("test", "C0"), ("train", "C1")):
            ax.plot(p["step"], p[f"{col}_loss"], "-", color=color, label=f"{col}: exact")
            ax.plot(
                p["step"], p[f"mf_{col}_loss"], "--", color=color, lw=1, label=f"{col}: mean field"
            )
            ax.errorbar(m["step"], m[f"{col}_loss"], 2 * m[f"{col}_se"], fmt="o", ms=3, color=color)
        ax.plot(p["step"], p["online_test_loss"], "k:", lw=1, label="online (P = inf)")
        ax.set(xscale="log", yscale="log", xlabel="step", title=f"P = {int(p['P'].iloc[0])}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


LAW = Law(
    name="sgd-multipass-finite-data",
    claim="multi-pass SGD test/train loss = exact fixed-data moment recursion; mean field within 5%",
    source="Atanasov, Bordelon, Zavatone-Veth, Paquette, Pehlevan 2025 (arXiv 2502.05074), Sec. 3",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=Criterion(
        Check(
            "max_abs_z",
            "<=",
            4.0,
            why="max over ~48 (case, step, test/train) points of |exact - MC| / s.e.; < 0.3% "
            "chance above 4 for an exact theory",
        ),
        Check(
            "gap_max_abs_z",
            "<=",
            4.0,
            why="train-test gap, z with s.e.(test) + s.e.(train) >= s.e. of the difference",
        ),
        Check(
            "mean_field_max_rel_err",
            "<=",
            0.05,
            why="isotropic replacement of the per-sample gradient moment: 3.8% worst against "
            "the exact recursion here, plus 3 s.e. of the early-step MC mean (~0.4%)",
        ),
        Check(
            "online_null_max_abs_z",
            ">=",
            10.0,
            why="null: infinite-data (online) SGD must be rejected at P < D, where the "
            "fixed-data test loss rises by ~2x over the online plateau",
        ),
    ),
    # 5% off the test loss is > 10 s.e. (s.e. <= 0.4%) at every late step
    prediction=Prediction("test_loss", relative=0.05),
    theory_columns=COLUMNS,
    experiment_columns=MEAS,
    tags=("sgd", "synthetic", "finite-data"),
    doc=__doc__ or "",
)
