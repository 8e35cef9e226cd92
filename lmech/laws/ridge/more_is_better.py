r"""more-is-better: with the ridge tuned, more features and more data never hurt.

Claim:
    For linear random-feature ridge regression, the test error at the optimal ridge,
    min_lambda E_g(P, N, lambda) (deterministic equivalent of
    :func:`lmech.theory.ridge.random_feature_risk`), does not increase in the number of
    features N nor in the number of samples P, and matches the measured optimum within 5%;
    at a fixed small ridge the same curves do increase (double descent), by far more.

System:
    x ~ N(0, Sigma) in D dimensions (s_i ~ i^-alpha, Tr = 1; signal power ~ i^-beta, unit
    total), noise sigma^2, features F (D, N) i.i.d. N(0, 1/N). Two sweeps: N at fixed
    P = ``samples``, and P at fixed N = ``features``.

Measurement:
    Per trial one data set of max(P) rows and one projection of max(N) columns; the sweeps
    use nested prefixes (common random numbers), and every ridge of a 31-point log grid is
    solved from one SVD. The measured tuned error at a size is the minimum over the grid of
    the trial-mean error.

Checks:
    theory vs measured tuned error within 5%; the largest relative increase of the
    measured tuned curve between consecutive sizes <= 1% (flat or decreasing, up to
    noise); and the largest relative increase of the fixed-ridge curve >= 50% (the null:
    without tuning, more is not better).

Known limits:
    The grid minimum sits above the true optimum by at most 0.23% (theory on the same grid,
    spacing 10^0.2 in lambda) and the minimum over noisy means sits below it by about one
    SE; both are far below the 5% tolerance. Worst tuned point at quick, seed 0: 1.9%. Negative ridges, optimal for some
    teachers, are not searched.

Source:
    Simon, Karkada, Ghosh, Belkin, "More is better in modern machine learning", ICLR 2024,
    arXiv:2311.14646, Sec. 5; Atanasov, Zavatone-Veth, Pehlevan, arXiv:2405.00592, Sec. 5;
    Nakkiran, Venkat, Kakade, Ma, "Optimal regularization can mitigate double descent",
    ICLR 2021.

Run:
    ``lmech check more-is-better`` (quick, ~5 s CPU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech.experiment.ridge import nested_rf_errors
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.ridge import _common
from lmech.laws.spec import LawSpec, param
from lmech.seeding import torch_generator
from lmech.theory.ridge import optimal_ridge, random_feature_risk

THEORY_COLUMNS = ("axis", "size", "tuned", "ridge", "test_error")
EXPERIMENT_COLUMNS = ("trial", "axis", "size", "tuned", "ridge", "test_error")


@dataclass(frozen=True)
class Spec(LawSpec):
    dim: int = param(400, ge=1, doc="D: input dimension")
    samples: int = param(200, ge=1, doc="P of the feature sweep")
    features: int = param(200, ge=1, doc="N of the sample sweep")
    spectrum_exponent: float = param(1.0, gt=0, doc="alpha in s_i ~ i^-alpha")
    teacher_exponent: float = param(1.2, gt=0, doc="beta in s_i w_i^2 ~ i^-beta")
    noise_variance: float = param(0.2, ge=0, doc="sigma^2, label noise")
    sizes: tuple[int, ...] = param(
        (25, 50, 100, 160, 200, 250, 400, 800, 1600), ge=1, min_len=2, increasing=True,
        doc="the N of the feature sweep and the P of the sample sweep",
    )  # fmt: skip
    fixed_ridge: float = param(1e-6, gt=0, doc="the untuned ridge")
    ridge_grid: tuple[float, float, int] = param(
        (1e-6, 1e0, 31), gt=0, doc="log grid (lo, hi, count) of the measured ridge search"
    )
    trials: int = param(20, ge=1)

    def validate(self) -> None:
        from lmech.errors import ConfigError

        lo, hi, n = self.ridge_grid
        if not (lo < hi and n >= 2 and float(n).is_integer()):
            raise ConfigError(f"ridge_grid must be (lo < hi, count >= 2); got {self.ridge_grid}")

    def memory_bytes(self) -> int:
        # one nested draw at the largest P and N (float64, 3x for the solver's copies):
        # samples and features P x (D + N), the projection D x N, the P x P and N x N
        # systems and the ridge grid's solutions,
        # and 64 MiB for the interpreter and torch's temporaries
        P, N, D = max(self.samples, *self.sizes), max(self.features, *self.sizes), self.dim
        grid = int(self.ridge_grid[2]) + 1
        return 2**26 + 24 * (P * (D + N) + D * N + P * P + N * N + grid * (P + N))

    def model(self):
        return _common.power_law_model(self.dim, self.spectrum_exponent, self.teacher_exponent)

    def grid(self) -> np.ndarray:
        lo, hi, n = self.ridge_grid
        return np.geomspace(lo, hi, int(n))


PRESETS = {
    "smoke": Spec(
        dim=40, samples=20, features=20, sizes=(10, 20, 40), trials=2, ridge_grid=(1e-4, 1.0, 5)
    ),  # fmt: skip
    "quick": Spec(),
    "paper": Spec(
        dim=1000,
        samples=400,
        features=400,
        sizes=(25, 50, 100, 200, 300, 400, 500, 800, 1600, 3200),
        trials=100,
    ),  # fmt: skip
}


def theory(spec: Spec) -> pd.DataFrame:
    s, w = spec.model()
    rows = []
    sizes = np.array(spec.sizes, float)
    for axis in ("features", "samples"):
        P = np.full(sizes.shape, float(spec.samples)) if axis == "features" else sizes
        N = sizes if axis == "features" else np.full(sizes.shape, float(spec.features))
        lam, err = optimal_ridge(s, w, P, spec.noise_variance, features=N)
        fixed = random_feature_risk(s, w, P, N, spec.fixed_ridge, spec.noise_variance)
        for k, n in enumerate(spec.sizes):
            rows.append((axis, n, True, lam[k], err[k]))
            rows.append((axis, n, False, spec.fixed_ridge, fixed.test_error[k]))
    return pd.DataFrame(rows, columns=list(THEORY_COLUMNS))


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    s, w = spec.model()
    grid = np.concatenate([spec.grid(), [spec.fixed_ridge]])
    rows = []
    for t in range(spec.trials):
        for axis in ("features", "samples"):
            P = [spec.samples] if axis == "features" else list(spec.sizes)
            N = list(spec.sizes) if axis == "features" else [spec.features]
            e = nested_rf_errors(
                s, w, P, N, grid, spec.noise_variance,
                torch_generator(seed, axis, t), device=device,
            ).reshape(len(spec.sizes), grid.size)  # fmt: skip
            for k, n in enumerate(spec.sizes):
                for j, lam in enumerate(grid):
                    rows.append((t, axis, n, j < grid.size - 1, lam, e[k, j]))
    return pd.DataFrame(rows, columns=list(EXPERIMENT_COLUMNS))


def _measured(meas: pd.DataFrame) -> pd.DataFrame:
    m = meas.groupby(["axis", "size", "tuned", "ridge"])["test_error"].mean().reset_index()
    return m.groupby(["axis", "size", "tuned"])["test_error"].min().reset_index()


def _max_increase(df: pd.DataFrame) -> float:
    out = -np.inf
    for _, sub in df.groupby("axis"):
        e = sub.sort_values("size")["test_error"].to_numpy()
        out = max(out, float(np.max(e[1:] / e[:-1] - 1.0)))
    return out


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    m = _measured(meas)
    j = m.merge(pred, on=["axis", "size", "tuned"], suffixes=("", "_th"))
    tuned = j[j["tuned"]]
    rel = (tuned["test_error_th"] - tuned["test_error"]).abs() / tuned["test_error"]
    w = rel.idxmax()
    return Evaluation(
        {
            "max_rel_err_tuned": float(rel.max()),
            "max_increase_tuned": _max_increase(m[m["tuned"]]),
            "max_increase_fixed_ridge": _max_increase(m[~m["tuned"]]),
        },
        detail=f"worst tuned point {j.axis[w]}={j['size'][w]}: theory "
        f"{j.test_error_th[w]:.4g} vs {j.test_error[w]:.4g}",
    )


def figure(pred: pd.DataFrame, meas: pd.DataFrame):
    from lmech.figures.ridge import more_is_better_figure

    m = _measured(meas)
    return more_is_better_figure(pred, m, title="RF ridge: more is better with a tuned ridge")


LAW = Law(
    name="more-is-better",
    claim="with the ridge tuned, RF ridge error does not increase in N or P (theory and "
    "measurement); at a fixed ridge it does",
    source="Simon, Karkada, Ghosh, Belkin 2024 (arXiv 2311.14646), Sec. 5",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=Criterion(
        Check(
            "max_rel_err_tuned",
            "<=",
            0.05,
            why="2 SE of a 20-trial mean (per-trial spread <= 10%, 2 SE <= 4.5%) plus "
            "<= 0.23% grid discretization of the measured optimum",
        ),
        Check(
            "max_increase_tuned",
            "<=",
            0.01,
            why="nested sizes share draws: a step's SE is 0.3-1.5% (measured) while the "
            "tuned curve falls >= 2.9% per step; no increase beyond 1% is allowed",
        ),
        Check(
            "max_increase_fixed_ridge",
            ">=",
            0.5,
            why="the null: at lambda = 1e-6 the theory curves rise by 2.8-3x into N = P, "
            "so tuning is what makes more better",
        ),
    ),
    # 15% is three times the 5% tolerance at every tuned point
    prediction=Prediction("test_error", relative=0.15, where={"tuned": True}),
    theory_columns=THEORY_COLUMNS,
    experiment_columns=EXPERIMENT_COLUMNS,
    tags=("ridge", "random-features", "more-is-better", "synthetic"),
    doc=__doc__ or "",
)
