r"""variance-limited-onset: finite lazy networks leave the infinite-width learning curve at P* ~ N^k, with k = 1/beta.

Claim:
    For small training sets the test error E_N(P) of a width-N network equals the
    infinite-width error E_inf(P); beyond a critical size P*(N) it becomes variance
    limited and worse (Atanasov, Bordelon, Sainathan & Pehlevan 2023, Sec. 3-4, who
    report P* ~ sqrt(N) for polynomial regression with ReLU networks). Mechanism
    [derived]: the initialization variance of the finite-width NTK adds an excess error
    C/N that, in the regime where the infinite-width curve falls as
    E_inf ~ P^{-beta}, barely depends on P; the onset E_N(P*) = r E_inf(P*) is then
    (r - 1) E_inf(P*) = C / N, so

    .. math:: P^* \propto N^{k},\qquad k = 1/\beta,

    with beta the local learning-curve exponent of the infinite-width NTK between the
    measured onsets. k = 1/2 is the case beta = 2; here beta is computed, not assumed.

System:
    Inputs uniform on the sphere |x| = sqrt(D), D = 4, 150 test points, target
    y = x_1 + x_2 x_3 + (x_4^2 - 1)/2; ReLU two-layer networks in the lazy regime
    trained to convergence, i.e. ridgeless regression with each network's empirical NTK
    at initialization (:func:`lmech.experiment.dmft.lazy_network_curves`); widths 256,
    1024, 4096, 24 seeds each spread over 8 fixed data sets (3 networks per data set);
    20 training-set sizes P = 8-300 (nested subsets of each data set). Infinite width:
    the same regression with the closed-form NTK, averaged over the same 8 data sets.

Measurement:
    P*(N): the first P where the seed-mean E_N / E_inf reaches r = 2 (log-interpolated).
    ``small_p_rel_err``: worst |E_N / E_inf - 1| over widths at P <= 16 (the
    infinite-width regime). ``onset_exponent_error``: |k - 1/beta| with k the log-log
    slope of P* against N and beta = -d log E_inf / d log P between the smallest and
    largest P*. ``onset_exponent_ci_high``: the upper end of the 95% bootstrap interval
    of k (seeds resampled within each width); it must stay below 0.8, rejecting the null
    P* ~ N (onset when the sample size reaches the width). ``ensemble_onset_gain``: the
    smallest ratio, over widths, of the onset of the ensemble-averaged predictor (the 3
    networks of each data set averaged) to the single-network onset; ensembling divides
    the variance floor by 3, so the onset moves out by about 3^k (the source's claim that
    ensembling pushes P* out).

Known limits:
    k is not universal: it follows 1/beta of the task's infinite-width learning curve
    over the range where the onsets fall, so the sqrt(N) of the source holds where beta
    is near 2. Measured (quick preset, seeds 0-2): k = 0.343-0.356 (95% bootstrap
    intervals [0.31, 0.38-0.40]) with beta = 3.12-3.15 between the onsets, 1/beta =
    0.317-0.320. Paper preset (widths 256-16384, 32 seeds over 8 data sets, P <= 800,
    seed 0): k = 0.363 (95% [0.345, 0.390]), 1/beta = 0.323, ensembles of 4 move P* out
    by 1.69-1.96 (4^k = 1.65). On single data sets of three targets (D = 4 as here; D = 3,
    y = x_1 + x_2 x_3; D = 4, y = x_1) k = 0.40, 0.28-0.30, 0.27-0.30 against 1/beta =
    0.354, 0.27, 0.25. So 1/beta tracks k but falls short by 0.02-0.05 (the excess at
    the onset falls a little slower than 1/N), and k = 1/2 is excluded in every case. For
    targets the kernel cannot fit (E_inf flat) the excess grows with P instead, and the
    onset moved as N^1 in a trial (D = 8, a degree-3 target). The lazy networks are
    represented by their converged kernel predictor, which omits the O(1/N) change of
    the NTK during training; the narrowest width's curve also feels the interpolation
    peak at P = N (D + 1) only far above the grid.

Source:
    Atanasov, Bordelon, Sainathan, Pehlevan, "The onset of variance-limited behavior for
    networks in the lazy and rich regimes", ICLR 2023 (arXiv 2212.12147), Sec. 3-4;
    Jacot, Gabriel, Hongler, NeurIPS 2018 (NTK); Lee et al., NeurIPS 2019 (lazy
    networks are kernel regression).

Run:
    ``lmech check variance-limited-onset`` (quick, about 8 s of CPU with start-up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lmech.errors import ConfigError
from lmech.experiment.dmft import (
    ONSET_COLUMNS,
    kernel_learning_curve,
    lazy_network_curves,
    sphere_polynomial_task,
)
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.spec import LawSpec, param
from lmech.theory.dmft._common import activation, pair_expectations

THEORY_COLUMNS = ("num_train", "test_mse_inf", "threshold", "small_train")
EXPERIMENT_COLUMNS = ONSET_COLUMNS


@dataclass(frozen=True)
class Spec(LawSpec):
    input_dim: int = param(4, ge=4, le=64, doc="D, inputs on the sphere |x| = sqrt(D)")
    num_test: int = param(150, ge=20, le=4000, doc="test points")
    min_train: int = param(8, ge=2, le=10000, doc="smallest training-set size P")
    max_train: int = param(300, ge=4, le=10000, doc="largest training-set size P")
    num_sizes: int = param(20, ge=4, le=200, doc="sizes on a geometric grid")
    widths: tuple[int, ...] = param(
        (256, 1024, 4096), ge=8, le=2**17, min_len=3, distinct=True, increasing=True
    )
    seeds: int = param(24, ge=3, le=1024, doc="networks per width")
    threshold: float = param(2.0, gt=1.0, le=100.0, doc="r: onset where E_N = r E_inf")
    small_train: int = param(16, ge=2, le=10000, doc="P up to which E_N = E_inf is checked")
    ridge: float = param(1e-10, ge=0.0, le=1e-2, doc="ridge / mean kernel diagonal")
    data_seed: int = param(0, ge=0, doc="seed of the inputs (fixed across runs)")
    data_draws: int = param(8, ge=1, le=256, doc="independent data sets; seed s uses s % draws")

    def validate(self) -> None:
        if self.max_train <= self.min_train:
            raise ConfigError(f"max_train={self.max_train} must exceed min_train={self.min_train}")
        if self.seeds % self.data_draws:
            raise ConfigError(
                f"seeds={self.seeds} must be a multiple of data_draws={self.data_draws} (each "
                "data set gets the same number of networks)"
            )
        if not self.min_train <= self.small_train < self.max_train:
            raise ConfigError(
                f"small_train={self.small_train} must lie in [min_train, max_train) = "
                f"[{self.min_train}, {self.max_train})"
            )

    def sizes(self) -> tuple[int, ...]:
        grid = np.geomspace(self.min_train, self.max_train, self.num_sizes)
        return tuple(int(p) for p in np.unique(np.round(grid).astype(int)))

    def memory_bytes(self) -> int:
        n = self.max_train + self.num_test
        return 3 * 8 * (4 * n * max(self.widths) + 6 * n * n) + 2**26


def _tasks(spec: Spec):
    return [
        sphere_polynomial_task(spec.max_train, spec.num_test, spec.input_dim, spec.data_seed, d)
        for d in range(spec.data_draws)
    ]


def theory(spec: Spec) -> pd.DataFrame:
    sizes = spec.sizes()
    curves = []
    for X, y in _tasks(spec):
        Kx = X @ X.T / spec.input_dim
        e_phi, e_dphi = pair_expectations(activation("relu"), Kx)
        K = e_phi + e_dphi * Kx
        curves.append(kernel_learning_curve(K, y, sizes, spec.max_train, spec.ridge))
    curve = np.mean(curves, axis=0)  # the same data sets as the networks, equally weighted
    return pd.DataFrame(
        {"num_train": sizes, "test_mse_inf": curve, "threshold": spec.threshold,
         "small_train": spec.small_train}
    )  # fmt: skip


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    return lazy_network_curves(
        _tasks(spec), n_train=spec.max_train, sizes=spec.sizes(), widths=spec.widths,
        seeds=spec.seeds, ridge=spec.ridge, seed=seed, device=device,
    )  # fmt: skip


def onset(ratio: np.ndarray, sizes: np.ndarray, r: float) -> float:
    """First P where ``ratio`` reaches r, interpolated in log P and log ratio (NaN if never)."""
    above = np.nonzero(ratio >= r)[0]
    if above.size == 0:
        return float("nan")
    i = int(above[0])
    if i == 0:
        return float(sizes[0])
    x = np.log(sizes[i - 1 : i + 1])
    v = np.log(np.clip(ratio[i - 1 : i + 1], 1e-300, None))
    return float(np.exp(np.interp(np.log(r), v, x)))


def onsets(mean_curves: dict[int, np.ndarray], e_inf: np.ndarray, sizes, r: float):
    return {w: onset(c / e_inf, np.asarray(sizes, float), r) for w, c in mean_curves.items()}


def _slope(x, y) -> float:
    x, y = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    if not np.isfinite(y).all():
        return float("nan")
    return float(np.polyfit(x, y, 1)[0])


def onset_exponent_interval(pred, meas, r: float, n_boot: int = 400) -> tuple[float, float]:
    """95% bootstrap interval of k (seeds resampled within each width)."""
    sizes = pred["num_train"].to_numpy()
    e_inf = pred["test_mse_inf"].to_numpy()
    per = {
        int(w): g.pivot(index="seed", columns="num_train", values="test_mse")[sizes].to_numpy()
        for w, g in meas.groupby("width")
    }
    gen = np.random.default_rng(0)  # resampling only; not a measurement draw
    ks = []
    for _ in range(n_boot):
        m = {w: a[gen.integers(0, len(a), len(a))].mean(0) for w, a in per.items()}
        ps = onsets(m, e_inf, sizes, r)
        k = _slope(list(ps), list(ps.values()))
        if np.isfinite(k):
            ks.append(k)
    if len(ks) < n_boot // 2:
        return float("nan"), float("nan")
    lo, hi = np.percentile(ks, [2.5, 97.5])
    return float(lo), float(hi)


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    r = float(pred["threshold"].iloc[0])
    small = int(pred["small_train"].iloc[0])
    sizes = pred["num_train"].to_numpy()
    e_inf = pred["test_mse_inf"].to_numpy()
    mean = meas.groupby(["width", "num_train"])["test_mse"].mean().unstack("num_train")[sizes]
    curves = {int(w): mean.loc[w].to_numpy() for w in mean.index}
    ps = onsets(curves, e_inf, sizes, r)
    widths = np.array(list(ps), float)
    pstar = np.array(list(ps.values()))
    k = _slope(widths, pstar)
    lo, hi = onset_exponent_interval(pred, meas, r)
    if np.isfinite(pstar).all():
        log_e = np.interp(np.log(pstar), np.log(sizes), np.log(e_inf))
        beta = -(log_e[-1] - log_e[0]) / (np.log(pstar[-1]) - np.log(pstar[0]))
    else:
        beta = float("nan")
    k_pred = 1.0 / beta
    ens_mean = meas.groupby(["width", "num_train"])["ensemble_mse"].mean()
    ens_mean = ens_mean.unstack("num_train")[sizes]
    ps_ens = onsets({int(w): ens_mean.loc[w].to_numpy() for w in ens_mean.index}, e_inf, sizes, r)
    gain = np.array([ps_ens[w] / ps[w] for w in ps])
    members = float(meas.groupby(["width", "data_set"])["seed"].nunique().mean())
    sel = sizes <= small
    small_err = float(np.max(np.abs(mean.to_numpy()[:, sel] / e_inf[sel] - 1.0)))
    detail = (
        "P* (E_N = "
        + f"{r:g} E_inf): "
        + ", ".join(f"N={int(w)}: {p:.1f}" for w, p in zip(widths, pstar, strict=True))
        + f"; k = {k:.3f} (95% bootstrap over seeds [{lo:.3f}, {hi:.3f}]); infinite-width "
        f"exponent beta = {beta:.2f} between the onsets, 1/beta = {k_pred:.3f}; "
        f"reference sqrt(N): |k - 1/2| = {abs(k - 0.5):.3f}; worst |E_N/E_inf - 1| at "
        f"P <= {small}: {small_err:.3f}; ensembles of {members:g}: P* "
        + ", ".join(f"{ps_ens[w]:.1f}" for w in ps)
        + f" (gain {', '.join(f'{g:.2f}' for g in gain)}; a {members:g}x wider net: "
        f"{members**k:.2f})"
    )
    return Evaluation(
        {
            "small_p_rel_err": small_err,
            "onset_exponent_error": float(abs(k - k_pred)),
            "onset_exponent_ci_high": hi,
            "ensemble_onset_gain": float(np.min(gain)),
        },
        detail,
    )


def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    from lmech.figures.dmft import onset_figure

    return onset_figure(pred, meas, onsets_fn=onsets)


LAW = Law(
    name="variance-limited-onset",
    claim="lazy ReLU networks follow the infinite-width learning curve at small P "
    "(<= 10%) and leave it (E_N = 2 E_inf) at P* ~ N^k with k = 1/beta of the "
    "infinite-width curve (+/- 0.12), below the P* ~ N null; ensembling 3 nets moves P* "
    "out (>= 1.2x)",
    source="Atanasov, Bordelon, Sainathan, Pehlevan, ICLR 2023, Sec. 3-4",
    spec=Spec,
    presets={
        "smoke": Spec(
            num_test=40, max_train=40, num_sizes=6, widths=(16, 32, 64), seeds=3, data_draws=1
        ),
        "quick": Spec(),
        "paper": Spec(
            widths=(256, 1024, 4096, 16384), seeds=32, max_train=800, num_sizes=30, num_test=400
        ),
    },  # fmt: skip
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=Criterion(
        Check(
            "small_p_rel_err",
            "<=",
            0.1,
            why="at P <= 16 the 24-seed mean ratio E_N / E_inf is within 0.5-4% of 1 "
            "(measured, seeds 0-2; SE 2-3% at N = 256), below the onset's factor 2",
        ),
        Check(
            "onset_exponent_error",
            "<=",
            0.12,
            why="bootstrap SE of k over seeds is ~0.02 with 3 widths and 24 seeds; 1/beta "
            "falls short of k by 0.02-0.05 (measured on three targets); 0.12 is that bias "
            "plus ~3.5 SE",
        ),
        Check(
            "onset_exponent_ci_high",
            "<=",
            0.8,
            why="the null P* ~ N (k = 1) must lie outside the 95% interval of k by a margin",
        ),
        Check(
            "ensemble_onset_gain",
            ">=",
            1.2,
            why="averaging 3 networks divides the variance floor by 3, so P* moves out by "
            "~3^k = 1.47 (measured 1.52-1.61 at seeds 0-2); 1.2 rejects the no-gain null",
        ),
    ),
    # 25% off: the small-P ratio moves to 0.8 or 1.33, beyond the 10% tolerance
    prediction=Prediction("test_mse_inf", relative=0.25),
    tags=("dmft", "finite-width", "lazy", "learning-curve", "variance"),
    theory_columns=THEORY_COLUMNS,
    experiment_columns=EXPERIMENT_COLUMNS,
    doc=__doc__ or "",
)
