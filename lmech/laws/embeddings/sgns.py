r"""sgns-matches-qwem: real skip-gram with negative sampling follows the QWEM theory.

Claim:
    Tied SGNS trained on the same statistics as QWEM (the omniscient reweighting of pairs
    by 1/G_ij, whose quadratic expansion is exactly the QWEM loss
    (1/4)|W W^T - M*|^2) (a) switches its modes on at QWEM's predicted steps
    t_k = ln((lambda_k - u_0)/u_0)/(kappa lambda_k), in eigenvalue order (within 10%):
    at small init s_ij -> 0 and the two losses agree to second order; and (b) ends in the
    QWEM subspace: the mean principal cosine between the trained SGNS W and the top-d
    eigenvectors of M* is >= 0.90.

System:
    As ``qwem-sequential-learning``: ``lee_background`` (bundled with gensim), V = 300,
    window 16 with linear weights, psi = 1, d = 4, W_0 entries N(0, 1e-24 / d), full-batch
    gradient descent on 2 sum_ij [q+_ij log(1 + e^{-s_ij}) + q-_ij log(1 + e^{s_ij})],
    q+ = P_ij / G_ij, q- = psi P_i P_j / G_ij, at learning rate 0.01 / lambda_1(M*).

Measurement:
    s_k^2(t) of the SGNS W every 5 steps (switch-on = first crossing of lambda_k / 2, from
    M*'s eigenvalues), and the principal cosines of the final SGNS W with W*. Nulls: the
    modes switching on together (stagger > 20% required, predicted 56%), and a random
    subspace (mean cosine ~ 0.1 at V = 300, d = 4; a margin of 0.5 required).

Known limits:
    SGNS does not converge to W*: where P_ij / (psi P_i P_j) is far from 1 its target is
    the shifted PMI log x, which M* = 2(x - 1)/(x + 1) only approximates, so the learned
    s_k^2 end 12-50% above lambda_k and the overlap is below 1: mean cosine 0.98 at d = 4
    (per angle 0.997, 0.995, 0.978, 0.952, seeds 0 and 1); at d = 8 (V = 300) the mean
    falls to 0.88, because modes 5-8 of M* lie within 10% of each other and the PMI's
    differences reorder them. The switch-on times carry the same random-init delays as
    QWEM (worst 1.9% and 4.0% at seeds 0 and 1). The unreweighted SGNS loss (weights
    P_ij + psi P_i P_j, dominated by the most frequent words) is ill-conditioned for
    full-batch descent (condition number ~ 1e3 here) and is not part of this law.
    word2vec's own algorithm (sampled pairs, k negatives from unigram^0.75) is
    :func:`lmech.experiment.word2vec.train_sgns_minibatch`; it reaches the minimizer of
    the same expected loss (W W^T within 5-7% after 2e6 pairs on a 20-word test), but
    its sampling noise would blur the switch-on times this law checks at 10%.

Source:
    Karkada, Simon, Bahri, DeWeese, "Closed-Form Training Dynamics Reveal Learned
    Features and Linear Structure in Word2Vec-like Models" (arXiv 2502.09863), Sec. 3
    (quartic approximation, reweighting), Sec. 4 and Fig. 1 (QWEM vs SGNS).

Run:
    ``lmech check sgns-matches-qwem`` (quick, ~10 s of CPU).
"""

from __future__ import annotations

import pandas as pd

from lmech.experiment.word2vec import train_sgns
from lmech.figures.embeddings import stepwise_rank
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.embeddings import _dynamics as dyn
from lmech.laws.embeddings._common import long_matrix, matrix_from_rows, random_subspace_cosine
from lmech.theory.word2vec import principal_cosines, qwem_solution

THEORY_COLUMNS = (*dyn.THEORY_COLUMNS, "kind", "word_index", "value")
EXPERIMENT_COLUMNS = (*dyn.EXPERIMENT_COLUMNS, "kind", "word_index", "value")

PRESETS = {
    "smoke": dyn.DynamicsSpec(
        vocab_size=60, dim=2, steps=600, log_every=10, lr_scale=0.05, init_scale=1e-8
    ),
    "quick": dyn.DynamicsSpec(),
    "paper": dyn.DynamicsSpec(texts="enwiki+lee_background", vocab_size=2000, dim=8, steps=12000),
}


def theory(spec: dyn.DynamicsSpec) -> pd.DataFrame:
    curves = dyn.dynamics_theory(spec).assign(kind="dynamics", word_index=-1, value=0.0)
    W, lam = qwem_solution(spec.target(), spec.dim)
    tau = curves.groupby("mode")["switch_on_step"].first().to_numpy(float)
    rows = long_matrix(W, kind="closed_form", step=-1, u_pred=0.0)
    rows["eigenvalue"] = lam[rows["mode"].to_numpy()]
    rows["switch_on_step"] = tau[rows["mode"].to_numpy()]
    return pd.concat([curves, rows[list(THEORY_COLUMNS)]], ignore_index=True)[list(THEORY_COLUMNS)]


def experiment(spec: dyn.DynamicsSpec, seed: int, device: str) -> pd.DataFrame:
    M = spec.target()
    _, P, Pi = spec.statistics()
    res = train_sgns(
        P,
        Pi,
        spec.dim,
        psi=spec.psi,
        reweight="omniscient",
        steps=spec.steps,
        lr=spec.learning_rate(M),
        init_scale=spec.init_scale,
        seed=seed,
        device=device,
        log_every=spec.log_every,
    )
    curves = dyn.result_table(res).assign(kind="dynamics", word_index=-1, value=0.0)
    final = long_matrix(res.W, kind="final", step=-1, u=0.0)
    return pd.concat([curves, final[list(EXPERIMENT_COLUMNS)]], ignore_index=True)


def _split(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    return df[df["kind"] == kind]


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    dynamics = dyn.evaluate_dynamics(_split(pred, "dynamics"), _split(meas, "dynamics"))
    Wstar = matrix_from_rows(_split(pred, "closed_form"))
    W = matrix_from_rows(_split(meas, "final"))
    cos = principal_cosines(W, Wstar)
    null = random_subspace_cosine(W.shape[0], W.shape[1], Wstar)
    values = dict(dynamics.values)
    del values["max_abs_err_erank_plateau"]  # SGNS plateaus sit above lambda_k by design
    values["mean_principal_cosine"] = float(cos.mean())
    values["margin_over_random_subspace"] = float(cos.mean() - null)
    detail = f"{dynamics.detail}; principal cosines {', '.join(f'{c:.3f}' for c in cos)}"
    return Evaluation(values, detail)


LAW = Law(
    name="sgns-matches-qwem",
    claim="SGNS switches modes on at QWEM's predicted times and ends in M*'s top-d eigenspace",
    source="Karkada et al. 2025, Closed-Form Training Dynamics (arXiv 2502.09863), Sec. 3-4, Fig. 1",
    spec=dyn.DynamicsSpec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=lambda pred, meas: stepwise_rank(
        _split(pred, "dynamics"), _split(meas, "dynamics"), "SGNS against the QWEM sigmoids"
    ),
    criterion=Criterion(
        Check(
            "max_rel_err_switch_on",
            "<=",
            0.10,
            why="SGNS equals QWEM to second order at small s; the random-init delays of "
            "QWEM (<= 7.4% measured) carry over; measured 1.9%, 4.0% at seeds 0, 1",
        ),
        Check("fraction_in_order", ">=", 1.0, why="eigenvalue gaps >= 9%: one inversion falsifies"),
        Check(
            "stagger_last_over_first",
            ">=",
            0.2,
            why="null of simultaneous learning gives 0; theory 56%",
        ),
        Check(
            "mean_principal_cosine",
            ">=",
            0.90,
            why="SGNS targets log x, M* its Pade approximant; measured 0.98 at d = 4 (seeds 0, 1), "
            "the bound leaves 0.08 for the Pade error on other texts and seeds",
        ),
        Check(
            "margin_over_random_subspace",
            ">=",
            0.5,
            why="a random d-dim subspace of R^V has mean cosine ~ sqrt(d/V) ~ 0.1",
        ),
    ),
    # switch-on times 25% off are 2.5 times the 10% tolerance
    prediction=Prediction("switch_on_step", relative=0.25),
    theory_columns=THEORY_COLUMNS,
    experiment_columns=EXPERIMENT_COLUMNS,
    tags=("embeddings", "word2vec", "sgns", "qwem", "real-data"),
    doc=__doc__ or "",
)
