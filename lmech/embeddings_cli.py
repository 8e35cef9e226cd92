"""``lmech embeddings``: a user's text file -> M* spectrum, predicted learning order, QWEM embeddings.

:func:`corpus_report` is the Python entry point; :func:`embeddings_cmd` is the command
(a plain function with a typer signature, registered by :mod:`lmech.cli`). The file is
read as UTF-8 text (a binary file or an empty one is refused), tokenized per sentence,
cut to the ``vocab_size`` most frequent words (OOV tokens deleted before windowing) and
counted with the window and distance weighting given. Then (Karkada et al. 2025, arXiv
2502.09863, Sec. 3): M*_ij = 2 (P_ij - psi P_i P_j) / (P_ij + psi P_i P_j), its top
eigenpairs, the QWEM embeddings W* = V_d Lambda_d^{1/2}, and the order and times at which
gradient descent from an init of scale ``init_scale`` switches the modes on
(t_k = ln((lambda_k - u_0)/u_0) / (2 eta lambda_k), in units of 1/eta).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from lmech.errors import ConfigError, InputError

__all__ = [
    "CorpusReport",
    "corpus_report",
    "embeddings_cmd",
    "write_word2vec_text",
    "real_text_months",
    "real_text_analogies",
    "month_pair_sentences",
]


@dataclass(frozen=True)
class CorpusReport:
    """``words`` (frequency order), ``eigenvalues`` (top ``dim`` of M*, descending),
    ``embeddings`` (V x dim, W*), ``switch_on_time`` (per mode, units of 1/eta; inf for a
    mode that is never learned), ``learning_order`` (mode indices, first learned first),
    ``top_words`` (per mode, the words with the largest positive components),
    ``num_tokens``."""

    words: tuple[str, ...]
    eigenvalues: np.ndarray
    embeddings: np.ndarray
    switch_on_time: np.ndarray
    learning_order: np.ndarray
    top_words: tuple[tuple[str, ...], ...]
    num_tokens: int


def corpus_report(
    path: str | os.PathLike,
    *,
    vocab_size: int = 2000,
    window: int = 16,
    weighting: str = "linear",
    psi: float = 1.0,
    dim: int = 16,
    init_scale: float = 1e-3,
    top: int = 8,
) -> CorpusReport:
    """The M* spectrum, predicted learning order and QWEM embeddings of a text file.

    Raises:
        DataUnavailableError: the file does not exist.
        InputError: an empty or binary file, window < 1, or a vocabulary smaller than
            ``dim`` (the message says which and how to fix it).
    """
    from lmech.data.text import (
        cooccurrence,
        distance_weights,
        pair_distribution,
        text_file_corpus,
        unigram,
    )
    from lmech.theory.word2vec import qwem_target, top_eigenpairs

    distance_weights(window, weighting)  # window and weighting checked before reading
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise InputError(f"dim must be an integer >= 1; got {dim!r}")
    if not (np.isfinite(init_scale) and init_scale > 0):
        raise InputError(f"init_scale must be > 0; got {init_scale}")
    corpus = text_file_corpus(path, max_vocab=vocab_size)
    V = len(corpus.vocab)
    if V < dim:
        raise InputError(
            f"{path}: the vocabulary has {V} distinct words, fewer than the embedding "
            f"dimension dim={dim}; use dim <= {V} or a longer text"
        )
    P = pair_distribution(cooccurrence(corpus, window, weighting))
    Mstar = qwem_target(P, unigram(corpus), psi)
    lam, U = top_eigenpairs(Mstar, dim)
    W = U * np.sqrt(np.clip(lam, 0, None))
    u0 = init_scale**2
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.where(lam > 2 * u0, np.log((lam - u0) / u0) / (2 * lam), np.inf)
    order = np.argsort(tau, kind="stable")
    words = corpus.vocab.words
    top_words = tuple(tuple(words[i] for i in np.argsort(-U[:, k])[:top]) for k in range(dim))
    return CorpusReport(words, lam, W, tau, order, top_words, corpus.num_tokens)


def write_word2vec_text(path: str | os.PathLike, words, W: np.ndarray) -> None:
    """Write embeddings in word2vec's text format (``V d`` header, one word per line)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"{len(words)} {W.shape[1]}\n")
        for w, row in zip(words, W, strict=True):
            fh.write(w + " " + " ".join(f"{x:.6g}" for x in row) + "\n")


def embeddings_cmd(
    text: Annotated[Path, typer.Argument(help="a UTF-8 text file")],
    vocab_size: Annotated[int, typer.Option(help="most frequent words kept")] = 2000,
    window: Annotated[int, typer.Option(help="co-occurrence window on each side")] = 16,
    weighting: Annotated[
        str, typer.Option(help="linear (L+1-k), uniform or harmonic (1/k)")
    ] = "linear",
    psi: Annotated[float, typer.Option(help="negative-sampling weight")] = 1.0,
    dim: Annotated[int, typer.Option(help="embedding dimension")] = 16,
    init_scale: Annotated[float, typer.Option(help="init scale for the switch-on times")] = 1e-3,
    out: Annotated[Path | None, typer.Option(help="write W* here (word2vec text format)")] = None,
) -> None:
    """M* spectrum, predicted learning order of the top modes and QWEM embeddings of a text."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if vocab_size < 2:
        raise ConfigError(f"--vocab-size must be >= 2; got {vocab_size}")
    rep = corpus_report(
        text,
        vocab_size=vocab_size,
        window=window,
        weighting=weighting,
        psi=psi,
        dim=dim,
        init_scale=init_scale,
    )
    table = Table(
        title=f"QWEM spectrum of {escape(text.name)} ({rep.num_tokens} tokens, V = {len(rep.words)})"
    )
    for col in ("order", "mode", "eigenvalue", "switch-on (1/eta)", "top words"):
        table.add_column(col, justify="left" if col == "top words" else "right")
    for rank, k in enumerate(rep.learning_order, 1):
        t = rep.switch_on_time[k]
        table.add_row(
            str(rank),
            str(k + 1),
            f"{rep.eigenvalues[k]:.4g}",
            "never" if not np.isfinite(t) else f"{t:.4g}",
            escape(", ".join(rep.top_words[k])),
        )
    console = Console()
    console.print(table)
    if out is not None:
        write_word2vec_text(out, rep.words, rep.embeddings)
        console.print(
            f"wrote {len(rep.words)} x {rep.embeddings.shape[1]} embeddings to {escape(str(out))}"
        )


def _top_embedding(M: np.ndarray, d: int) -> np.ndarray:
    """Top-d eigenvectors (largest eigenvalues) scaled by sqrt(max(eigenvalue, 0))."""
    from scipy.sparse.linalg import eigsh

    from lmech.theory.word2vec import top_eigenpairs

    if d >= M.shape[0] - 1 or M.shape[0] <= 500:
        lam, U = top_eigenpairs(M, d)
    else:
        lam, U = eigsh(M, k=d, which="LA", v0=np.ones(M.shape[0]))
        order = np.argsort(-lam)
        lam, U = lam[order], U[:, order]
    return U * np.sqrt(np.clip(lam, 0, None))


def month_pair_sentences(corpus) -> np.ndarray:
    """Mask of the sentences in which two different month names occur."""
    from lmech.data.text import MONTHS

    months = {corpus.vocab.index[m] for m in MONTHS if m in corpus.vocab.index}
    return np.array([len(months.intersection(s.tolist())) >= 2 for s in corpus.sentences()])


def real_text_months(
    texts=("enwiki", "lee_background"),
    *,
    vocab_size: int = 3000,
    window: int = 16,
    dim: int = 50,
    matrix: str = "M*",
) -> dict:
    """Circularity of the 12 months embedded from a bundled text, before and after
    removing every sentence in which two months co-occur (Karkada et al. 2026, arXiv
    2602.15029, Sec. 3). Returns ``{"full": Circularity, "no_month_pairs": Circularity,
    "removed_sentences": int, "month_counts": {...}}``."""
    from lmech.data.text import MONTHS, cooccurrence, gensim_corpus, pair_distribution, unigram
    from lmech.measure.embeddings import circularity
    from lmech.theory.word2vec import log_ratio_matrix, qwem_target

    if matrix not in ("M*", "log M"):
        raise InputError(f"matrix must be 'M*' or 'log M'; got {matrix!r}")
    corpus = gensim_corpus(list(texts), max_vocab=vocab_size, keep=MONTHS)
    missing = [m for m in MONTHS if m not in corpus.vocab.index]
    if missing:
        raise InputError(f"the months {missing} never occur in {texts}; use a larger text")
    mask = month_pair_sentences(corpus)
    out = {"removed_sentences": int(mask.sum())}
    for key, c in (("full", corpus), ("no_month_pairs", corpus.drop_sentences(mask))):
        P, Pi = pair_distribution(cooccurrence(c, window)), unigram(c)
        M = qwem_target(P, Pi) if matrix == "M*" else log_ratio_matrix(P, Pi)
        out[key] = circularity(_top_embedding(M, dim)[c.vocab.ids(MONTHS)])
    out["month_counts"] = {m: int(corpus.vocab.counts[corpus.vocab.index[m]]) for m in MONTHS}
    return out


def real_text_analogies(
    texts=("enwiki", "lee_background"),
    *,
    vocab_size: int = 3000,
    window: int = 16,
    dims=(10, 25, 50, 100),
    sgns_steps: int = 0,
    sgns_lr_scale: float = 0.05,
    seed: int = 0,
    device: str = "cpu",
):
    """3CosAdd accuracy against dimension on ``questions-words.txt`` for embeddings from
    M, log M, the QWEM closed form (M*) and, when ``sgns_steps > 0``, SGNS trained by
    :func:`lmech.experiment.word2vec.train_sgns` (omniscient reweighting, init 1e-3,
    learning rate ``sgns_lr_scale`` / lambda_1(M*); SGNS fits the PMI, whose top
    eigenvalues exceed M*'s, so 0.2 / lambda_1 diverges at V = 3000). Rows: method, dim, kind (semantic / syntactic /
    all), seen, correct, accuracy."""
    import pandas as pd

    from lmech.data.text import cooccurrence, gensim_corpus, pair_distribution, unigram
    from lmech.experiment.word2vec import train_sgns
    from lmech.measure.embeddings import analogy_accuracy, load_analogies
    from lmech.theory.word2vec import log_ratio_matrix, qwem_target, ratio_matrix

    sections = load_analogies()
    corpus = gensim_corpus(list(texts), max_vocab=vocab_size)
    P, Pi = pair_distribution(cooccurrence(corpus, window)), unigram(corpus)
    mats = {"M": ratio_matrix(P, Pi), "log M": log_ratio_matrix(P, Pi), "QWEM": qwem_target(P, Pi)}
    rows = []

    def score(method, d, E):
        t = analogy_accuracy(E, corpus.vocab.words, sections)
        for kind, g in [*t.groupby("kind"), ("all", t)]:
            seen, correct = int(g["seen"].sum()), int(g["correct"].sum())
            rows.append((method, d, kind, seen, correct, correct / seen if seen else 0.0))

    for d in dims:
        for name, M in mats.items():
            score(name, d, _top_embedding(M, d))
        if sgns_steps > 0:
            lr = sgns_lr_scale / float(np.linalg.eigvalsh(mats["QWEM"])[-1])
            res = train_sgns(
                P,
                Pi,
                d,
                reweight="omniscient",
                steps=sgns_steps,
                lr=lr,
                init_scale=1e-3,
                seed=seed,
                device=device,
                log_every=max(1, sgns_steps // 10),
            )
            score("SGNS", d, res.W)
    return pd.DataFrame(rows, columns=["method", "dim", "kind", "seen", "correct", "accuracy"])
