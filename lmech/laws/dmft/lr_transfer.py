r"""deep-linear-lr-transfer: the loss-optimal learning rate of rich linear networks stays put with width under muP and moves under NTK.

Claim:
    Linear networks f(x) = w^T W x / (gamma N) (W: N x D, N = nu D) trained from random
    initialization by one-pass SGD on a linear target have a loss-optimal learning rate
    eta_0* (test loss after T steps, lr eta = eta_0 gamma^2 N) that does not depend on the
    width under muP (gamma = gamma_0 at every width) and grows with the width under the
    NTK parameterization (gamma = gamma_0 (D / N)^{1/2}, i.e. f = w^T W x / (gamma_0
    sqrt(N D)) with the width-independent lr eta_0 gamma_0^2 D). The slopes of log2 eta_0*
    against log2 N follow the proportional-limit theory
    (:func:`lmech.theory.dmft.dmft_deep_linear`, exact D -> infinity closure, no Monte
    Carlo): at the quick preset (gamma_0 = 4, T = 20, B = D) -0.044 under muP and
    +0.281 under NTK. Bordelon & Pehlevan (2025, abstract and the hyperparameter-transfer
    experiments) state this contrast for deep linear networks; here it is checked at one
    hidden layer, where the theory is exact (two hidden layers: ``depth=2``, see Known
    limits).

    Mechanism [measured with the closure]: in the rich regime the optimum is set by the
    kernel along the target as it sharpens during training, which grows with gamma, and
    not by the width-dependent Marchenko-Pastur edge of the initial kernel (stability at
    eta_0 < 2 / (1 + (1 + nu^{-1/2})^2), 2-5 times the optimum here). The theory optimum
    falls as eta_0* ~ gamma^{-0.67} (B = D; gamma^{-0.9} with the population gradient) for
    gamma = 2-8. Under muP gamma is fixed, so eta_0* is; under NTK gamma ~ N^{-1/2}, so
    eta_0* ~ N^{0.34} (N^{0.45}) once gamma is large: slopes 0.35 (0.47) at gamma_0 = 8.
    Near the lazy limit both optima sit on the same initial kernel and move alike (slopes
    0.06 and 0.06 at gamma_0 = 0.25, B = D; 0.17 and 0.23 at gamma_0 = 1 with the
    population gradient, where the optimum is the initial edge): no contrast to see.

System:
    D = 128, nu = 0.5, 1, 2, 4 (N = 64-512), gamma_0 = 4, T = 20 steps of one-pass SGD
    with B = D fresh isotropic Gaussian samples per step, a random unit target b_* per
    network, centred output f - f_0, 11 learning rates eta_0 = 2^-4.25 ... 2^-1.75
    (4 per octave), 16 networks per width (:func:`lmech.experiment.dmft.train_linear_online`,
    exact minibatch gradients, float64). Every learning rate of a width reuses the same
    16 initializations and minibatch streams (common random numbers), so the curves in
    lr are smooth per network; at nu = 1 the two parameterizations are the same model.

Measurement:
    Per (parameterization, width): the seed-mean test loss |b - b_0 - b_*|^2 after T
    steps at each lr (a learning rate where any network diverged counts as +inf); the
    measured optimum log2 eta_0* is the vertex of a parabola through the grid minimum of
    log(mean loss) and its two neighbours. ``max_opt_gap_octaves``: the worst |measured -
    theory| optimum over the 8 curves (the theory optimum found on a 1/64-octave grid of
    the D -> infinity curve, within 0.01 octave of a continuous minimization).
    ``mup_abs_slope``: |slope| of the measured log2 eta_0* against log2 N under muP.
    ``ntk_slope``: the same slope under NTK; the null "the NTK optimum does not move"
    (slope 0) must fail it. ``max_slope_gap``: the worst |measured - theory| slope of the
    two parameterizations. ``arm_max_abs_z``: the largest |mean - theory| / SE of the
    loss at the learning rates >= 0.5 octave below the theory optimum (the speed-limited
    arm of every curve). The detail line gives bootstrap standard errors of the optima
    and slopes (networks resampled within each width, jointly across learning rates).

Known limits:
    Measured at the quick preset, seeds 0-2: optimum gaps 0.050-0.059 octave (the
    networks' optimum is 0.02-0.06 octave below the limit's at every width: finite
    networks destabilize slightly earlier), muP slope -0.029 to -0.043 (theory -0.044),
    NTK slope 0.284-0.296 (theory 0.281), slope gaps 0.002-0.015, arm max |z| 1.4-2.1.
    The loss level at and above the optimum is not compared: there the networks at
    D = 128 are 0-60% above the D -> infinity loss (per-network relative spread 30-50%,
    heavy-tailed near the rich-regime instability, varying from one ensemble to
    another), though the location of the optimum is resolved to ~0.05 octave. At
    D = 256, nu = 0.5-8 (N = 128-2048, seed 0, 200 s of CPU): passed, optimum gap
    0.049 octave (the same 0.02-0.05 octave finite-D shift, not yet shrinking), slopes
    -0.034 +- 0.005 (muP, theory -0.037) and 0.269 +- 0.004 (NTK, theory 0.263), arm
    max |z| 2.4. The paper preset (D = 512) was not run (about 50 CPU-min). One hidden
    layer and isotropic data only (the paper's deeper networks are not checked here).
    Depth 2 (``depth=2``: :func:`lmech.experiment.deep_linear.train_deep_linear` for the
    networks, same W_1, w, b_* and minibatches plus one hidden N x N layer; the deep DMFT
    of :func:`lmech.theory.dmft.dmft_deep_linear` for the theory, whose optimum is found
    by a bounded Brent search in the bracket of the sweep minimum, within 0.01 octave
    of a 1/64-octave grid): the theory contrast is stronger, slopes -0.076 (muP) and
    +0.336 (NTK) for nu = 0.5-4 at D -> infinity (depth 1: -0.044 and +0.281). The
    networks show the slopes, but their optimum sits below the theory's by more than
    at depth 1, and the optimum check does not hold reliably at sizes that cost ~20
    CPU-s, so depth 2 is a documented run and not a preset. Measured (16 networks,
    seeds 0-2): D = 64, nu = 2, 4, 8, lrs 2^-5 ... 2^-2.25: optimum gaps 0.154, 0.126,
    0.118 (seed 0 fails the 0.15-octave check), muP slope -0.035 to -0.041 (theory
    -0.056), NTK slope 0.309-0.326 (theory 0.293), slope gaps 0.021-0.034, arm max |z|
    1.3-2.7; 14-17 s of CPU for the networks + 4 s for the theory. D = 128, nu = 1, 2,
    4, lrs 2^-5 ... 2^-2.75: gaps 0.117, 0.165, 0.111 (seed 1 fails), muP slope
    -0.009 to -0.078 (theory -0.086), NTK slope 0.343-0.411 (theory 0.324), slope gaps
    0.018-0.086 (seed 1 fails the 0.08 check), 21-28 s + 4 s. D = 128, nu = 0.5-4
    (seed 0): fails, gap 0.30 octave at N = 64 and slope gap 0.089. Why: at depth 2
    the theory optimum lies only ~0.25 octave below the instability (the loss jumps
    from 1e-4 to 0.3 between 2^-3.69 and 2^-3.5 at nu = 0.5, gamma = 4; at depth 1
    the edge is 0.6 octave above the optimum), and the networks' instability comes
    earlier: at and just above the theory optimum their mean loss is 13-120 times the
    D -> infinity one (D = 128, nu = 0.5), 1.5 times 0.5 octave below it. Not a tail
    of a few networks: at D = 512 the median network at 2^-3.75 (0.14 octave above
    the theory optimum) follows the theory within 9% for 11 steps, then departs
    exponentially (median / theory 1.5, 1.9, 3.1, 6.5, 19 at t = 12, 14, 16, 18, 20;
    at D = 128 the departure starts at t = 4-8), while the theory at 2^-3.75 decays
    to 1e-8 by T = 40 (its own growing mode appears at 2^-3.625, from t ~ 20: the
    networks' threshold is >= 0.1 octave lower). Not resolved: either an unstable
    mode that carries an O(1/D) share of the error (invisible to the D -> infinity
    closure, its onset delayed only ~log D) or a finite-size shift of the threshold. The shift of the optimum (muP, nu = 0.5, gamma = 4,
    seed 0): 0.192, 0.195, 0.162, 0.121, 0.130 octave at D = 64, 128, 256, 512, 1024
    (not shrinking from 512 to 1024), while the loss 0.86 octave below the optimum
    goes from 1.8 to 0.99 times the theory (D = 64 to 512). It is largest at large
    gamma and small N (muP: all widths at gamma_0 = 4; NTK: the narrow widths), and
    nearly common to the muP widths, so the slopes are less affected than the optima.
    Depth 3 was not run against the theory (simulation only, D = 64, nu = 0.5-4, 8
    networks: slopes 0.020 / +0.551 under muP / NTK, against -0.042 / +0.423 at
    depth 2 and -0.043 / +0.282 at depth 1 on that grid).
    With fresh data and no label noise the task is realizable and every loss decays to
    0: the optimum is a statement about speed at a fixed T (theory, nu = 0.5-8: T = 20,
    40, 80 give slopes -0.035, -0.038, -0.040 under muP and 0.260, 0.267, 0.271 under
    NTK). With the population gradient (infinite batch) the theory's contrast is
    stronger (slopes 0.00 and 0.40 at T = 12) but its losses at the optimum fall to
    1e-8-1e-14, a regime not compared with networks here; one-pass SGD with B = D keeps
    them at 1e-6-1e-5. The theory at gamma_0 = 0.25 gives equal slopes (0.06) under both
    parameterizations: the contrast needs the rich regime.

Source:
    Bordelon & Pehlevan, "Deep linear network training dynamics from random
    initialization: data, width, depth, and hyperparameter transfer", ICML 2025 (arXiv
    2502.02531): abstract and the hyperparameter-transfer experiments (NTK: optimal
    learning rates shift with width; muP: they transfer); Sec. 2 for the model and its
    parameterizations. Yang et al., "Tensor Programs V" (arXiv 2203.03466), Sec. 1, for
    muTransfer.

Run:
    ``lmech check deep-linear-lr-transfer`` (quick, about 22 s of CPU on one core,
    26 s with start-up). ``lmech check deep-linear-lr-transfer --preset paper``
    (D = 512, nu = 0.5-8, 32 networks per width, 8 learning rates per octave up to
    2^-1.25; about 50 CPU-minutes by extrapolation, expected to pass as at D = 256).
    Depth 2 (about 20 s of CPU; fails the optimum check on some seeds, Known limits):
    ``lmech run deep-linear-lr-transfer --set depth=2 --set input_dim=64 --set
    nus=2,4,8 --set log2_lr_min=-5 --set log2_lr_max=-2.25``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.optimize import minimize_scalar

from lmech import progress
from lmech.errors import ConfigError, ConvergenceError
from lmech.experiment.deep_linear import train_deep_linear
from lmech.experiment.transfer import optimal_log2_lr
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.spec import LawSpec, param
from lmech.theory.dmft.deep_linear import dmft_deep_linear

PARAMETERIZATIONS = ("mup", "ntk")
THEORY_COLUMNS = (
    "parameterization", "nu", "width", "gamma", "lr", "log2_lr", "test_loss", "diverged",
    "opt_lr", "init_edge_lr",
)  # fmt: skip
EXPERIMENT_COLUMNS = (
    "parameterization", "nu", "width", "gamma", "lr", "log2_lr", "seed", "test_loss",
    "diverged",
)  # fmt: skip
ARM = 0.5  # octaves below the theory optimum where the loss curves are compared
_FINE_PER_OCTAVE = 64  # resolution of the theory optimum at depth 1
_SEARCH_XATOL = 2e-3  # octaves: stopping width of the bracketed search at depth >= 2


@dataclass(frozen=True)
class Spec(LawSpec):
    input_dim: int = param(128, ge=16, le=4096, doc="D, input dimension")
    nus: tuple[float, ...] = param(
        (0.5, 1.0, 2.0, 4.0), gt=0, le=64, min_len=3, distinct=True, increasing=True,
        doc="width ratios nu = N / D",
    )  # fmt: skip
    gamma: float = param(
        4.0, gt=0, le=32.0, doc="gamma_0: richness at N = D (muP: at every width; NTK: "
        "gamma_0 (D/N)^1/2)",
    )  # fmt: skip
    steps: int = param(20, ge=2, le=400, doc="SGD steps T; the loss after T steps is swept")
    batch_ratio: float = param(1.0, gt=0, le=64.0, doc="B / D fresh samples per step")
    log2_lr_min: float = param(-4.25, ge=-12.0, le=2.0, doc="smallest log2 eta_0 of the sweep")
    log2_lr_max: float = param(-1.75, ge=-12.0, le=2.0, doc="largest log2 eta_0 of the sweep")
    lrs_per_octave: int = param(4, ge=1, le=32, doc="learning rates per octave")
    seeds: int = param(16, ge=3, le=1024, doc="networks per width (shared across lrs)")
    depth: int = param(
        1, ge=1, le=4, doc="hidden layers L (L - 1 hidden N x N matrices); L >= 2 needs a "
        "lower lr range, e.g. log2_lr_min=-5, log2_lr_max=-2.25 (module docstring, Run)",
    )  # fmt: skip

    def validate(self) -> None:
        widths = self.widths()
        if min(widths) < 4 or len(set(widths)) != len(widths):
            raise ConfigError(
                f"nus * input_dim must give distinct widths >= 4; got widths {widths}"
            )
        if len(self.log2_lrs()) < 3:
            raise ConfigError(
                f"the learning-rate sweep needs >= 3 points to locate an optimum; got "
                f"log2_lr_min={self.log2_lr_min}, log2_lr_max={self.log2_lr_max}, "
                f"lrs_per_octave={self.lrs_per_octave}; widen the range"
            )

    def widths(self) -> tuple[int, ...]:
        return tuple(int(round(n * self.input_dim)) for n in self.nus)

    def batch(self) -> int:
        return max(1, int(round(self.batch_ratio * self.input_dim)))

    def log2_lrs(self) -> np.ndarray:
        count = int(math.floor((self.log2_lr_max - self.log2_lr_min) * self.lrs_per_octave + 1e-9))
        return self.log2_lr_min + np.arange(count + 1) / self.lrs_per_octave

    def gamma_of(self, parameterization: str, width: int) -> float:
        """gamma of one width: gamma_0 (muP) or gamma_0 (D / N)^{1/2} (NTK)."""
        if parameterization == "ntk":
            return self.gamma * math.sqrt(self.input_dim / width)
        return self.gamma

    def memory_bytes(self) -> int:
        # W (E, N, D) and the hidden (E, N, N) float64 with one temporary, the minibatch
        # (E, B, D), 3x headroom
        n = max(self.widths())
        per = 2 * self.seeds * n * (self.input_dim + (self.depth - 1) * n)
        return 3 * 8 * (per + self.seeds * self.batch() * self.input_dim) + 2**26


def _final_loss(nu: float, gamma: float, lr: float, spec: Spec) -> float:
    """The D -> infinity test loss after T steps; +inf where the dynamics diverge."""
    try:
        res = dmft_deep_linear(
            nu, steps=spec.steps, lr=float(lr), gamma=gamma,
            batch_ratio=spec.batch() / spec.input_dim, depth=spec.depth,
        )  # fmt: skip
    except ConvergenceError:
        return math.inf
    return float(res.test_loss[-1])


def search_log2_opt(loss_of, grid: np.ndarray, values: np.ndarray) -> float:
    """log2 of the optimum of a loss curve: bounded Brent search around the grid minimum.

    ``loss_of(x)`` is the loss at lr 2^x, ``values`` its values on the (sorted) ``grid``.
    The search runs on log(loss) in the bracket of the grid minimum's two neighbours
    (a diverged point, +inf, counts as log loss 1e3, above any finite one), stopping at
    a width of 0.002 octave. At an end of the grid it returns the grid point.
    """
    values = np.where(np.isfinite(values), values, np.inf)
    i = int(np.argmin(values))
    if i == 0 or i == len(grid) - 1 or not np.isfinite(values[i]):
        return float(grid[i])

    def f(x: float) -> float:
        v = loss_of(x)
        return math.log(v) if math.isfinite(v) and v > 0 else 1e3

    res = minimize_scalar(
        f, bounds=(float(grid[i - 1]), float(grid[i + 1])), method="bounded",
        options={"xatol": _SEARCH_XATOL},
    )  # fmt: skip
    x = float(res.x)
    # the search never returns a point worse than the grid minimum
    return x if f(x) <= math.log(values[i]) else float(grid[i])


def theory(spec: Spec) -> pd.DataFrame:
    grid = spec.log2_lrs()
    fine = np.arange(
        spec.log2_lr_min, spec.log2_lr_max + 0.5 / _FINE_PER_OCTAVE, 1.0 / _FINE_PER_OCTAVE
    )
    cache: dict[tuple[float, float, float], float] = {}  # nu = 1: muP and NTK coincide

    def loss_of(nu: float, g: float, x: float) -> float:
        key = (nu, g, float(x))
        if key not in cache:
            cache[key] = _final_loss(nu, g, 2.0**x, spec)
        return cache[key]

    rows = []
    for par in PARAMETERIZATIONS:
        for N in spec.widths():
            nu = N / spec.input_dim  # the simulated ratio after rounding
            g = spec.gamma_of(par, N)
            loss = np.array([loss_of(nu, g, x) for x in grid])
            if spec.depth == 1:  # the exact closure is cheap: a 1/64-octave grid
                dense = np.array([loss_of(nu, g, x) for x in fine])
                opt = 2.0 ** optimal_log2_lr(fine, dense)
            else:  # the DMFT costs 0.02-0.1 s a solve: a bracketed search
                opt = 2.0 ** search_log2_opt(lambda x, nu=nu, g=g: loss_of(nu, g, x), grid, loss)
            # lr edge of the initial kernel S_0 + q_0 (Marchenko-Pastur top + 1; depth 1)
            edge = 2.0 / (1.0 + (1.0 + 1.0 / math.sqrt(nu)) ** 2)
            for x, v in zip(grid, loss, strict=True):
                rows.append((par, nu, N, g, 2.0**x, x, v, not math.isfinite(v), opt, edge))
    return pd.DataFrame(rows, columns=list(THEORY_COLUMNS))


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    grid = spec.log2_lrs()
    parts = []
    total = len(PARAMETERIZATIONS) * len(spec.widths())
    with progress.task("lr sweep (muP and NTK widths)", total) as advance:
        for par in PARAMETERIZATIONS:
            for N in spec.widths():
                g = spec.gamma_of(par, N)
                for x in grid:
                    # the muP network with this width's gamma (NTK = muP at gamma_0 (D/N)^1/2);
                    # every lr of a width reuses the same initializations and minibatches
                    common = dict(
                        seeds=spec.seeds, steps=spec.steps, lr=float(2.0**x), gamma=g,
                        log_every=spec.steps, batch=spec.batch(), seed=seed, device=device,
                    )  # fmt: skip
                    # depth 1: train_linear_online's networks (identical values measured at
                    # the quick preset); deeper: the same W_1,
                    # w, b_* and minibatches with hidden N x N matrices added
                    h = train_deep_linear(spec.input_dim, [N], depth=spec.depth, **common)
                    h = h[h["step"] == spec.steps]
                    v = h["test_loss"].to_numpy(dtype=float)
                    bad = ~np.isfinite(v) | (v > 1e12)
                    parts.append(pd.DataFrame({
                        "parameterization": par, "nu": N / spec.input_dim, "width": N,
                        "gamma": g, "lr": 2.0**x, "log2_lr": x,
                        "seed": h["seed"].to_numpy(), "test_loss": np.where(bad, np.inf, v),
                        "diverged": bad,
                    }))  # fmt: skip
                advance(1)
    return pd.concat(parts, ignore_index=True)


def _loss_matrix(g: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(log2 lrs, losses (seeds, lrs)) of one (parameterization, width) group."""
    tab = g.pivot(index="seed", columns="log2_lr", values="test_loss")
    return tab.columns.to_numpy(dtype=float), tab.to_numpy(dtype=float)


def _mean_curve(L: np.ndarray) -> np.ndarray:
    """Seed-mean loss per lr; +inf where any network diverged."""
    bad = ~np.isfinite(L).all(0)
    return np.where(bad, np.inf, np.where(np.isfinite(L), L, 0.0).mean(0))


def measured_optima(meas: pd.DataFrame, n_boot: int = 200) -> pd.DataFrame:
    """Measured log2 optimum per (parameterization, width), with its bootstrap SE.

    The bootstrap resamples the networks of a width (jointly across learning rates, which
    share them); it is a resampling device with a fixed seed, not a measurement draw.
    """
    gen = np.random.default_rng(0)
    rows = []
    for (par, N), g in meas.groupby(["parameterization", "width"], sort=True):
        x, L = _loss_matrix(g)
        boot = np.array([
            optimal_log2_lr(x, _mean_curve(L[gen.integers(0, len(L), len(L))]))
            for _ in range(n_boot)
        ])  # fmt: skip
        rows.append((par, int(N), optimal_log2_lr(x, _mean_curve(L)), float(boot.std()), boot))
    return pd.DataFrame(rows, columns=["parameterization", "width", "log2_opt", "se", "boot"])


def _slope(width, log2_opt) -> float:
    return float(np.polyfit(np.log2(np.asarray(width, float)), np.asarray(log2_opt, float), 1)[0])


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    opt = measured_optima(meas)
    th = pred.groupby(["parameterization", "width"])["opt_lr"].first()
    opt["theory"] = np.log2(
        th.loc[list(zip(opt["parameterization"], opt["width"], strict=True))].to_numpy()
    )
    gap = (opt["log2_opt"] - opt["theory"]).abs()
    slopes, se, th_slopes = {}, {}, {}
    for par, o in opt.groupby("parameterization"):
        slopes[par] = _slope(o["width"], o["log2_opt"])
        th_slopes[par] = _slope(o["width"], o["theory"])
        boots = np.stack(o["boot"].to_list())  # (widths, n_boot), independent per width
        se[par] = float(np.std([_slope(o["width"], b) for b in boots.T]))
    # the speed-limited arm: lrs at least ARM octaves below the theory optimum, every width
    worst = 0.0
    for (par, N), p in pred.groupby(["parameterization", "width"]):
        arm = p[p["log2_lr"] <= np.log2(p["opt_lr"].iloc[0]) - ARM]
        x, L = _loss_matrix(meas[(meas["parameterization"] == par) & (meas["width"] == N)])
        cols = np.isin(x, arm["log2_lr"].to_numpy())
        if not cols.any():
            continue
        Ls = L[:, cols]
        th = arm.set_index("log2_lr").loc[x[cols], "test_loss"].to_numpy()
        if not np.isfinite(Ls).all():
            worst = math.inf  # a network diverged where the theory descends slowly
            continue
        z = (Ls.mean(0) - th) / (Ls.std(0, ddof=1) / np.sqrt(len(Ls)))
        worst = max(worst, float(np.max(np.abs(z))))
    slope_gap = max(abs(slopes[p] - th_slopes[p]) for p in PARAMETERIZATIONS)
    detail = (
        "log2 optimum (networks +- SE / theory): "
        + "; ".join(
            f"{r.parameterization} N={r.width}: {r.log2_opt:.2f}+-{r.se:.2f} / {r.theory:.2f}"
            for r in opt.itertuples()
        )
        + "; slopes (networks +- SE / theory): "
        + ", ".join(
            f"{p} {slopes[p]:.3f}+-{se[p]:.3f} / {th_slopes[p]:.3f}" for p in PARAMETERIZATIONS
        )
        + f"; max |z| of the loss {ARM:g}+ octave below the optimum {worst:.2f}"
    )
    return Evaluation(
        {
            "max_opt_gap_octaves": float(gap.max()),
            "mup_abs_slope": abs(slopes["mup"]),
            "ntk_slope": slopes["ntk"],
            "max_slope_gap": float(slope_gap),
            "arm_max_abs_z": worst,
        },
        detail,
    )


def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    """Loss against lr per width (theory lines, networks dots), and the optimum against width."""
    fig = Figure(figsize=(12.0, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    opt = measured_optima(meas, n_boot=100)
    for ax, par in zip(axes[:2], PARAMETERIZATIONS, strict=True):
        for i, (N, p) in enumerate(pred[pred["parameterization"] == par].groupby("width")):
            c = f"C{i}"
            ok = np.isfinite(p["test_loss"])
            ax.plot(p["lr"][ok], p["test_loss"][ok], "-", color=c, label=f"N={N}")
            x, L = _loss_matrix(meas[(meas["parameterization"] == par) & (meas["width"] == N)])
            mean = _mean_curve(L)
            fin = np.isfinite(mean)
            sem = np.zeros_like(mean)
            sem[fin] = L[:, fin].std(0) / np.sqrt(len(L))
            ax.errorbar(2.0 ** x[fin], mean[fin], yerr=2 * sem[fin], fmt="o", ms=3, color=c)
            ax.axvline(p["opt_lr"].iloc[0], color=c, ls=":", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("eta_0 (lr = eta_0 gamma^2 N)")
        ax.set_ylabel("test loss after T steps")
        ax.set_title(f"{par}: line theory (D -> inf), dots networks, dotted theory optimum",
                     fontsize=8)  # fmt: skip
        ax.legend(fontsize=7, frameon=False)
    ax = axes[2]
    for par, mk, c in zip(PARAMETERIZATIONS, ("o", "s"), ("k", "C3"), strict=True):
        o = opt[opt["parameterization"] == par]
        th = pred[pred["parameterization"] == par].groupby("width")["opt_lr"].first()
        ax.plot(th.index, np.log2(th.to_numpy()), "-", color=c, label=f"{par} theory")
        ax.errorbar(o["width"], o["log2_opt"], yerr=2 * o["se"], fmt=mk, ms=4, color=c,
                    label=f"{par} networks (2 SE)")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_xlabel("width N")
    ax.set_ylabel("log2 optimal eta_0")
    ax.legend(fontsize=8, frameon=False)
    fig.suptitle("Learning-rate transfer: muP keeps the optimum, NTK moves it", fontsize=10)
    return fig


LAW = Law(
    name="deep-linear-lr-transfer",
    claim="the loss-optimal learning rate of rich linear networks (gamma_0 = 4, one-pass "
    "SGD) stays put with width under muP (|slope| <= 0.1 in log2 lr per log2 N) and "
    "grows under NTK (slope >= 0.14), each optimum within 0.15 octave of the "
    "proportional-limit theory and both slopes within 0.08 of it",
    source="Bordelon & Pehlevan, ICML 2025 (arXiv 2502.02531), abstract and "
    "hyperparameter-transfer experiments; Sec. 2 for the model",
    spec=Spec,
    presets={
        "smoke": Spec(
            input_dim=32,
            nus=(0.5, 1.0, 2.0),
            steps=4,
            seeds=3,
            log2_lr_min=-3.0,
            log2_lr_max=-2.0,
            lrs_per_octave=2,
        ),
        "quick": Spec(),
        "paper": Spec(
            input_dim=512,
            nus=(0.5, 1.0, 2.0, 4.0, 8.0),
            seeds=32,
            log2_lr_max=-1.25,
            lrs_per_octave=8,
        ),
    },  # fmt: skip
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=Criterion(
        Check(
            "max_opt_gap_octaves",
            "<=",
            0.15,
            why="bootstrap SE of one measured optimum 0.01-0.03 octave, grid-parabola "
            "bias <= 0.04, finite-D shift (networks destabilize earlier) 0.03-0.06 "
            "measured; 0.15 is 2.5x the worst measured gap (0.06 at seeds 0-2)",
        ),
        Check(
            "mup_abs_slope",
            "<=",
            0.1,
            why="the theory's muP slope is -0.044 (no transfer would be ~0.28, the NTK "
            "one); 0.1 leaves 5 bootstrap SE (0.011) above it (measured 0.029-0.043)",
        ),
        Check(
            "ntk_slope",
            ">=",
            0.14,
            why="the null 'the NTK optimum does not move' (slope 0) must fail: 0.14 is half "
            "the theory's 0.281 and > 20 SE (0.007) from 0 (measured 0.284-0.296)",
        ),
        Check(
            "max_slope_gap",
            "<=",
            0.08,
            why="slope SE 0.006-0.011 from the bootstrap plus the finite-D shift; 0.08 is "
            "> 7 SE (measured gaps 0.002-0.015)",
        ),
        Check(
            "arm_max_abs_z",
            "<=",
            4.0,
            why="32 correlated (width, lr) points, each a 16-network mean with a "
            "t(15)-distributed error and no finite-D bias resolved there (measured max "
            "|z| 1.6-2.1 at seeds 0-2)",
        ),
    ),
    # 40% off: +0.49 / -0.74 octave, twice the 0.25-octave tolerance
    prediction=Prediction("opt_lr", relative=0.4),
    tags=("dmft", "deep-linear", "mup", "ntk", "hyperparameter-transfer", "proportional-limit"),
    theory_columns=THEORY_COLUMNS,
    experiment_columns=EXPERIMENT_COLUMNS,
    doc=__doc__ or "",
)
