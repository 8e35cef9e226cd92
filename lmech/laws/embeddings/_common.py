"""Shared pieces of the embedding laws: cached real-text statistics, switch-on times."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from lmech.data.text import cooccurrence, gensim_corpus, pair_distribution, unigram
from lmech.measure.embeddings import effective_rank
from lmech.theory.word2vec import principal_cosines

TEXTS = ("lee_background", "enwiki", "enwiki+lee_background")
WEIGHTINGS = ("linear", "uniform", "harmonic")


@functools.lru_cache(maxsize=4)
def text_statistics(
    texts: str, vocab_size: int, window: int, weighting: str
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """``(words, P_ij, P_i)`` of the bundled texts (``+``-joined names), top ``vocab_size``
    words, OOV deleted before windowing; arrays are read-only (shared by the cache)."""
    corpus = gensim_corpus(texts.split("+"), max_vocab=vocab_size)
    P = pair_distribution(cooccurrence(corpus, window, weighting))
    Pi = unigram(corpus)
    P.setflags(write=False)
    Pi.setflags(write=False)
    return corpus.vocab.words, P, Pi


#: tokens of each bundled text (measured: enwiki 0.46M, lee_background 61k), rounded up
_TEXT_TOKENS = {"lee_background": 80_000, "enwiki": 600_000}
#: parsing and tokenizing keeps the text and one str object per token (measured peak
#: ~150 MB for enwiki); 400 bytes a token errs high
_PARSE_BYTES_PER_TOKEN = 400


def statistics_bytes(texts: str, vocab_size: int, window: int) -> int:
    """Peak memory of :func:`text_statistics` (an estimate that errs high): the parsed
    texts, one co-occurrence chunk (40 bytes per token and distance, as
    :func:`lmech.data.text.cooccurrence` checks), the sparse counts and the dense P_ij."""
    tokens = sum(_TEXT_TOKENS[t] for t in texts.split("+"))
    sparse = 16 * min(vocab_size**2, 2 * tokens * window)
    return _PARSE_BYTES_PER_TOKEN * tokens + 40 * tokens * window + 3 * sparse + 8 * vocab_size**2


def crossing_steps(steps: np.ndarray, u: np.ndarray, level: np.ndarray) -> np.ndarray:
    """First step at which column k of ``u`` (n_log x d) reaches ``level[k]``, linearly
    interpolated between logged steps; NaN if it never does."""
    out = np.full(u.shape[1], np.nan)
    for k in range(u.shape[1]):
        above = np.nonzero(u[:, k] >= level[k])[0]
        if above.size == 0:
            continue
        i = above[0]
        if i == 0:
            out[k] = steps[0]
            continue
        frac = (level[k] - u[i - 1, k]) / (u[i, k] - u[i - 1, k])
        out[k] = steps[i - 1] + frac * (steps[i] - steps[i - 1])
    return out


def matrix_from_rows(df: pd.DataFrame, value: str = "value") -> np.ndarray:
    """The (word_index x mode) matrix of a long table."""
    V = int(df["word_index"].max()) + 1
    d = int(df["mode"].max()) + 1
    out = np.zeros((V, d))
    out[df["word_index"].to_numpy(int), df["mode"].to_numpy(int)] = df[value].to_numpy(float)
    return out


def long_matrix(W: np.ndarray, **extra) -> pd.DataFrame:
    """A (V x d) matrix as rows ``word_index, mode, value`` (+ constant columns)."""
    V, d = W.shape
    df = pd.DataFrame(
        {
            "word_index": np.repeat(np.arange(V), d),
            "mode": np.tile(np.arange(d), V),
            "value": W.ravel(),
        }
    )
    for k, v in extra.items():
        df[k] = v
    return df


def random_subspace_cosine(V: int, d: int, reference: np.ndarray) -> float:
    """Mean principal cosine of ``reference`` with a fixed Gaussian random subspace (the
    null of no alignment; deterministic, E ~ sqrt(d / V) for d << V)."""
    R = np.random.default_rng(12345).standard_normal((V, d))
    return float(principal_cosines(R, reference).mean())


def erank_from_u(u: np.ndarray) -> np.ndarray:
    """Effective rank of W from squared singular values (rows = steps)."""
    return effective_rank(np.sqrt(np.clip(u, 0, None)))
