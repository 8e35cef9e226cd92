r"""analogies-from-attributes: linear analogies from the top eigenvectors of M and log M.

Claim:
    In a corpus whose words are bundles of K binary semantic attributes with
    attribute-wise factorized co-occurrence, M = P_ij / (P_i P_j) is a Kronecker product
    of 2 x 2 matrices, so its eigenvectors are tensor products of per-attribute ones and
    log M = sum over attributes has rank K + 1. Embeddings from the top-d eigenvectors
    (scaled by sqrt(eigenvalue)) solve the analogies a : b :: c : d of every attribute by
    3CosAdd with accuracy 1 as soon as the attribute directions are included (d = K + 1
    for M, d = K for log M), rising from chance before; log M stays at 1 beyond (its other
    eigenvalues vanish) while M drops when attribute-pair modes enter. The measured
    accuracy on a sampled corpus matches the exact-statistics accuracy where the latter
    is saturated (within 0.05), is >= 0.95 there, and log M beats M beyond d = K + 1.

System:
    Words: all 2^K attribute vectors (K = 5, 32 words). A sentence draws z ~ U({0,1}^K);
    each of its tokens copies attribute a of z with probability p_a (p = 0.945 ... 0.918,
    so every single-attribute eigenvalue 2^K (2 p_a - 1)^2 exceeds every pair eigenvalue)
    and flips it otherwise. Questions: for each attribute k, all ordered pairs a != c with
    x_k = 0, b and d their k-flipped partners (1200 questions).

Measurement:
    P_ij counted on 20000 sampled sentences of 10 tokens (window 10, uniform weights: the
    tokens of a sentence are exchangeable, so the population P_ij does not depend on the
    window), M and log M (floor e^-5), top-d eigen-embeddings, 3CosAdd with a, b, c
    excluded. The exact statistics give the prediction; ties among words that differ only
    in unresolved attributes are scored as a uniform random choice (expected accuracy).
    Null: the frequency-only embedding (d = 1) must be beaten by 0.5.

Known limits:
    Below saturation the sampled accuracy is above the tie-breaking prediction
    (e.g. 0.24 vs 0.07 for M at d = 2): sampling noise mixes a little of the unresolved
    attribute directions into the kept eigenvectors, which breaks ties better than
    chance; these rows are reported, not checked. Beyond saturation, M's accuracy with
    pair modes included depends on noise at the 0.05 level (0.81 vs 0.79 at d = 7,
    seed 0). On real text (the bundled Wikipedia and Lee texts, 0.48M tokens, V = 10000,
    window 5, d = 100) 3CosAdd accuracy is low and not checked here: semantic / syntactic
    0.104 / 0.045 for M* (the QWEM closed form), 0.093 / 0.047 for log M, 0.015 / 0.005
    for M, 0.060 / 0.015 for sampled-pair SGNS after 5 epochs (word2vec's recipe); the
    order log M ~ M* >> M matches the paper, the levels need far more text.

Source:
    Korchinski, Karkada, Bahri, Wyart, "On the Emergence of Linear Analogies in Word
    Embeddings" (arXiv 2505.18651), Sec. 3 (attribute model, Kronecker structure),
    Fig. 1-2 (accuracy against dimension, M vs log M); Mikolov et al. 2013 (3CosAdd).

Run:
    ``lmech check analogies-from-attributes`` (quick, ~1 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech.data.text import (
    attribute_corpus,
    attribute_questions,
    attribute_statistics,
    cooccurrence,
    pair_distribution,
    unigram,
)
from lmech.errors import ConfigError
from lmech.figures.embeddings import analogy_curve
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.spec import LawSpec, param
from lmech.measure.embeddings import expected_analogy_accuracy
from lmech.theory.word2vec import log_ratio_matrix, ratio_matrix, spectral_embedding

MATRICES = ("M", "log M")


@dataclass(frozen=True)
class Spec(LawSpec):
    fidelities: tuple[float, ...] = param(
        (0.945, 0.938, 0.931, 0.924, 0.918),
        gt=0.5,
        lt=1.0,
        min_len=2,
        max_len=8,
        distinct=True,
        doc="p_a: probability that a token copies attribute a of its sentence's latent",
    )
    dims: tuple[int, ...] = param((1, 2, 3, 4, 5, 6, 7, 8, 9), ge=1, min_len=2, increasing=True)
    n_sentences: int = param(20000, ge=10, le=10_000_000)
    sentence_length: int = param(10, ge=2, le=1000)
    window: int = param(10, ge=1, le=1000, doc="uniform co-occurrence window")

    def memory_bytes(self) -> int:
        # the sampled corpus (latents, flips and ids: 8 (K + 2) bytes a token), one
        # co-occurrence chunk (40 bytes per token and distance), its sparse counts, and
        # the 2^K x 2^K float64 matrices (P, M, log M, eigh) counted twice over
        tokens = self.n_sentences * self.sentence_length
        chunk = min(tokens, (1 << 20) + self.sentence_length)
        words = 2 ** len(self.fidelities)
        sparse = 16 * min(words**2, 2 * tokens * self.window)
        return (
            8 * (len(self.fidelities) + 2) * tokens
            + 40 * chunk * self.window
            + 3 * sparse
            + 16 * 8 * words**2
        )

    def validate(self) -> None:
        K = len(self.fidelities)
        if self.dims[-1] > 2**K:
            raise ConfigError(
                f"dims go up to {self.dims[-1]} but there are only 2^K = {2**K} words"
            )
        if self.dims[0] != 1 or K + 1 not in self.dims:
            raise ConfigError(f"dims must start at 1 (the null) and include K + 1 = {K + 1}")
        g = np.sort((2 * np.asarray(self.fidelities) - 1) ** 2)
        if g[0] <= g[-1] * g[-2]:
            raise ConfigError(
                "fidelities must make every single-attribute eigenvalue (2p-1)^2 exceed every "
                f"pair eigenvalue: min {g[0]:.3f} <= max pair {g[-1] * g[-2]:.3f}; use p closer to 1"
            )


PRESETS = {
    "smoke": Spec(fidelities=(0.95, 0.93, 0.91), dims=(1, 2, 3, 4, 5), n_sentences=2000),
    "quick": Spec(),
    "paper": Spec(
        fidelities=(0.96, 0.955, 0.95, 0.945, 0.94, 0.935, 0.93),
        dims=tuple(range(1, 13)),
        n_sentences=200000,
    ),
}


def _embed(kind: str, P: np.ndarray, Pi: np.ndarray, d: int) -> np.ndarray:
    M = ratio_matrix(P, Pi) if kind == "M" else log_ratio_matrix(P, Pi)
    return spectral_embedding(M, d)


def theory(spec: Spec) -> pd.DataFrame:
    _, P, Pi, _ = attribute_statistics(spec.fidelities)
    Q, _ = attribute_questions(len(spec.fidelities))
    rows = []
    for kind in MATRICES:
        for d in spec.dims:
            acc = expected_analogy_accuracy(_embed(kind, P, Pi, d), Q, tol=1e-7)
            rows.append((kind, d, acc, int(acc >= 0.999)))
    return pd.DataFrame(rows, columns=["matrix", "dim", "accuracy", "saturated"])


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    words, _, _, _ = attribute_statistics(spec.fidelities)
    corpus = attribute_corpus(
        seed, spec.fidelities, n_sentences=spec.n_sentences, sentence_length=spec.sentence_length
    )
    P = pair_distribution(cooccurrence(corpus, spec.window, "uniform"))
    Pi = unigram(corpus)
    # back to the generator's word order (every word occurs at these corpus sizes)
    idx = np.array([corpus.vocab.index.get(w, -1) for w in words])
    if np.any(idx < 0):
        raise ConfigError(
            "some attribute words never occur in the sampled corpus; use more sentences"
        )
    P, Pi = P[np.ix_(idx, idx)], Pi[idx]
    Q, _ = attribute_questions(len(spec.fidelities))
    rows = []
    for kind in MATRICES:
        for d in spec.dims:
            # distinct sampled vectors have no ties: this is plain 3CosAdd top-1 accuracy
            acc = expected_analogy_accuracy(_embed(kind, P, Pi, d), Q, tol=0.0)
            rows.append((kind, d, acc))
    return pd.DataFrame(rows, columns=["matrix", "dim", "accuracy"])


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    m = pred.merge(meas, on=["matrix", "dim"], suffixes=("_pred", "_meas"))
    sat = m[m["saturated"] == 1]
    err = (sat["accuracy_meas"] - sat["accuracy_pred"]).abs()
    rises = []
    for kind in MATRICES:
        g = m[m["matrix"] == kind].sort_values("dim")
        first = g[g["saturated"] == 1]
        start = g["accuracy_meas"].iloc[0]
        rises.append(first["accuracy_meas"].iloc[0] - start if len(first) else float("nan"))
    dM = m[m["matrix"] == "M"].set_index("dim")
    dL = m[m["matrix"] == "log M"].set_index("dim")
    first_M = dM.index[dM["saturated"] == 1]
    beyond = [d for d in dM.index if len(first_M) and d > first_M[0]]
    gain = (
        float(np.mean(dL.loc[beyond, "accuracy_meas"] - dM.loc[beyond, "accuracy_meas"]))
        if beyond
        else float("nan")
    )
    values = {
        "min_accuracy_saturated": float(sat["accuracy_meas"].min()) if len(sat) else float("nan"),
        "max_abs_err_saturated": float(err.max()) if len(sat) else float("nan"),
        "rise_over_frequency_only": float(np.min(rises)),
        "log_m_gain_beyond_saturation": gain,
    }
    worst = sat.loc[err.idxmax()] if len(sat) else None
    detail = (
        f"saturated rows {len(sat)}; worst {worst['matrix']} d={int(worst['dim'])}: "
        f"{worst['accuracy_meas']:.3f} vs {worst['accuracy_pred']:.3f}"
        if worst is not None
        else "no saturated row"
    )
    return Evaluation(values, detail)


LAW = Law(
    name="analogies-from-attributes",
    claim="top-d eigenvectors of M (log M) solve attribute analogies once the K attribute modes are in",
    source="Korchinski et al. 2025, Emergence of Linear Analogies (arXiv 2505.18651), Sec. 3, Fig. 2",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=lambda pred, meas: analogy_curve(pred, meas, "Binary-attribute corpus: analogies vs d"),
    criterion=Criterion(
        Check(
            "min_accuracy_saturated",
            ">=",
            0.95,
            why="the exact statistics give 1.0; eigenvector noise at 2e5 tokens flips a "
            "few percent of answers at most (measured >= 0.99 at seeds 0-2)",
        ),
        Check(
            "max_abs_err_saturated",
            "<=",
            0.05,
            why="1200 questions, binomial SE < 0.01 near accuracy 1; 0.05 is five SE",
        ),
        Check(
            "rise_over_frequency_only",
            ">=",
            0.5,
            why="null: d = 1 (frequency or one attribute) is near chance (<= 0.07 exact)",
        ),
        Check(
            "log_m_gain_beyond_saturation",
            ">=",
            0.1,
            why="exact gain 0.33 (mean over d = 7-9: pair modes enter M only); measured "
            "0.28-0.33 at seeds 0-2",
        ),
    ),
    # accuracies 0.2 off are four times the 0.05 tolerance
    prediction=Prediction("accuracy", absolute=0.2),
    theory_columns=("matrix", "dim", "accuracy", "saturated"),
    experiment_columns=("matrix", "dim", "accuracy"),
    tags=("embeddings", "analogies", "synthetic"),
    doc=__doc__ or "",
)
