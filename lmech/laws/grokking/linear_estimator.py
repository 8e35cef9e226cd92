r"""grokking-linear-estimator: a linear teacher-student model groks, on a closed-form clock.

Claim:
    Levi, Beck, Bar-Sinai (ICLR 2024): full-batch GD of a linear student S on a linear
    teacher y = T x, x ~ N(0, I_d), with N = d / lambda training points, has error
    D_t = D_0 (I - eta Sigma)^t, so the per-output train and test MSE are spectral sums
    over the train covariance Sigma, which tend to Marchenko-Pastur integrals
    (:func:`lmech.theory.grokking_dynamics.linear_losses`):
    L_tr(t) = s^2 int x (1 - eta x)^{2t} dmu_lambda, L_te(t) = s^2 int (1 - eta x)^{2t}
    dmu_lambda. The train loss carries the extra factor x, which damps the slow modes
    near the lower MP edge (1 - sqrt(lambda))^2, so it crosses the accuracy threshold
    epsilon first and the test loss follows later: the grokking delay
    t_te(epsilon) - t_tr(epsilon), which grows without bound as lambda -> 1. Accuracy
    (share of points with per-sample loss < epsilon) is the CDF at epsilon of
    (s^2 / d) Q chi^2_{d_out} / d_out, Q a Gaussian quadratic form over the MP quantiles
    (:func:`lmech.theory.grokking_dynamics.linear_accuracies`); its sharp rise is the
    threshold applied to a smoothly decaying loss (Levi et al. Sec. 2, "grokking without
    understanding").

System:
    d_in = 200, d_out = 50, lambda = d_in / N in {0.3, 0.5, 0.7} (N = 667, 400, 286),
    T and S_0 with i.i.d. N(0, 1 / d_in) entries (s^2 = 2), eta = 0.25, no weight decay,
    epsilon = 0.01, 16 trials per lambda (fresh data, teacher, init and 1000 test points
    each), 40 logged steps up to 1.5 x the predicted test crossing. Predicted crossings
    (train, test, delay) in steps, log-linear on the logged grid: lambda = 0.3: 15.8,
    22.5, 6.7; 0.5: 21.1, 43.1, 21.9; 0.7: 26.7, 103.5, 76.8 (the exact roots of
    :func:`crossing_time` at 0.7: 26.6, 103.9).

Measurement:
    Real GD on the sampled data (gradient (S - T) X^T X / N, float64); at each logged step
    the per-sample losses |S x - T x|^2 / d_out of every train and test point: trial means
    of the train/test loss and of the train/test accuracy. Crossing times of the
    trial-mean losses (and of the theory curves, on the same logged grid) by log-linear
    interpolation.

Criterion:
    - ``max_rel_err_test_loss`` <= 0.15 and ``max_rel_err_train_loss`` <= 0.1 (worst over
      lambda and the logged steps up to the predicted test crossing);
    - ``max_err_test_accuracy`` and ``max_err_train_accuracy`` (absolute, all steps) <= 0.1;
    - ``max_rel_err_delay``: |measured - predicted delay| / predicted <= 0.1;
    - null "no grokking" (test crossing at the train crossing): the smallest
      ``min_relative_delay`` = measured delay / t_tr over lambda must be >= 0.2.
    Quick preset, seeds 0-5: test loss 0.034-0.104, train loss 0.022-0.057, test accuracy
    0.033-0.082, train accuracy 0.010-0.033, delay 0.020-0.056, relative delay 0.43.

Known limits:
    The MP integrals are the d, N -> infinity limit. At finite d the lower edge of the
    empirical spectrum fluctuates (Tracy-Widom scale d^{-2/3}) and late test losses are
    set by the few smallest eigenvalues, so the trial-mean loss sits above the MP value by
    an amount that grows with t and with lambda: at the predicted test crossing, +4.5%
    (test) and +2% (train) at lambda = 0.7 for d_in = 200 (64 trials, two seeds), +12% and
    +7% for d_in = 100; at 1.5 x the crossing, +5-24% at d_in = 100. That is why the loss
    checks stop at the crossing and d_in is 200. Per-trial spread of the late test loss is
    ~12%, right-skewed (one small eigenvalue dominates a trial). The train-accuracy theory
    approximates each train point's singular-vector row by N(0, I / N). Weight decay and
    the 2-layer linear student of Levi et al. (Sec. 4) are not covered. For lambda >= 1
    the test loss plateaus at (1 - 1/lambda) s^2 (the null space of Sigma is never
    learned) and there is no test crossing at small epsilon, so the spec refuses it.

Source:
    N. Levi, A. Beck, Y. Bar-Sinai, "Grokking in linear estimators: a solvable model that
    groks without understanding", ICLR 2024 (arXiv 2310.16441), Sec. 2 (setup, accuracy
    threshold), Sec. 3 (GD solution through the train covariance, MP spectrum, grokking
    time vs lambda).

Run:
    ``lmech check grokking-linear-estimator`` (quick, ~3 s of CPU on one core).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech.errors import ConfigError
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.grokking._dynamics import crossing_step, linear_teacher_student_run
from lmech.laws.spec import LawSpec, param
from lmech.theory.grokking_dynamics import crossing_time, linear_accuracies, linear_losses, mp_edges

CURVES = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")


@dataclass(frozen=True)
class Spec(LawSpec):
    d_in: int = param(200, ge=2, doc="input dimension d")
    d_out: int = param(50, ge=1, doc="output dimension")
    ratios: tuple[float, ...] = param((0.3, 0.5, 0.7), gt=0, lt=1, min_len=1, distinct=True,
                                      doc="lambda = d_in / N_train")  # fmt: skip
    lr: float = param(0.25, gt=0, doc="GD step eta; needs eta (1 + sqrt(lambda))^2 < 2")
    teacher_scale: float = param(1.0, gt=0, doc="teacher entries ~ N(0, scale^2 / d_in)")
    init_scale: float = param(1.0, ge=0, doc="student init entries ~ N(0, scale^2 / d_in)")
    threshold: float = param(0.01, gt=0, doc="epsilon: a point is 'correct' if its loss < epsilon")
    trials: int = param(16, ge=1, doc="independent runs per ratio")
    test_points: int = param(1000, ge=1, doc="fresh test points per run")
    log_points: int = param(40, ge=2, doc="logged steps per run")
    horizon: float = param(1.5, ge=1, doc="last logged step / predicted test crossing")
    accuracy_samples: int = param(20000, ge=100, doc="draws of the accuracy theory's CDF")

    def validate(self) -> None:
        for r in self.ratios:
            n = self.n_train(r)
            if n <= self.d_in:
                raise ConfigError(
                    f"ratio {r} gives N = {n} <= d_in = {self.d_in}: the test loss cannot reach "
                    f"epsilon (null space of Sigma); use ratios < 1 with d_in / ratio > d_in"
                )
            hi = mp_edges(self.d_in / n)[1]
            if not self.lr * hi < 2:
                raise ConfigError(
                    f"lr = {self.lr} diverges at ratio {r}: GD needs lr (1 + sqrt(ratio))^2 < 2 "
                    f"(= {self.lr * hi:.3g}); lower lr below {2 / hi:.3g}"
                )
        if self.threshold >= self.variance:
            raise ConfigError(
                f"threshold = {self.threshold} must lie below the initial loss s^2 = "
                f"{self.variance} (teacher_scale^2 + init_scale^2), else nothing is learned"
            )

    def memory_bytes(self) -> int:
        n = max(self.n_train(r) for r in self.ratios)
        data = (n + self.test_points) * (self.d_in + self.d_out) + 4 * self.d_out * self.d_in
        theory = self.accuracy_samples * (self.d_in + 2 * self.log_points)
        return 3 * 8 * (data + theory + self.d_in**2)

    @property
    def variance(self) -> float:
        return self.teacher_scale**2 + self.init_scale**2

    def n_train(self, ratio: float) -> int:
        return int(round(self.d_in / ratio))

    def log_steps(self, ratio: float) -> np.ndarray:
        """The logged steps: 0 .. horizon x the predicted test crossing, ``log_points`` of them."""
        lam = self.d_in / self.n_train(ratio)
        t = crossing_time(lam, self.lr, self.variance, self.threshold, "test")
        last = max(int(math.ceil(self.horizon * t)), self.log_points - 1)
        return np.unique(np.linspace(0, last, self.log_points).round().astype(np.int64))


PRESETS = {
    "smoke": Spec(
        d_in=20,
        d_out=5,
        ratios=(0.5,),
        trials=2,
        test_points=200,
        log_points=10,
        accuracy_samples=2000,
    ),  # fmt: skip
    "quick": Spec(),
    "paper": Spec(
        d_in=1000,
        d_out=1000,
        ratios=(0.2, 0.4, 0.6, 0.8),
        lr=0.2,
        trials=10,
        test_points=5000,
        log_points=100,
    ),  # fmt: skip
}


def theory(spec: Spec) -> pd.DataFrame:
    out = []
    for r in spec.ratios:
        n = spec.n_train(r)
        lam = spec.d_in / n
        steps = spec.log_steps(r)
        tr, te = linear_losses(lam, spec.lr, steps, spec.variance)
        atr, ate = linear_accuracies(lam, spec.lr, steps, spec.variance, spec.d_in, spec.d_out,
                                     spec.threshold, samples=spec.accuracy_samples)  # fmt: skip
        out.append(pd.DataFrame({"ratio": r, "n_train": n, "step": steps, "train_loss": tr,
                                 "test_loss": te, "train_accuracy": atr, "test_accuracy": ate, "threshold": spec.threshold}))  # fmt: skip
    return pd.concat(out, ignore_index=True)


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    out = []
    for r in spec.ratios:
        n = spec.n_train(r)
        run = linear_teacher_student_run(
            spec.d_in, spec.d_out, n, spec.test_points, spec.lr, spec.teacher_scale,
            spec.init_scale, spec.threshold, spec.log_steps(r), seed, ("ratio", r), spec.trials,
            device=device,
        )  # fmt: skip
        run.insert(1, "n_train", n)
        run.insert(1, "ratio", r)
        out.append(run)
    return pd.concat(out, ignore_index=True)


def _delays(table: pd.DataFrame, threshold: float) -> pd.DataFrame:
    rows = []
    for r, g in table.groupby("ratio"):
        g = g.sort_values("step")
        s = g["step"].to_numpy()
        t_tr = crossing_step(s, g["train_loss"].to_numpy(), threshold)
        t_te = crossing_step(s, g["test_loss"].to_numpy(), threshold)
        rows.append((r, t_tr, t_te, t_te - t_tr))
    return pd.DataFrame(rows, columns=["ratio", "t_train", "t_test", "delay"]).set_index("ratio")


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    threshold = float(pred["threshold"].iloc[0])
    mean = meas.groupby(["ratio", "step"], as_index=False)[list(CURVES)].mean()
    m = pred.merge(mean, on=["ratio", "step"], suffixes=("_pred", "_meas"))
    dp, dm = _delays(pred, threshold), _delays(mean, threshold)
    # losses are compared up to the predicted test crossing (the part of the curves that
    # sets the accuracy jump and the delay); the MP limit's edge bias grows beyond it
    window = m["step"] <= m["ratio"].map(dp["t_test"])
    v = {}
    for q in ("train_loss", "test_loss"):
        w = m[window]
        v[f"max_rel_err_{q}"] = float((abs(w[q + "_meas"] - w[q + "_pred"]) / w[q + "_pred"]).max())
    for q in ("train_accuracy", "test_accuracy"):
        v[f"max_err_{q}"] = float(abs(m[q + "_meas"] - m[q + "_pred"]).max())
    rel = (dm["delay"] - dp["delay"]).abs() / dp["delay"]
    v["max_rel_err_delay"] = float(rel.max()) if rel.notna().all() else float("inf")
    relative = dm["delay"] / dm["t_train"]
    v["min_relative_delay"] = float(relative.min()) if relative.notna().all() else float("-inf")
    detail = "; ".join(
        f"lambda={r:g}: t_tr {dp.loc[r, 't_train']:.1f}/{dm.loc[r, 't_train']:.1f}, t_te "
        f"{dp.loc[r, 't_test']:.1f}/{dm.loc[r, 't_test']:.1f}, delay {dp.loc[r, 'delay']:.1f}/"
        f"{dm.loc[r, 'delay']:.1f} (theory/measured)"
        for r in dp.index
    )
    return Evaluation(v, detail)


def figure(pred: pd.DataFrame, meas: pd.DataFrame):
    from lmech.figures.grokking import linear_estimator_figure

    return linear_estimator_figure(pred, meas)


CRITERION = Criterion(
    Check("max_rel_err_test_loss", "<=", 0.15,
          why="worst over lambda and steps up to the test crossing: MP edge bias at d_in = 200 "
          "(+4.5% at lambda = 0.7, 64 trials) plus 3.5 standard errors of a 16-trial mean "
          "(per-trial spread 12%)"),
    Check("max_rel_err_train_loss", "<=", 0.1,
          why="edge bias +2% (the factor x damps edge modes) plus 3.5 standard errors of a "
          "16-trial mean (per-trial spread 7%)"),
    Check("max_err_test_accuracy", "<=", 0.1,
          why="absolute, worst over all logged steps: the loss bias times the slope of the "
          "accuracy jump (a 5% loss shift moves it by ~0.05) plus the 16-trial spread"),
    Check("max_err_train_accuracy", "<=", 0.1,
          why="as the test accuracy, plus the N(0, I/N) approximation of the train points' "
          "singular-vector rows"),
    Check("max_rel_err_delay", "<=", 0.1,
          why="a 5% bias of the late test loss shifts its crossing by ln(1.05) / (2 eta "
          "lambda_-) ~ 4 steps of the 77-step delay at lambda = 0.7"),
    Check("min_relative_delay", ">=", 0.2,
          why="null 'no grokking' (test crossing = train crossing) gives 0; the theory "
          "gives 0.42 at the smallest lambda (0.3)"),
)  # fmt: skip

LAW = Law(
    name="grokking-linear-estimator",
    claim="linear teacher-student GD: train/test loss and accuracy follow Marchenko-Pastur "
    "spectral sums, and the test crossing lags the train crossing by the predicted delay",
    source="Levi, Beck, Bar-Sinai, ICLR 2024 (arXiv 2310.16441), Sec. 2-3",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=CRITERION,
    # 40% off: the test loss error becomes >= 0.25 (the +5% edge bias makes the + side
    # the harder one: |1.05 - 1.4| / 1.4), above the 0.15 tolerance at every lambda
    prediction=Prediction("test_loss", relative=0.4),
    theory_columns=("ratio", "n_train", "step") + CURVES + ("threshold",),
    experiment_columns=("trial", "ratio", "n_train", "step") + CURVES,
    tags=("grokking", "linear", "random-matrix", "training-dynamics"),
    doc=__doc__ or "",
)
