r"""chinchilla-recovery: the Chinchilla fit recovers known parameters, with honest intervals.

Claim:
    Losses generated from :math:`L(N, D) = E + A/N^\alpha + B/D^\beta` with Chinchilla's
    published parameters (E = 1.69, A = 406.4, B = 410.7, alpha = 0.339, beta = 0.285) are
    fitted by the protocol of Hoffmann et al. (Huber on log-loss residuals, delta = 1e-3,
    LSE parameterization, multistart) such that

    * on noiseless data every parameter is recovered to 1e-4 relative error (a gate), and
    * with multiplicative log-normal noise, the 95% percentile-bootstrap intervals cover
      the true value in at least 90% of 50 repetitions, for each of E, A, B, alpha and
      beta (the metric is the smallest of the five coverages).

System:
    A full grid of ``num_models`` model sizes (70M-16B) x ``num_tokens`` token counts
    (5B-500B) runs; noisy losses L_i exp(sigma eps_i) with eps_i ~ N(0, 1), seeded.

Measurement:
    :func:`lmech.fit.chinchilla.multistart` fits all repetitions and starts in one batch;
    :func:`lmech.fit.chinchilla.bootstrap_refit` refits ``bootstrap`` row resamples of every
    repetition from its own optimum, again in one batch, and the percentile interval is
    taken per parameter. The noiseless rows carry the point estimate as a degenerate
    interval.

Where theory and experiment part:
    Nothing here is asymptotic except the bootstrap itself: with 64 runs and the Huber
    loss (delta = 1e-3 is below the noise, so the fit is close to least absolute
    deviations) the percentile intervals are approximate. Quick preset: noiseless
    recovery 2.7e-15 relative (max over the five parameters); coverages at seed 0 were
    E 0.92, A 1.00, B 0.94, alpha 1.00, beta 0.94 (a, b 0.98), and at seed 1 E 0.94,
    A 0.96, B 0.92, alpha 0.96, beta 0.92. With 50 repetitions one coverage has a binomial
    standard error of about 0.03, so a true 95% coverage passes 0.90 with probability
    about 0.96 per parameter; the minimum over five correlated parameters is the metric. A and B are poorly identified (they trade off with alpha and beta), so their
    intervals are wide and skewed, as the replication by Besiroglu et al. reports.

Source:
    Hoffmann et al., "Training Compute-Optimal Large Language Models" (arXiv 2203.15556),
    Sec. 3.3 and App. D.2; Besiroglu, Erdil, Barnett, You, "Chinchilla Scaling: A
    replication attempt" (arXiv 2404.10102), Sec. 2 (bootstrap intervals).

Run:
    ``lmech check chinchilla-recovery`` (quick, 5-12 s on the shared 2-core machine).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from lmech import progress
from lmech.errors import ConfigError
from lmech.fit._bootstrap import percentile_interval, resample_counts
from lmech.fit.chinchilla import (
    HOFFMANN_2022,
    PARAMETERS,
    _named,
    bootstrap_refit,
    chinchilla_loss,
    hoffmann_grid,
    multistart,
)
from lmech.laws.base import Law, Verdict

TOLERANCE = 0.90  # smallest coverage of the 95% intervals over the five parameters (issue 7)
RECOVERY = 1e-4  # noiseless relative error gate (issue 7)
METRIC = "min_coverage"
_NAMES = PARAMETERS + ("a", "b")


@dataclass(frozen=True)
class Spec:
    """Synthetic Chinchilla runs; one field per hyperparameter."""

    E: float = HOFFMANN_2022["E"]
    A: float = HOFFMANN_2022["A"]
    B: float = HOFFMANN_2022["B"]
    alpha: float = HOFFMANN_2022["alpha"]
    beta: float = HOFFMANN_2022["beta"]
    n_range: tuple[float, float] = (7e7, 1.6e10)
    d_range: tuple[float, float] = (5e9, 5e11)
    num_models: int = 8
    num_tokens: int = 8
    noise: float = 0.01  # sigma of the multiplicative log-normal noise
    repetitions: int = 50
    bootstrap: int = 200
    level: float = 0.95
    delta: float = 1e-3  # Huber threshold (Hoffmann et al.)
    # start grid (a = log A, b = log B, e = log E, alpha, beta); paper: Hoffmann's 4,500
    grid_alpha: tuple[float, ...] = (0.25, 0.75)
    grid_beta: tuple[float, ...] = (0.25, 0.75)
    grid_e: tuple[float, ...] = (0.0, 0.5, 1.0)
    grid_a: tuple[float, ...] = (5.0, 10.0)
    grid_b: tuple[float, ...] = (5.0, 10.0)

    def __post_init__(self) -> None:
        if min(self.E, self.A, self.B, self.alpha, self.beta) <= 0:
            raise ConfigError("E, A, B, alpha and beta must be > 0")
        if self.num_models * self.num_tokens < 5 or self.repetitions < 1:
            raise ConfigError("need >= 5 runs and >= 1 repetition")
        if self.noise <= 0 or self.bootstrap < 10 or not 0 < self.level < 1:
            raise ConfigError("need noise > 0, bootstrap >= 10 and 0 < level < 1")

    def runs(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, D) of the full grid of runs."""
        n = np.geomspace(*self.n_range, self.num_models)
        d = np.geomspace(*self.d_range, self.num_tokens)
        N, D = np.meshgrid(n, d, indexing="ij")
        return N.ravel(), D.ravel()

    def truth(self) -> dict[str, float]:
        return {"E": self.E, "A": self.A, "B": self.B, "alpha": self.alpha, "beta": self.beta}

    def grid(self) -> np.ndarray:
        return hoffmann_grid(self.grid_alpha, self.grid_beta, self.grid_e, self.grid_a, self.grid_b)


PRESETS = {
    "smoke": Spec(num_models=4, num_tokens=4, repetitions=3, bootstrap=20, grid_e=(0.5,)),
    "quick": Spec(),
    "paper": Spec(
        repetitions=200,
        bootstrap=1000,
        grid_alpha=(0.0, 0.5, 1.0, 1.5, 2.0),
        grid_beta=(0.0, 0.5, 1.0, 1.5, 2.0),
        grid_e=(-1.0, -0.5, 0.0, 0.5, 1.0),
        grid_a=(0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
        grid_b=(0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    ),
}


def theory(spec: Spec) -> pd.DataFrame:
    t = spec.truth()
    t["a"] = spec.beta / (spec.alpha + spec.beta)
    t["b"] = spec.alpha / (spec.alpha + spec.beta)
    return pd.DataFrame({"parameter": list(t), "value": list(t.values())})


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    # device: the fit is float64 numpy (batched over starts); nothing runs on an accelerator
    N, D = spec.runs()
    clean = np.log(chinchilla_loss(N, D, **spec.truth()))
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn((spec.repetitions, len(N)), generator=gen, dtype=torch.float64).numpy()
    noisy = clean[None] + spec.noise * eps  # log L_i + sigma eps_i
    ln, ld = np.log(N), np.log(D)
    rows = []
    with progress.task("Chinchilla fits", 3) as advance:
        theta0, _ = multistart(ln, ld, clean[None], spec.grid(), delta=spec.delta)
        for name, v in zip(_NAMES, _named(theta0[0]), strict=True):
            rows.append(
                {"repetition": -1, "parameter": name, "estimate": v, "ci_low": v, "ci_high": v}
            )
        advance(1)
        theta, _ = multistart(ln, ld, noisy, spec.grid(), delta=spec.delta)
        advance(1)
        counts = np.stack(
            [
                resample_counts(len(N), spec.bootstrap, seed * 1_000_003 + r)
                for r in range(spec.repetitions)
            ]
        )
        boot = _named(bootstrap_refit(ln, ld, noisy, theta, counts, delta=spec.delta))
        advance(1)
    est = _named(theta)  # (R, 7)
    for r in range(spec.repetitions):
        lo, hi = percentile_interval(boot[r], spec.level)
        for i, name in enumerate(_NAMES):
            rows.append(
                {
                    "repetition": r,
                    "parameter": name,
                    "estimate": est[r, i],
                    "ci_low": lo[i],
                    "ci_high": hi[i],
                }
            )
    return pd.DataFrame(rows)


def _summary(pred: pd.DataFrame, meas: pd.DataFrame) -> tuple[float, dict[str, float]]:
    truth = pred.set_index("parameter")["value"]
    clean = meas[meas.repetition < 0].set_index("parameter")["estimate"]
    rel = float(max(abs(clean[p] / truth[p] - 1) for p in PARAMETERS))
    noisy = meas[meas.repetition >= 0]
    cover = {}
    for p, g in noisy.groupby("parameter", sort=False):
        cover[p] = float(((g.ci_low <= truth[p]) & (truth[p] <= g.ci_high)).mean())
    return rel, cover


def compare(pred: pd.DataFrame, meas: pd.DataFrame) -> Verdict:
    rel, cover = _summary(pred, meas)
    value = min(cover[p] for p in PARAMETERS)
    detail = f"noiseless recovery {rel:.2e} (gate {RECOVERY:g}); coverage " + ", ".join(
        f"{p} {cover[p]:.2f}" for p in _NAMES
    )
    verdict = Verdict.from_metric(METRIC, value, TOLERANCE, higher_is_better=True, detail=detail)
    if rel > RECOVERY:  # the noiseless gate fails the law whatever the coverage
        return Verdict(
            METRIC,
            verdict.value,
            TOLERANCE,
            False,
            detail="noiseless gate failed: " + detail,
            higher_is_better=True,
        )
    return verdict


def figure(pred: pd.DataFrame, meas: pd.DataFrame):
    truth = pred.set_index("parameter")["value"]
    _, cover = _summary(pred, meas)
    noisy = meas[meas.repetition >= 0]
    fig, axes = plt.subplots(1, len(_NAMES), figsize=(3 * len(_NAMES), 3.6))
    for ax, p in zip(axes, _NAMES, strict=True):
        g = noisy[noisy.parameter == p].sort_values("estimate")
        y = np.arange(len(g))
        hit = (g.ci_low <= truth[p]) & (truth[p] <= g.ci_high)
        ax.hlines(y, g.ci_low, g.ci_high, colors=np.where(hit, "C0", "C3"), lw=1)
        ax.plot(g.estimate, y, "k.", ms=3)
        ax.axvline(truth[p], color="k", ls="--", lw=1)
        ax.set_title(f"{p}: coverage {cover[p]:.2f}", fontsize=9)
        ax.set_yticks([])
        if p in ("A", "B"):
            ax.set_xscale("log")
    axes[0].set_ylabel("repetition (sorted)")
    fig.suptitle("Chinchilla fit: 95% bootstrap intervals vs truth (red: missed)")
    fig.tight_layout()
    return fig


LAW = Law(
    name="chinchilla-recovery",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    compare=compare,
    figure=figure,
    metric=METRIC,
    tolerance=TOLERANCE,
    source="Hoffmann et al. 2022 (arXiv 2203.15556), Sec. 3.3, App. D.2; Besiroglu et al. 2024 (arXiv 2404.10102)",
    claim="Chinchilla fit recovers E, A, B, alpha, beta (1e-4 noiseless); 95% bootstrap CIs cover >= 90%",
    tags=("scaling", "fitting", "synthetic"),
    theory_columns=("parameter", "value"),
    experiment_columns=("repetition", "parameter", "estimate", "ci_low", "ci_high"),
    doc=__doc__ or "",
    higher_is_better=True,
)
