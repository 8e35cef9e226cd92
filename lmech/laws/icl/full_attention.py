r"""icl-full-attention-training: a trained full linear-attention layer reaches the reduced optimum.

Claim:
    One linear self-attention layer with separate key, query, value and output matrices
    (:class:`lmech.nn.attention.LinearSelfAttention`), trained by gradient descent on the
    in-context regression task, converges to the optimum of the reduced model
    :math:`\hat y = x_q^\top\Gamma h` of Lu et al.: its in-distribution (IDG) and
    in-context (ICL) test errors equal those of
    :math:`\Gamma^* = A^\top B^{-1}/(1+\rho)` (:func:`lmech.theory.icl.optimal_gamma`, the
    exact finite-d minimizer of the pretraining loss with the pool's moments), within 1%
    and 3%, its reduced form is within 10% of :math:`\Gamma^*` in Frobenius norm, and its
    label-free part carries under 1% of the output power. So the trained layer inherits
    the reduced model's memorization at small kappa (IDG far below the isotropic
    one-step predictor's error) and its task gap.

System:
    d = 8, alpha = 2 (ell = 16), rho = 0.1, sphere tasks. The pretraining pool of
    k = kappa d tasks is part of the system (drawn with ``pool_seed``, not the run seed)
    and symmetric (k/2 draws and their negatives), so its mean is 0. Every training step
    draws ``batch`` fresh contexts from the pool (tau -> infinity at finite k); Adam with a
    cosine schedule from ``lr`` to 0 over ``steps`` steps; float64. Initialization:
    Gaussian matrices of scale ``init_scale`` with the read-out on the label path.

Measurement:
    For each kappa, the trained layer's test error on ``test_contexts`` fresh contexts
    with tasks from the pool (IDG) and with fresh sphere tasks (ICL), estimated with
    :math:`\Gamma^*` as a paired control variate: the exact error of :math:`\Gamma^*`
    (:func:`lmech.theory.icl.gamma_error`) plus the Monte-Carlo mean of
    :math:`(y - \hat y_{layer})^2 - (y - \hat y_{\Gamma^*})^2` on the same contexts
    (unbiased for the layer's error, standard error 0.05-0.1% of it instead of 1%).

Known limits:
    Why a full layer need not follow the reduced model [derived, then measured]: its
    prediction is :math:`x_q^\top\Gamma_{eff}h + v_x^\top\hat\Sigma A_x x_q` (the second,
    label-free term is even in w). The targets are odd in w, so for a pool closed under
    w -> -w the loss splits into odd and even parts and the optimum has no even part:
    the full optimum is the reduced one. For a pool drawn at random its mean task
    :math:`\mu = \frac1k\sum_j w_j` (:math:`|\mu|^2 \approx d/k`) is a pattern the
    label-free term can store in the weights. Measured at d = 8, kappa = 0.5 with a random
    pool: the trained layer's IDG error is 7% below the reduced optimum and its ICL error
    35% above it (0.37 on 1.06), with 4% of its output power label-free; this is a
    plausible cause of the earlier mismatch (ICL 0.78 against 0.625). The random
    initialization of :math:`v_x` also matters: from an all-Gaussian init, seed 0 (of the two
    seeds tried, d = 8) stalled at kappa = 1 in a rank-one solution predicting through
    :math:`v_x` (training loss 0.49 against 0.32, 67% of the output label-free) at every
    learning rate (0.01, 0.02) and init scale (0.1, 0.5) tried, hence the label-path init
    (with it, seeds 0-2 converged at kappa = 0.5, 1, 4 and infinity). The ICL excess is first order in the distance to :math:`\Gamma^*` (which
    minimizes the IDG loss, not the ICL loss) while the IDG excess is second order, so
    the ICL error converges more slowly: at kappa = 4, seed 2 it was +2.8% after 700
    steps of 256 contexts and +0.5% after 1500 (IDG +0.3% and +0.1%); the quick preset
    (1000 steps) gave at most +0.8% (seeds 0-4). A finite pretraining set
    is the other cause of a mismatch: trained full batch (1500 Adam steps) on
    n = tau d^2 contexts and compared with ridge Gamma (lambda = 1e-6) fitted to the same
    contexts, d = 8, symmetric pool, the layer's ICL / IDG errors were +83% / +112%
    (kappa = 4) and +17% / +33% (kappa = 0.5) at tau = 2, where its 4 (d+1)^2 = 324
    weights and label-free features fit noise the 72-parameter Gamma cannot (training
    loss 0.127 against 0.181, 40% of the output label-free); +0.9% / +2.4% and
    +1.9% / +1.6% at tau = 8; +1.7% / +0.8% and +0.1% / +0.3% at tau = 32. With a
    random pool the mean-task effect stays at tau = 32 (ICL 1.45 against 1.12, IDG 0.300
    against 0.322). So the law trains on fresh contexts (tau -> infinity). The tau -> infinity optimum at finite d is not the d -> infinity Result 1
    (that is ``icl-linear-attention-asymptotics``). Only one layer and one head.

Source:
    Lu, Letey, Zavatone-Veth, Maiti, Pehlevan, "Asymptotic theory of in-context learning
    by linear attention", PNAS 122(28) e2502599122 (2025), arXiv 2405.11751, the linear
    attention layer and its reduction to Gamma; Zhang, Frei, Bartlett, "Trained
    transformers learn linear models in-context", JMLR 25 (2024), gradient-flow
    convergence of the same layer.

Run:
    ``lmech check icl-full-attention-training`` (quick: about 8-10 s of CPU on one core).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech import progress
from lmech.experiment.icl import attention_excess_error, symmetric_pool, train_linear_attention
from lmech.figures import icl as icl_figures
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.spec import LawSpec, param
from lmech.seeding import torch_generator
from lmech.theory.icl import gamma_error, optimal_gamma

KINDS = ("idg", "icl")


@dataclass(frozen=True)
class Spec(LawSpec):
    """Token dimension, task diversities, training schedule, test size."""

    d: int = param(8, ge=2, le=64)
    alpha: float = param(2.0, gt=0)
    rho: float = param(0.1, ge=0)
    kappas: tuple[float, ...] = param(
        (0.5, 4.0),
        gt=0,
        min_len=1,
        distinct=True,
        increasing=True,
        doc="k = kappa d pool tasks (k even, >= 2); the first is the memorizing one",
    )
    pool_seed: int = param(0, ge=0, doc="the pool is part of the system, not of the run")
    steps: int = param(1000, ge=1)
    batch: int = param(256, ge=1, doc="fresh contexts per step")
    lr: float = param(0.02, gt=0, doc="Adam learning rate at the start of the cosine")
    init_scale: float = param(0.1, gt=0)
    test_contexts: int = param(10000, ge=100)

    def validate(self) -> None:
        from lmech.errors import ConfigError

        for k in self.kappas:
            n = round(k * self.d)
            if n < 2 or n % 2:
                raise ConfigError(
                    f"kappas must give an even pool size k = round(kappa d) >= 2 (a symmetric "
                    f"pool); kappa = {k} gives k = {n} at d = {self.d}"
                )

    def memory_bytes(self) -> int:
        # float64 sequences of a training batch and of a 2000-context test chunk, with
        # the autograd intermediates (about 8 copies)
        ell = max(1, round(self.alpha * self.d))
        rows = max(self.batch, 2000)
        return 8 * 8 * rows * (ell + 1) * (self.d + 1) + 8 * 2000 * self.d * self.d * 2

    def pool(self, kappa: float):
        return symmetric_pool(
            round(kappa * self.d), self.d, torch_generator(self.pool_seed, "icl-pool", kappa)
        )


PRESETS = {
    "smoke": Spec(d=4, kappas=(0.5, 2.0), steps=30, batch=32, test_contexts=200),
    "quick": Spec(),
    "paper": Spec(d=16, kappas=(0.25, 0.5, 1.0, 2.0, 4.0), steps=6000, batch=1024),
}

COLUMNS = ("kappa", "kind", "alpha", "rho", "error", "isotropic_null")
EXP_COLUMNS = (
    "kappa",
    "kind",
    "error",
    "error_se",
    "excess",
    "gamma_distance",
    "label_free_fraction",
    "train_loss",
)


def _moments(pool):
    P = pool.numpy()
    return P.mean(0), P.T @ P / len(P)


def theory(spec: Spec) -> pd.DataFrame:
    rows = []
    iso = optimal_gamma(spec.d, spec.alpha, spec.rho)  # the kappa = inf (one-step) optimum
    for k in spec.kappas:
        mu, R = _moments(spec.pool(k))
        g = optimal_gamma(spec.d, spec.alpha, spec.rho, task_mean=mu, task_second_moment=R)
        for kind in KINDS:
            m = {"task_mean": mu, "task_second_moment": R} if kind == "idg" else {}
            rows.append(
                {
                    "kappa": k,
                    "kind": kind,
                    "alpha": spec.alpha,
                    "rho": spec.rho,
                    "error": gamma_error(g, spec.alpha, spec.rho, **m),
                    "isotropic_null": gamma_error(iso, spec.alpha, spec.rho, **m),
                }
            )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    rows = []
    with progress.task("linear attention training", len(spec.kappas)) as advance:
        for k in spec.kappas:
            pool = spec.pool(k)
            mu, R = _moments(pool)
            # the control variate: the reduced optimum, whose exact error is known
            ref = optimal_gamma(spec.d, spec.alpha, spec.rho, task_mean=mu, task_second_moment=R)
            model, train_loss = train_linear_attention(
                spec.d,
                spec.alpha,
                spec.rho,
                pool.to(device),
                steps=spec.steps,
                batch=spec.batch,
                lr=spec.lr,
                seed=seed,
                keys=("kappa", k),
                init_scale=spec.init_scale,
                device=device,
            )
            g_eff, _, _ = model.reduced_form()
            dist = float(np.linalg.norm(g_eff - ref) / np.linalg.norm(ref))
            for kind in KINDS:
                m = {"task_mean": mu, "task_second_moment": R} if kind == "idg" else {}
                exact = gamma_error(ref, spec.alpha, spec.rho, **m)
                excess, se, free = attention_excess_error(
                    model,
                    ref,
                    spec.alpha,
                    spec.rho,
                    pool.to(device) if kind == "idg" else None,
                    spec.test_contexts,
                    torch_generator(seed, "attention-test", k, kind),
                    device=device,
                )
                rows.append(
                    {
                        "kappa": k,
                        "kind": kind,
                        "error": exact + excess,
                        "error_se": se,
                        "excess": excess,
                        "gamma_distance": dist,
                        "label_free_fraction": free,
                        "train_loss": train_loss,
                    }
                )
            advance(1)
    return pd.DataFrame(rows, columns=list(EXP_COLUMNS))


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    m = pred.merge(meas, on=["kappa", "kind"], suffixes=("_t", "_m"))
    m["rel"] = (m["error_m"] - m["error_t"]).abs() / m["error_t"]
    idg, icl = m[m["kind"] == "idg"], m[m["kind"] == "icl"]
    first = idg[idg["kappa"] == idg["kappa"].min()].iloc[0]
    parts = [
        f"k={r.kappa:g} {r.kind} {r.error_m:.4f}+-{r.error_se:.4f} vs {r.error_t:.4f}"
        for r in m.itertuples()
    ]
    return Evaluation(
        {
            "max_rel_err_idg": float(idg["rel"].max()),
            "max_rel_err_icl": float(icl["rel"].max()),
            "max_gamma_distance": float(meas["gamma_distance"].max()),
            "max_label_free_fraction": float(meas["label_free_fraction"].max()),
            "memorization_gap_to_isotropic": float(
                (first["isotropic_null"] - first["error_m"]) / first["error_m"]
            ),
        },
        detail="; ".join(parts),
    )


LAW = Law(
    name="icl-full-attention-training",
    claim="a full linear-attention layer (W_K, W_Q, W_V, W_P) trained by Adam on ICL "
    "regression reaches the reduced-Gamma optimum: IDG within 1%, ICL within 3%",
    source="Lu et al. 2025 (arXiv 2405.11751), the linear attention layer and its "
    "reduction to Gamma; Zhang, Frei, Bartlett 2024 (JMLR 25)",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=icl_figures.full_attention_figure,
    criterion=Criterion(
        Check(
            "max_rel_err_idg",
            "<=",
            0.01,
            why="the IDG excess of the trained layer is second order in its distance to "
            "Gamma*: worst of 4 cells 0.19-0.30% at seeds 0-4 (quick), paired standard "
            "error 0.05-0.1%; 1% is 3 times the worst optimization gap",
        ),
        Check(
            "max_rel_err_icl",
            "<=",
            0.03,
            why="the ICL excess is first order in the distance to Gamma* (Gamma* minimizes "
            "the IDG loss, not the ICL loss): worst cell 0.19-0.82% at seeds 0-4 (quick, "
            "1000 steps), paired standard error 0.03-0.1%; 3% is 3.5 times the worst",
        ),
        Check(
            "max_gamma_distance",
            "<=",
            0.1,
            why="|Gamma_eff - Gamma*|_F / |Gamma*|_F measured 0.037-0.045 (seeds 0-4): "
            "the residual stochastic-gradient noise of 1000 x 256 fresh contexts",
        ),
        Check(
            "max_label_free_fraction",
            "<=",
            0.01,
            why="the label-free term v_x^T Sigma_hat A_x x_q is absent at the optimum of a "
            "symmetric pool (parity); measured 2e-4 to 4e-4 (seeds 0-4), while a stalled rank-one "
            "solution or a random pool gives 4-67%",
        ),
        Check(
            "memorization_gap_to_isotropic",
            ">=",
            0.3,
            why="at the smallest kappa the reduced optimum memorizes the pool (theory IDG "
            "0.267 against 0.480 for the isotropic one-step optimum, a gap of 0.8); a "
            "layer that learned the pool-blind predictor would give 0",
        ),
    ),
    # 10% off is 10 times the IDG and 3 times the ICL tolerance
    prediction=Prediction("error", relative=0.1),
    theory_columns=COLUMNS,
    experiment_columns=EXP_COLUMNS,
    tags=("icl", "linear-attention", "training", "synthetic"),
    doc=__doc__ or "",
)
