r"""icl-transformer-interpolation-peak: a softmax Transformer's peak in tau sits at tau >= 1.

Claim:
    Lu et al. (Fig. 5): trained on n = tau d^2 in-context regression sequences, the test
    error of linear attention peaks at the interpolation threshold tau = 1 (d(d+1)
    parameters of the reduced Gamma; :func:`lmech.theory.icl.icl_error` diverges there),
    and richer softmax Transformers show their peak at tau >= 1, moving right with
    capacity. Checks: the reduced linear-attention simulation peaks at the theory's peak
    (|ln(tau_meas / tau_theory)| <= 0.25); the Transformer's measured peak is at or right
    of the theory's linear-attention peak; and it is a peak (its height is at least 1.3
    times the error at the largest tau).

System:
    d = 6 (quick), alpha = 1, kappa = infinity (a fresh sphere task per sequence),
    rho = 0.01. Transformer: linear embedding of (x_i, y_i) tokens, ``layers`` single-head
    softmax self-attention blocks (+ GELU MLP if ``mlp``) with residuals, readout at the
    query token; full-batch AdamW (no weight decay) for ``steps`` steps, float32.
    Linear attention: the reduced Gamma by ridge regression (lambda = ``ridge``) on the
    same kind of data, exact ICL error.

Measurement:
    Per tau: one trained Transformer per draw (``draws``), its MSE on ``test_contexts``
    fresh sequences; the reduced model's exact ICL error averaged over ``linear_draws``.
    Peaks are the grid tau of the largest mean error.

Known limits:
    At quick the grid is coarse and one draw is trained per tau; the Transformer peak
    fell at tau = 1, 1.5, 1 at seeds 0-2 (seed 0 test MSE 3.46, 5.84, 2.53, 2.71, 1.70 at
    tau = 0.5, 1, 1.5, 2, 4, d = 6), i.e. on or just right of the linear-attention peak.
    The error at tau = 0.5 is itself high and noisy with one draw (2.8-3.5), so the peak
    is not compared with the left end. "To the right" (tau > 1) cannot be told from
    "at 1" at quick: "to the right" (tau > 1) cannot
    be told from "at 1" there, so ``discriminating_preset = "paper"`` (d = 20, finer tau
    grid, 2 x (softmax + MLP), many more steps: a GPU run, not run here). Training is
    finite (not converged to the global minimum), so the peak height depends on steps;
    its location is what is claimed.

Source:
    Lu, Letey, Zavatone-Veth, Maiti, Pehlevan, PNAS 2025 (arXiv 2405.11751), Fig. 5
    (nonlinear Transformers: the interpolation peak moves right).

Run:
    ``lmech check icl-transformer-interpolation-peak`` (quick: about 8 s of CPU on one
    core). The paper preset is for a GPU (``--device cuda``; the CUDA path was not run
    here): on one CPU core a full-batch AdamW step takes 0.07 s at tau = 1 and 0.21 s at
    tau = 8 (d = 20, 2 x (softmax + MLP), width 20), about 0.92 s per step summed over its
    nine tau values, so 20,000 steps x 3 draws need about 55,000 CPU-s (15 hours); peak
    memory about 0.7 GB (RSS at tau = 8; ``memory_bytes`` declares 838 MiB).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech import progress
from lmech.experiment.icl import pretrained_gamma, train_transformer_icl
from lmech.figures import icl as icl_figures
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.icl import _common
from lmech.laws.spec import LawSpec, param
from lmech.theory.icl import gamma_error, icl_error


@dataclass(frozen=True)
class Spec(LawSpec):
    """tau grid, Transformer size and training, linear-attention baseline."""

    d: int = param(6, ge=2)
    alpha: float = param(1.0, gt=0)
    rho: float = param(0.01, ge=0)
    taus: tuple[float, ...] = param(
        (0.5, 1.0, 1.5, 2.0, 4.0), gt=0, min_len=3, distinct=True, increasing=True
    )
    width: int = param(12, ge=2)
    layers: int = param(1, ge=1, le=4)
    mlp: bool = False
    steps: int = param(700, ge=1)
    lr: float = param(1e-2, gt=0)
    draws: int = param(1, ge=1, doc="trained Transformers per tau")
    test_contexts: int = param(1000, ge=10)
    ridge: float = param(1e-4, gt=0, doc="lambda of the linear-attention baseline")
    linear_draws: int = param(8, ge=1)

    def memory_bytes(self) -> int:
        # float32 sequences, per-layer activations (width x 8 with MLP) and attention
        # maps (ell+1)^2 kept for backward, over train and test sets, 3x headroom
        d, w = self.d, self.width
        ell = max(1, round(self.alpha * d))
        n = max(1, round(max(self.taus) * d * d)) + self.test_contexts
        per_seq = (ell + 1) * (d + 1 + self.layers * (8 * w + 2 * (ell + 1)))
        fit = _common.gamma_fit_bytes(d, self.alpha, max(self.taus))
        return max(3 * 4 * n * per_seq, fit)

    def validate(self) -> None:
        from lmech.errors import ConfigError

        if not (self.taus[0] < 1 < self.taus[-1]):
            raise ConfigError(f"taus must straddle tau = 1; got {self.taus}")


PRESETS = {
    "smoke": Spec(d=4, taus=(0.5, 1.0, 2.0), width=4, steps=5, test_contexts=20, linear_draws=1),
    "quick": Spec(),
    "paper": Spec(
        d=20,
        taus=(0.5, 0.85, 1.0, 1.15, 1.5, 2.0, 3.0, 5.0, 8.0),
        width=20,
        layers=2,
        mlp=True,
        steps=20000,
        lr=1e-3,
        draws=3,
        test_contexts=5000,
        linear_draws=8,
    ),
}

COLUMNS = ("tau", "alpha", "rho", "ridge", "linear_icl_error", "peak_tau")
EXP_COLUMNS = ("model", "tau", "draw", "train_error", "test_error")


def theory(spec: Spec) -> pd.DataFrame:
    t = np.array(spec.taus)
    e = np.atleast_1d(icl_error(spec.alpha, np.inf, t, spec.rho, spec.ridge))
    return pd.DataFrame(
        {
            "tau": t,
            "alpha": spec.alpha,
            "rho": spec.rho,
            "ridge": spec.ridge,
            "linear_icl_error": e,
            "peak_tau": float(t[np.argmax(e)]),
        }
    )


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    rows = []
    with progress.task("icl transformer", len(spec.taus) * (spec.draws + 1)) as advance:
        for i, t in enumerate(spec.taus):
            for s in range(spec.draws):
                tr, te = train_transformer_icl(
                    spec.d,
                    spec.alpha,
                    t,
                    spec.rho,
                    width=spec.width,
                    layers=spec.layers,
                    mlp=spec.mlp,
                    steps=spec.steps,
                    lr=spec.lr,
                    test_contexts=spec.test_contexts,
                    seed=seed,
                    keys=(i, s),
                    device=device,
                )
                rows.append(
                    {
                        "model": "transformer",
                        "tau": t,
                        "draw": s,
                        "train_error": tr,
                        "test_error": te,
                    }
                )
                advance(1)
            for s in range(spec.linear_draws):
                g, _ = pretrained_gamma(
                    spec.d,
                    spec.alpha,
                    np.inf,
                    t,
                    spec.rho,
                    spec.ridge,
                    seed,
                    "linear",
                    i,
                    s,
                    device=device,
                )
                e = gamma_error(g, spec.alpha, spec.rho)
                rows.append(
                    {
                        "model": "linear_attention",
                        "tau": t,
                        "draw": s,
                        "train_error": 0.0,
                        "test_error": e,
                    }
                )
            advance(1)
    return pd.DataFrame(rows, columns=list(EXP_COLUMNS))


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    curves = meas.groupby(["model", "tau"])["test_error"].mean()
    tr, la = curves.loc["transformer"], curves.loc["linear_attention"]
    tr_peak = float(tr.idxmax())
    la_peak = float(la.idxmax())
    theory_peak = float(pred["peak_tau"].iloc[0])
    return Evaluation(
        {
            "abs_log_linear_peak_vs_theory": abs(float(np.log(la_peak / theory_peak))),
            "transformer_peak_over_linear_theory_peak": tr_peak / theory_peak,
            "transformer_peak_over_right_end": float(tr.max() / tr.iloc[-1]),
        },
        detail=f"peaks: Transformer tau={tr_peak:g}, linear attention tau={la_peak:g} "
        f"(theory {theory_peak:g}); Transformer test MSE " + ", ".join(f"{v:.3f}" for v in tr),
    )


LAW = Law(
    name="icl-transformer-interpolation-peak",
    claim="a small softmax Transformer's test error vs tau peaks at tau >= 1, at or right of "
    "linear attention's peak at tau = 1",
    source="Lu et al. 2025 (arXiv 2405.11751), Fig. 5",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=icl_figures.transformer_peak_figure,
    criterion=Criterion(
        Check(
            "abs_log_linear_peak_vs_theory",
            "<=",
            0.25,
            why="the linear-attention simulation must peak on the theory's grid point "
            "(neighbours on the grid differ by a factor >= 1.33, ln 1.33 = 0.29)",
        ),
        Check(
            "transformer_peak_over_linear_theory_peak",
            ">=",
            1.0,
            why="Fig. 5: richer models peak at or right of the linear-attention threshold; "
            "a grid point to the left (ratio <= 0.5) falsifies it",
        ),
        Check(
            "transformer_peak_over_right_end",
            ">=",
            1.3,
            why="a peak and then a descent: measured 1.7-3.4 times the largest-tau error at "
            "quick (seeds 0-2), while a curve still rising at the end gives <= 1",
        ),
    ),
    # moving the theory's peak by a factor 1.5 either way puts it off the measured one
    prediction=Prediction("peak_tau", relative=0.5),
    theory_columns=COLUMNS,
    experiment_columns=EXP_COLUMNS,
    discriminating_preset="paper",
    tags=("icl", "transformer", "double-descent", "synthetic"),
    doc=__doc__ or "",
)
