r"""deep-linear-wider-is-better: under muP, linear networks in the proportional limit test better when wider, on the theory curve.

Claim:
    A linear network f(x) = w^T W x / (gamma N) with W (N x D), N = nu D, trained from
    random initialization by one-pass SGD on a linear target (B = beta D fresh Gaussian
    samples per step; learning rate eta = eta_0 gamma^2 N, the muP scaling at fixed
    richness gamma) has, as D -> infinity at fixed nu and beta, a deterministic
    test-loss curve L_nu(alpha) in the number of samples seen per dimension
    alpha = steps B / D, given by the exact closure of
    :func:`lmech.theory.dmft.dmft_deep_linear` (Marchenko-Pastur quadrature plus one
    isotropic SGD-noise direction per step, no Monte Carlo). At fixed alpha the test
    loss decreases monotonically with nu ("wider is better", Bordelon & Pehlevan 2025,
    Sec. 3 and Fig. 1), and real networks at D = 256 follow the theory curve within their
    seed-to-seed error.

System:
    D = 256, nu = 0.5, 1, 2, 4 (N = 128-1024), gamma = 1, eta_0 = 0.02, 60 steps of
    one-pass SGD with B = 64 fresh samples (beta = 1/4, alpha = 15 at the end), 32
    seeds per width (a new random unit target b_* per seed; member s of every width sees
    the same minibatches), float64, exact minibatch gradients
    (:func:`lmech.experiment.dmft.train_linear_online`), centred output f - f_0.
    ``batch_ratio=0`` trains on the population loss instead (infinite batch).

Measurement:
    The seed-mean test loss E[(f - f_0 - y)^2] = |b - b_0 - b_*|^2 at 4 logged steps.
    ``max_abs_z``: the largest |mean - theory| / SE over widths and logged steps (SE of
    the seed mean). ``widest_rel_err``: the worst relative gap at the widest width.
    ``wider_better_min_z``: the smallest significance of the drop in measured final loss
    between adjacent widths, (L_i - L_{i+1}) / sqrt(SE_i^2 + SE_{i+1}^2).
    ``lazy_null_rel_err``: the widest networks against the lazy (gamma -> 0) theory with
    the same SGD noise; it must be far off, so the agreement is with the rich dynamics,
    not with the static kernel.

Known limits:
    Finite D: the loss of one network fluctuates around the D -> infinity curve by
    O(D^{-1/2}) relative, more at small width and late times (measured per-seed
    relative spread at the last step: 30% at nu = 0.5, 16% at nu = 4). Measured at the
    quick preset, seeds 0-3: max |z| 1.0-2.9, widest-width gap 2.0-4.9%, weakest
    adjacent-width drop 4.6-6.3 SE, lazy-null gap 0.47-0.51; no finite-D bias is
    resolved at D = 256. Paper preset (D = 1024, nu = 0.25-4, 120 steps, 8 seeds, seed
    0): passed, max |z| 2.84, widest gap 6.3%, weakest drop 5.5 SE, lazy gap 0.83; there
    the NTK-parameterization theory is not monotone in width (final loss 5.3e-4, 6.3e-4,
    6.0e-4, 4.5e-4, 3.1e-4 for nu = 0.25-4) while muP is. With the infinite batch (``batch_ratio=0``, 32 seeds): max |z|
    1.1-2.2, widest gap 1.0-3.7%, weakest drop 4.7-7.1 SE. The SGD noise raises the
    final loss by 6-52% over the infinite batch here (B / D = 1 to 1/4); paired runs
    (same initializations with and without minibatches) match the theory's ratio within
    1-1.5 SE. Deeper networks (``depth``, ``residual``): the networks are
    :func:`lmech.experiment.deep_linear.train_deep_linear` and the theory the deep
    linear DMFT (:mod:`lmech.theory.dmft.deep_linear_dmft`; its lazy null runs at
    gamma = 0.01, since that solver needs gamma > 0). Measured with the quick settings
    otherwise unchanged: depth 2 (``DEPTH2``), seeds 0 and 1: passed, max |z| 1.70 / 1.73,
    widest gap 3.9% / 4.6%, weakest drop 6.5 / 7.7 SE, lazy gap 0.77 / 0.79 (final loss
    falls 2.6x per doubling of nu, against 1.6x at depth 1); depth 3 residual
    (``DEPTH3_RESIDUAL``), seed 0: passed, max |z| 1.02, widest gap 6.8%, weakest drop
    4.5 SE, lazy gap 0.73. At nu = 0.5 the depth-2 networks sit 8-14% above the theory
    (the O(1/N) width bias of the deep DMFT, largest at N = 128). About 30 and 60 CPU-s.
    The per-layer learning rate is lr gamma^2 N for every layer (the mean-field clock of
    Bordelon & Pehlevan, NeurIPS 2022); that the 2025 paper uses these per-layer rates was
    not checked against its text. The NTK
    parameterization is the same model at gamma = nu^{-1/2} (its curves are in the
    theory table, ``ntk_test_loss``): there the richness falls as the net widens.

Source:
    Bordelon & Pehlevan, "Deep linear network training dynamics from random
    initialization: data, width, depth, and hyperparameter transfer", ICML 2025 (arXiv
    2502.02531), Sec. 2-3 and Fig. 1 (wider is better under muP); Marchenko & Pastur,
    Math. USSR-Sb. 1967 (the initial spectrum).

Run:
    ``lmech check deep-linear-wider-is-better`` (quick, about 12 s of CPU with start-up
    and report; 7 s of computation); ``lmech run deep-linear-wider-is-better --set
    depth=2`` (or ``--set depth=3 --set residual=true``) for the deeper networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from lmech.errors import ConfigError
from lmech.experiment.deep_linear import train_deep_linear
from lmech.experiment.dmft import LINEAR_COLUMNS
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.spec import LawSpec, param
from lmech.theory.dmft.deep_linear import dmft_deep_linear

THEORY_COLUMNS = ("nu", "width", "step", "test_loss", "ntk_test_loss", "lazy_test_loss")
EXPERIMENT_COLUMNS = LINEAR_COLUMNS


@dataclass(frozen=True)
class Spec(LawSpec):
    input_dim: int = param(256, ge=16, le=8192, doc="D, input dimension")
    nus: tuple[float, ...] = param(
        (0.5, 1.0, 2.0, 4.0), gt=0, le=64, min_len=2, distinct=True, increasing=True,
        doc="width ratios nu = N / D",
    )  # fmt: skip
    gamma: float = param(1.0, gt=0, le=10.0, doc="richness gamma (muP: fixed across widths)")
    lr: float = param(0.02, gt=0, le=0.5, doc="eta_0; the learning rate is eta_0 gamma^2 N")
    steps: int = param(60, ge=2, le=5000, doc="gradient-descent steps")
    log_every: int = param(15, ge=1, doc="steps between logged losses")
    seeds: int = param(32, ge=3, le=1024, doc="networks per width")
    batch_ratio: float = param(
        0.25, ge=0.0, le=64.0, doc="B / D fresh samples per step (one-pass SGD); 0 = infinite"
    )
    depth: int = param(1, ge=1, le=8, doc="hidden layers L (L - 1 hidden N x N matrices)")
    residual: bool = param(False, doc="residual hidden layers h + W h / sqrt(N L) (depth >= 2)")

    def validate(self) -> None:
        widths = self.widths()
        if min(widths) < 4 or len(set(widths)) != len(widths):
            raise ConfigError(
                f"nus * input_dim must give distinct widths >= 4; got widths {widths}"
            )
        if self.residual and self.depth < 2:
            raise ConfigError("residual=True needs depth >= 2 (a hidden N x N layer); got depth=1")
        edge = (1.0 + 1.0 / np.sqrt(min(self.nus))) ** 2 + 1.0
        if self.depth == 1 and self.lr * edge >= 2.0:  # deeper: the solver reports divergence
            raise ConfigError(
                f"lr={self.lr} is unstable at nu={min(self.nus)}: gradient descent needs "
                f"lr < 2 / (1 + (1 + nu^-1/2)^2) = {2.0 / edge:.4f}; lower lr"
            )
        if self.log_every > self.steps:
            raise ConfigError(f"log_every={self.log_every} exceeds steps={self.steps}")

    def batch(self) -> int | None:
        return max(1, int(round(self.batch_ratio * self.input_dim))) if self.batch_ratio else None

    def widths(self) -> tuple[int, ...]:
        return tuple(int(round(n * self.input_dim)) for n in self.nus)

    def memory_bytes(self) -> int:
        # W (E, N, D) and the hidden (E, N, N) float64 updated in place plus one temporary
        # of their size, 3x headroom
        N = max(self.widths())
        per = N * self.input_dim + (self.depth - 1) * N * N
        return 3 * 8 * 2 * self.seeds * per + 2**26


def theory(spec: Spec) -> pd.DataFrame:
    steps = np.array(sorted(set(range(0, spec.steps + 1, spec.log_every)) | {spec.steps}))
    parts = []
    for N in spec.widths():
        nu_eff = N / spec.input_dim  # the simulated ratio after rounding
        beta = spec.batch() / spec.input_dim if spec.batch() else None  # simulated B / D
        kw = dict(
            steps=spec.steps, lr=spec.lr, batch_ratio=beta, depth=spec.depth,
            residual=spec.residual,
        )  # fmt: skip
        mup = dmft_deep_linear(nu_eff, gamma=spec.gamma, **kw)
        ntk = dmft_deep_linear(nu_eff, parameterization="ntk", **kw)
        # static kernel, same SGD; the deep DMFT needs gamma > 0 (gamma -> 0 is a 0/0 limit of
        # its variables), and at gamma = 0.01 the kernel moves by O(gamma^2) = 1e-4
        g_lazy = 0.0 if spec.depth == 1 else 0.01
        lazy = dmft_deep_linear(nu_eff, gamma=g_lazy, **kw).test_loss
        parts.append(pd.DataFrame({
            "nu": nu_eff, "width": N, "step": steps, "test_loss": mup.test_loss[steps],
            "ntk_test_loss": ntk.test_loss[steps], "lazy_test_loss": lazy[steps],
        }))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    # at depth 1 these are train_linear_online's networks (same streams; identical values
    # measured at the quick preset)
    return train_deep_linear(
        spec.input_dim, spec.widths(), depth=spec.depth, residual=spec.residual,
        seeds=spec.seeds, steps=spec.steps, lr=spec.lr, gamma=spec.gamma,
        log_every=spec.log_every, batch=spec.batch(), seed=seed, device=device,
    )  # fmt: skip


def _summary(meas: pd.DataFrame) -> pd.DataFrame:
    g = meas[meas["step"] > 0].groupby(["width", "step"])["test_loss"]
    out = g.agg(["mean", "std", "count"])
    out["se"] = out["std"] / np.sqrt(out["count"])
    return out


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    s = _summary(meas)
    p = pred.set_index(["width", "step"]).loc[s.index]
    z = (s["mean"] - p["test_loss"]) / s["se"]
    rel = s["mean"] / p["test_loss"] - 1.0
    widths = sorted(s.index.get_level_values("width").unique())
    widest = widths[-1]
    last = int(s.index.get_level_values("step").max())
    drops = [
        (s.loc[(a, last), "mean"] - s.loc[(b, last), "mean"])
        / np.hypot(s.loc[(a, last), "se"], s.loc[(b, last), "se"])
        for a, b in zip(widths[:-1], widths[1:], strict=True)
    ]
    lazy = float(np.max(np.abs(s.loc[widest, "mean"] / p.loc[widest, "lazy_test_loss"] - 1.0)))
    detail = (
        "final-step loss (theory / networks): "
        + ", ".join(
            f"N={w}: {p.loc[(w, last), 'test_loss']:.4g} / {s.loc[(w, last), 'mean']:.4g}"
            for w in widths
        )
        + f"; max |z| {np.abs(z).max():.2f}, widest rel gap {np.abs(rel.loc[widest]).max():.3f}"
        + f"; adjacent-width drop z {', '.join(f'{d:.1f}' for d in drops)}; NTK-param theory "
        + ", ".join(f"{p.loc[(w, last), 'ntk_test_loss']:.4g}" for w in widths)
        + f"; lazy null gap {lazy:.2f}"
    )
    return Evaluation(
        {
            "max_abs_z": float(np.abs(z).max()),
            "widest_rel_err": float(np.abs(rel.loc[widest]).max()),
            "wider_better_min_z": float(min(drops)),
            "lazy_null_rel_err": lazy,
        },
        detail,
    )


def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    from lmech.figures.dmft import wider_is_better_figure

    return wider_is_better_figure(pred, meas)


# deeper networks against the deep DMFT (checked at seed 0 by slow tests; numbers in Known limits)
DEPTH2 = Spec(depth=2)
DEPTH3_RESIDUAL = Spec(depth=3, residual=True)

LAW = Law(
    name="deep-linear-wider-is-better",
    claim="muP linear networks (N = nu D) trained by one-pass SGD follow the "
    "proportional-limit theory curve (|z| <= 4, widest <= 10%) and their test loss at "
    "fixed alpha = samples / D falls with width (each drop >= 3 SE), unlike the lazy limit",
    source="Bordelon & Pehlevan, ICML 2025 (arXiv 2502.02531), Sec. 2-3, Fig. 1",
    spec=Spec,
    presets={
        "smoke": Spec(input_dim=32, nus=(0.5, 1.0), steps=4, log_every=2, seeds=3),
        "quick": Spec(),
        "paper": Spec(
            input_dim=1024,
            nus=(0.25, 0.5, 1.0, 2.0, 4.0),
            lr=0.02,
            steps=120,
            log_every=20,
            seeds=8,
        ),
    },  # fmt: skip
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=Criterion(
        Check(
            "max_abs_z",
            "<=",
            4.0,
            why="16 correlated (width, step) points, each a 32-seed mean with a "
            "t-distributed error; no finite-D bias resolved (measured max |z| 1.0-2.9)",
        ),
        Check(
            "widest_rel_err",
            "<=",
            0.1,
            why="at nu = 4 the per-seed relative spread is <= 17% (measured), so the "
            "32-seed mean has SE <= 3.0%; 0.1 is ~3.3 SE (measured gaps 2.0-4.9%)",
        ),
        Check(
            "wider_better_min_z",
            ">=",
            3.0,
            why="the theory's final loss falls by a factor 1.6-1.8 per doubling of nu; the "
            "measured drops must be resolved beyond 3 SE (weakest measured 4.6-6.3)",
        ),
        Check(
            "lazy_null_rel_err",
            ">=",
            0.3,
            why="at gamma = 1 the target direction's kernel grows, so the static-kernel "
            "(lazy) curve must miss the networks by far more than the 10% tolerance "
            "(measured 0.47-0.51)",
        ),
    ),
    # 20% off: at the widest width twice the 10% tolerance and > 6 SE at every step
    prediction=Prediction("test_loss", relative=0.2),
    tags=("dmft", "deep-linear", "mup", "proportional-limit", "wider-is-better"),
    theory_columns=THEORY_COLUMNS,
    experiment_columns=EXPERIMENT_COLUMNS,
    doc=__doc__ or "",
)
