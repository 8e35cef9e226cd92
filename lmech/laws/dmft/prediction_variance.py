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
    (feature learning changes it); that case is the law finite-width-rich-variance in
    this module.

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


# ---------------------------------------------------------------------------------------
# Rich regime: feature learning and the 1/N variance of the final NTK and predictions
# ---------------------------------------------------------------------------------------

RICH_DOC = r"""finite-width-rich-variance: at gamma_0 = 1, feature learning cuts the relative variance of the final NTK; the influence-function theory gives its 1/N prefactor.

Claim:
    For a centred two-layer mean-field network trained at richness gamma_0 = O(1), the
    final NTK K(T) and predictions f(T) fluctuate across initializations with variance
    prefactor / N to leading order, where the prefactor is the variance of the influence
    function of one initial neuron on the trained network
    (:func:`lmech.theory.dmft.finite_width.rich_prediction_variance`; the leading-order
    fluctuation theory of Bordelon & Pehlevan 2023, Sec. 3-4, where kernel and
    prediction fluctuations are dynamically coupled). Feature learning reduces the
    variance of the final NTK relative to its mean: the relative variance N Var[K_y] /
    E[K_y]^2 of the kernel along the target, K_y = y^T K(T) y / y^T y, falls well below
    its lazy value (at gamma_0 -> 0, K(T) = K(0) and N Var[K_y] / E[K_y]^2 is the
    single-neuron value; Bordelon & Pehlevan 2023, two-layer experiments).
    Checks: the measured N Var / prefactor pooled over widths is 1 for the test
    predictions (within 0.2) and for K_y (within 0.3); the fitted exponent of the
    prediction variance against N is -1 (within 0.25); the measured relative NTK
    variance is at most 0.5 of the lazy value (the theory says ~0.13: the null "no
    reduction" is 1); and the lazy prediction prefactor (the null: variance unchanged by
    feature learning) misses the rich networks by >= 0.15.

System:
    The task of finite-width-prediction-variance (P = 32 Gaussian inputs, D = 8, 16 test
    points, quadratic target) with tanh (smooth: the theory's pathwise derivative has no
    delta-function term, see the solver's docstring), gamma_0 = 1, eta = 0.25, 60 steps;
    widths 128-1024, 48 seeds each (engine ensembles, float64, centred output). Theory:
    4096 particles; lazy null from :func:`lmech.theory.dmft.lazy_prediction_variance`
    (20000 single-neuron samples, same steps).

Measurement:
    Per width, the variance over seeds of f(T) on each test point (averaged over points)
    and of K_y and tr K / P read off the trained parameters (two-layer closed form).

Known limits:
    48 seeds give a 21% relative SE per variance; pooled over 4 widths ~11% for K_y,
    ~7% for the point-averaged prediction variance. The theory's Monte-Carlo error is
    ~4% per point at 4096 particles (reported). Measured at the quick preset, seeds 0-2:
    pooled prediction ratio 0.93-1.01, target-kernel ratio 0.80-1.07 (per width
    0.58-1.25), slope -0.98 to -1.06, relative-NTK-variance ratio to lazy 0.10-0.14
    (theory 0.127), lazy null gap 0.25-0.29; no O(1/N^2) term is resolved at
    N >= 128. Against 600 numpy networks of width 128 (tests): N Var / theory 1.03
    (predictions) and 0.93 (target kernel). With ReLU the
    solver's feedback term is biased (target-kernel prefactor measured 25% high against
    300 networks of width 256), so this law uses tanh. The prediction variance also
    falls with feature learning here (theory 0.21 against 0.29 lazy at gamma_0 = 1),
    but not monotonically in gamma_0 (0.25 at gamma_0 = 2 in a 300-network check); only
    gamma_0 = 1 is claimed.

Source:
    Bordelon & Pehlevan, "Dynamics of finite width kernel and prediction fluctuations in
    mean field neural networks", NeurIPS 2023, Sec. 3-4 (fluctuations of the DMFT order
    parameters, coupled kernel and prediction variance, two-layer examples); von Mises,
    Ann. Math. Stat. 1947 (the functional delta method behind the influence function).

Run:
    ``lmech check finite-width-rich-variance`` (quick, about 14 s of CPU with start-up
    and report).
"""

RICH_THEORY_COLUMNS = (
    "quantity",
    "point",
    "mean",
    "prefactor",
    "prefactor_stderr",
    "lazy_prefactor",
)
RICH_EXPERIMENT_COLUMNS = ("width", "seed", "quantity", "point", "value")


@dataclass(frozen=True)
class RichSpec(TaskSpec):
    activation: str = param("tanh", choices=("relu", "erf", "tanh"))
    widths: tuple[int, ...] = param(
        (128, 256, 512, 1024), ge=8, le=65536, min_len=2, distinct=True, increasing=True
    )
    seeds: int = param(48, ge=4, le=1024, doc="networks per width")
    gamma0: float = param(1.0, gt=0.05, le=4.0, doc="richness gamma_0 (rich: O(1))")
    n_particles: int = param(4096, ge=500, le=2**20, doc="particles of the influence theory")
    n_lazy_samples: int = param(20000, ge=100, le=2**22, doc="samples of the lazy null")

    def memory_bytes(self) -> int:
        n = self.num_train + self.num_test
        # autograd graph: ~8 saved (M, P) arrays per step plus the lazy variance's arrays
        theory = (
            3
            * 8
            * (
                self.n_particles * n * (8 * self.steps + 4 * (self.num_test + 2))
                + self.n_lazy_samples * n * 12
            )
        )
        return theory + network_bytes(self, max(self.widths), self.seeds)


def rich_theory(spec: RichSpec) -> pd.DataFrame:
    from lmech.theory.dmft.finite_width import KERNEL_OBSERVABLES, rich_prediction_variance

    _, Kx, y, _ = task(spec)
    P = spec.num_train
    pts = np.arange(P, P + spec.num_test)
    rv = rich_prediction_variance(
        Kx, y, gamma0=spec.gamma0, lr=spec.lr, steps=spec.steps, activation=spec.activation,
        points=pts, n_particles=spec.n_particles,
    )  # fmt: skip
    t = 2.0 * spec.lr * np.arange(spec.steps + 1)
    lv = lazy_prediction_variance(Kx, y, t_grid=t, activation=spec.activation,
                                  n_samples=spec.n_lazy_samples, scheme="euler")  # fmt: skip
    rows = [
        ("prediction", int(p), m, c, s, lz)
        for p, m, c, s, lz in zip(
            pts, rv.f_mean, rv.f_prefactor, rv.f_stderr, lv.prefactor[-1, P:], strict=True
        )
    ]
    for k, name in enumerate(KERNEL_OBSERVABLES):
        # lazy: K(T) = K(0), whose variance is the single-neuron one (same particles)
        rows.append((name, -1, rv.kernel_mean[k], rv.kernel_prefactor[k],
                     rv.kernel_stderr[k], rv.kernel_init_prefactor[k]))  # fmt: skip
        rows.append((name + "_init", -1, rv.kernel_init_mean[k], rv.kernel_init_prefactor[k],
                     rv.kernel_init_stderr[k], rv.kernel_init_prefactor[k]))  # fmt: skip
    return pd.DataFrame(rows, columns=list(RICH_THEORY_COLUMNS))


def rich_experiment(spec: RichSpec, seed: int, device: str) -> pd.DataFrame:
    import torch

    from lmech.experiment.ensemble import Ensemble, train
    from lmech.nn.models import MLPSpec
    from lmech.nn.param import Parameterization
    from lmech.seeding import derive_seed

    X, _, y, _ = task(spec)
    P, D = spec.num_train, spec.input_dim
    dev = torch.device(device)
    Xt = torch.as_tensor(X, dtype=torch.float64, device=dev)
    ytr = torch.as_tensor(y, dtype=torch.float64, device=dev)
    act = {"relu": torch.relu, "erf": torch.erf, "tanh": torch.tanh}[spec.activation]
    rows = []
    for N in spec.widths:
        # the setting of lmech.experiment.dmft.train_two_layer: mean-field parameterization,
        # input-layer lr factor divided by D (the DMFT clock), centred output
        mlp = MLPSpec(D, int(N), depth=1, activation=spec.activation, bias=False)
        par = Parameterization("mean-field", "sgd", richness=float(spec.gamma0))
        member_seeds = [derive_seed(seed, "dmft-net", int(N), k) for k in range(spec.seeds)]
        ens = Ensemble.from_spec(mlp, par, member_seeds, dtype="float64", device=dev)
        factors = dict(ens.lr_factors)
        factors["input.weight"] /= D
        ens = Ensemble(ens.template, ens.params, factors)
        f0 = ens.forward(Xt).detach()[..., 0]
        train(ens, Xt[:P], ytr, lr=spec.lr, steps=spec.steps, center=True,
              log_steps=[spec.steps], observers=("loss",))  # fmt: skip
        with torch.no_grad():
            f = (ens.forward(Xt)[..., 0] - f0)[:, P:].cpu().numpy()
            W = ens.params["input.weight"]  # (E, N, D)
            a = ens.params["output.weight"][:, 0, :]
            h = torch.einsum("end,pd->enp", W, Xt[:P])
            ph = act(h)
            if spec.activation == "tanh":
                d = 1.0 - torch.tanh(h) ** 2
            elif spec.activation == "erf":
                d = (2.0 / np.sqrt(np.pi)) * torch.exp(-h * h)
            else:
                d = (h > 0).to(h.dtype)
            ad = a[:, :, None] * d
            K = (ph.transpose(1, 2) @ ph + (ad.transpose(1, 2) @ ad) * (Xt[:P] @ Xt[:P].T / D)) / N
            ky = (torch.einsum("p,epq,q->e", ytr, K, ytr) / (ytr @ ytr)).cpu().numpy()
            tr = (torch.diagonal(K, dim1=1, dim2=2).sum(1) / P).cpu().numpy()
        for e in range(spec.seeds):
            rows += [(int(N), e, "prediction", P + j, float(f[e, j])) for j in range(f.shape[1])]
            rows.append((int(N), e, "target_kernel", -1, float(ky[e])))
            rows.append((int(N), e, "kernel_trace", -1, float(tr[e])))
    return pd.DataFrame(rows, columns=list(RICH_EXPERIMENT_COLUMNS))


def _rich_variances(meas: pd.DataFrame) -> pd.DataFrame:
    """N Var per (width, quantity): predictions averaged over test points."""
    v = meas.groupby(["width", "quantity", "point"])["value"].var(ddof=1)
    v = v.groupby(["width", "quantity"]).mean().unstack("quantity")
    return v.mul(v.index.to_numpy(float), axis=0)


def rich_evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    nv = _rich_variances(meas)
    p = pred[pred["quantity"] == "prediction"]
    C_f, C_lazy = p["prefactor"].mean(), p["lazy_prefactor"].mean()
    th = pred.set_index("quantity")
    C_k = th.loc["target_kernel", "prefactor"]
    N = nv.index.to_numpy(float)
    r_f = float((nv["prediction"] / C_f).mean())
    r_k = float((nv["target_kernel"] / C_k).mean())
    slope = float(np.polyfit(np.log(N), np.log(nv["prediction"].to_numpy() / N), 1)[0])
    mean_k = meas[meas["quantity"] == "target_kernel"].groupby("width")["value"].mean()
    rel_k = nv["target_kernel"] / mean_k**2  # measured N Var[K_y] / E[K_y]^2 per width
    lazy_rel = th.loc["target_kernel_init", "prefactor"] / th.loc["target_kernel_init", "mean"] ** 2
    reduction = float(rel_k.mean() / lazy_rel)
    lazy_gap = float(abs((nv["prediction"] / C_lazy).mean() - 1.0))
    detail = (
        "N Var / theory per width: predictions "
        + ", ".join(f"{v:.3f}" for v in nv["prediction"] / C_f)
        + "; target kernel "
        + ", ".join(f"{v:.3f}" for v in nv["target_kernel"] / C_k)
        + f"; prediction-variance slope {slope:.3f}; relative NTK variance measured "
        + f"{rel_k.mean():.4f} vs theory {C_k / th.loc['target_kernel', 'mean'] ** 2:.4f}, "
        + f"lazy {lazy_rel:.4f} (ratio {reduction:.3f}); prediction prefactor theory "
        + f"{C_f:.4f}, lazy {C_lazy:.4f} (lazy null gap {lazy_gap:.3f})"
    )
    return Evaluation(
        {
            "prediction_ratio_err": abs(r_f - 1.0),
            "kernel_ratio_err": abs(r_k - 1.0),
            "exponent_error": abs(slope + 1.0),
            "kernel_variance_reduction": reduction,
            "lazy_null_gap": lazy_gap,
        },
        detail,
    )


def rich_figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(8.0, 3.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    nv = _rich_variances(meas)
    N = nv.index.to_numpy(float)
    p = pred[pred["quantity"] == "prediction"]
    th = pred.set_index("quantity")
    ax1.loglog(N, nv["prediction"] / N, "o", label="networks")
    ax1.loglog(N, p["prefactor"].mean() / N, "k-", label="influence theory")
    ax1.loglog(N, p["lazy_prefactor"].mean() / N, "k:", label="lazy C / N")
    ax1.set_title("prediction variance (test mean)", fontsize=10)
    ax2.loglog(N, nv["target_kernel"] / N, "o", label="networks")
    ax2.loglog(N, th.loc["target_kernel", "prefactor"] / N, "k-", label="theory, final")
    ax2.loglog(N, th.loc["target_kernel_init", "prefactor"] / N, "k:", label="initial kernel")
    ax2.set_title("variance of y^T K(T) y / y^T y", fontsize=10)
    for ax in (ax1, ax2):
        ax.set_xlabel("width N")
        ax.legend(fontsize=8, frameon=False)
    return fig


RICH_LAW = Law(
    name="finite-width-rich-variance",
    claim="at gamma_0 = 1 the across-seed variance of two-layer predictions and of the final "
    "NTK is prefactor / N with the influence-function prefactor (ratios 1 +/- 0.2 and 0.3, "
    "exponent -1 +/- 0.25), feature learning cuts the relative NTK variance to <= 0.5 of "
    "its lazy value, and the lazy prefactor misses the predictions by >= 0.15",
    source="Bordelon & Pehlevan, NeurIPS 2023, Sec. 3-4",
    spec=RichSpec,
    presets={
        "smoke": RichSpec(
            num_train=8,
            num_test=4,
            steps=4,
            log_every=2,
            widths=(16, 32),
            seeds=4,
            n_particles=500,
            n_lazy_samples=200,
        ),
        "quick": RichSpec(),
        "paper": RichSpec(
            widths=(128, 256, 512, 1024, 2048, 4096),
            seeds=128,
            n_particles=32768,
            n_lazy_samples=200000,
        ),
    },  # fmt: skip
    theory=rich_theory,
    experiment=rich_experiment,
    evaluate=rich_evaluate,
    figure=rich_figure,
    criterion=Criterion(
        Check(
            "prediction_ratio_err",
            "<=",
            0.2,
            why="48-seed variances have 21% SE each; averaged over 16 correlated test points "
            "and 4 widths the pooled ratio has SE ~7%, the theory's MC error ~2%: 0.2 ~ 2.7 SE",
        ),
        Check(
            "kernel_ratio_err",
            "<=",
            0.3,
            why="one scalar per width: 21% SE per width, ~11% pooled over 4 widths, plus the "
            "theory's ~4% MC error: 0.3 ~ 2.6 SE",
        ),
        Check(
            "exponent_error",
            "<=",
            0.25,
            why="slope over a factor 8 in N of point-averaged variances with ~12% SE each: "
            "slope SE ~0.08, 0.25 ~ 3 SE",
        ),
        Check(
            "kernel_variance_reduction",
            "<=",
            0.5,
            why="the theory's ratio is ~0.13 (the null of no reduction is 1); the measured "
            "ratio has ~11% relative SE, so 0.5 is > 10 SE from the null and from the theory",
        ),
        Check(
            "lazy_null_gap",
            ">=",
            0.15,
            why="the lazy prefactor is ~37% above the rich one (0.29 vs 0.21); with ~7% SE "
            "on the pooled ratio a gap >= 0.15 separates them by > 2 SE",
        ),
    ),
    # prefactors off by 35%: the pooled ratios move to 0.74 or 1.54
    prediction=Prediction("prefactor", relative=0.35),
    tags=("dmft", "finite-width", "rich", "variance", "ntk"),
    theory_columns=RICH_THEORY_COLUMNS,
    experiment_columns=RICH_EXPERIMENT_COLUMNS,
    doc=RICH_DOC,
)
