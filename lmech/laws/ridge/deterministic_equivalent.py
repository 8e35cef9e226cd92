r"""ridge-deterministic-equivalent: linear ridge test error = its deterministic equivalent.

Claim:
    For P samples x ~ N(0, Sigma) in D dimensions, y = w^T x + eps, ridge with per-sample
    ridge lambda has test error (against noisy labels)

    .. math:: E_g = \frac{\kappa^2 w^\top\Sigma(\Sigma+\kappa)^{-2}w + \sigma^2}{1-\gamma},
              \quad \kappa\Big(1 - \frac{Df_1(\kappa)}{P}\Big) = \lambda,\quad
              \gamma = \frac{Df_2(\kappa)}{P},

    to within 3% (max over the grid of |pred - meas| / meas) for P, D >= 500 on both sides
    of the interpolation threshold P = D and across three decades of ridge.

System:
    D = ``dim``, s_i ~ i^-alpha (Tr Sigma = 1), teacher with signal power
    s_i w_i^2 ~ i^-beta (unit signal variance), noise sigma^2; P = 500 < D = 600 < P = 800.

Measurement:
    One SVD per training set solves every ridge; the test error is exact,
    (w_hat - w)^T Sigma (w_hat - w) + sigma^2 (no test-set noise), averaged over trials.

Null:
    The "classical" answer without renormalization, kappa = lambda and gamma = 0 (the
    population risk of the ridge estimator at infinite data, plus noise), must be more
    than 20% off somewhere on the grid (it is, at the small ridges, where renormalization
    matters; at lambda = 0.1 it is within 1%): ``max_rel_err_null >= 0.2``.

Known limits:
    The deterministic equivalent is exact as P, D -> inf at fixed P/D. At quick the worst
    grid point is 0.73%, 0.93% and 0.45% off at seeds 0, 1, 2 (the largest at P = 800,
    where 2 SE of the mean is 0.2%, so a finite-size bias of up to ~0.9% is resolved). The
    spread across training sets is at most 2.9% per trial (P = 500, lambda = 1e-4): 2 SE
    of a 24-trial mean is 1.2%.

Source:
    Atanasov, Zavatone-Veth, Pehlevan, "Scaling and renormalization in high-dimensional
    regression", arXiv:2405.00592, Sec. 3 (E_g, Df1, Df2); Bach, arXiv:2303.01372, Sec. 3;
    Hastie, Montanari, Rosset, Tibshirani, Ann. Statist. 50 (2022), Thm. 5.

Run:
    ``lmech check ridge-deterministic-equivalent`` (quick, ~5 s CPU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech.experiment.ridge import linear_ridge_errors
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.ridge import _common
from lmech.laws.spec import LawSpec, param
from lmech.seeding import torch_generator
from lmech.theory.ridge import ridge_risk

THEORY_COLUMNS = ("samples", "ridge", "kappa", "gamma", "test_error", "train_error", "null_error")
EXPERIMENT_COLUMNS = ("trial", "samples", "ridge", "test_error", "train_error")


@dataclass(frozen=True)
class Spec(LawSpec):
    dim: int = param(600, ge=1, doc="D: input dimension")
    spectrum_exponent: float = param(1.2, gt=0, doc="alpha in s_i ~ i^-alpha")
    teacher_exponent: float = param(1.5, gt=0, doc="beta in s_i w_i^2 ~ i^-beta")
    noise_variance: float = param(0.1, ge=0, doc="sigma^2, label noise")
    samples: tuple[int, ...] = param((500, 800), ge=1, min_len=1, distinct=True)
    ridges: tuple[float, ...] = param((1e-4, 1e-3, 1e-2, 1e-1), gt=0, min_len=1, distinct=True)
    trials: int = param(24, ge=1)

    def memory_bytes(self) -> int:
        # one draw at the largest P (float64, 3x for the solver's copies): the samples and
        # their features P x 2D, the D x D and P x P systems, the ridge grid's solutions,
        # and 64 MiB for the interpreter and torch's temporaries
        P, D = max(self.samples), self.dim
        return 2**26 + 24 * (2 * P * D + D * D + P * P + len(self.ridges) * (P + D))

    def model(self):
        return _common.power_law_model(self.dim, self.spectrum_exponent, self.teacher_exponent)


PRESETS = {
    "smoke": Spec(dim=60, samples=(40, 90), ridges=(1e-3, 1e-1), trials=2),
    "quick": Spec(),
    "paper": Spec(dim=1000, samples=(500, 800, 1500), trials=100),
}


def theory(spec: Spec) -> pd.DataFrame:
    s, w = spec.model()
    P, lam = np.meshgrid(np.array(spec.samples, float), np.array(spec.ridges), indexing="ij")
    r = ridge_risk(s, w, P.ravel(), lam.ravel(), spec.noise_variance)
    null = lam.ravel() ** 2 * ((w**2 * s) / (s + lam.ravel()[:, None]) ** 2).sum(axis=1)
    return pd.DataFrame(
        {
            "samples": P.ravel().astype(np.int64),
            "ridge": lam.ravel(),
            "kappa": r.kappa,
            "gamma": r.gamma,
            "test_error": r.test_error,
            "train_error": r.train_error,
            "null_error": null + spec.noise_variance,
        }
    )


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    s, w = spec.model()
    rows = []
    for P in spec.samples:
        for t in range(spec.trials):
            out = linear_ridge_errors(
                s, w, P, spec.ridges, spec.noise_variance,
                torch_generator(seed, "data", P, t), device=device,
            )  # fmt: skip
            for j, lam in enumerate(spec.ridges):
                rows.append((t, P, lam, out["test_error"][j], out["train_error"][j]))
    return pd.DataFrame(rows, columns=list(EXPERIMENT_COLUMNS))


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    m = _common.mean_sem(meas, ["samples", "ridge"])
    j = m.merge(pred, on=["samples", "ridge"])
    rel = (j["test_error"] - j["mean"]).abs() / j["mean"]
    null = (j["null_error"] - j["mean"]).abs() / j["mean"]
    w = int(rel.idxmax())
    return Evaluation(
        {"max_rel_err_test_error": float(rel.max()), "max_rel_err_null": float(null.max())},
        detail=f"worst at P={j.samples[w]}, ridge={j.ridge[w]:g}: theory {j.test_error[w]:.4g} "
        f"vs {j['mean'][w]:.4g} +- {j['sem'][w]:.2g}",
    )


LAW = Law(
    name="ridge-deterministic-equivalent",
    claim="linear ridge E_g = (kappa^2 w'S(S+kappa)^-2 w + s^2)/(1 - Df2/P) within 3%",
    source="Atanasov, Zavatone-Veth, Pehlevan 2024 (arXiv 2405.00592), Sec. 3",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=_common.curve_figure(
        "Ridge: deterministic equivalent vs simulation", "ridge", "samples"
    ),
    criterion=Criterion(
        Check(
            "max_rel_err_test_error",
            "<=",
            0.03,
            why="worst of 8 grid points: 2 SE of the 24-trial mean (<= 1.2%; per-trial "
            "spread <= 2.9%) plus the measured finite-size bias (<= 0.9%)",
        ),
        Check(
            "max_rel_err_null",
            ">=",
            0.2,
            why="the unrenormalized kappa = lambda, gamma = 0 answer must miss the "
            "measurement by far more than the 3% tolerance on the grid (small ridges)",
        ),
    ),
    # 10% is more than three times the 3% tolerance at every grid point
    prediction=Prediction("test_error", relative=0.10),
    theory_columns=THEORY_COLUMNS,
    experiment_columns=EXPERIMENT_COLUMNS,
    tags=("ridge", "deterministic-equivalent", "synthetic"),
    doc=__doc__ or "",
)
