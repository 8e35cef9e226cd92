r"""Measures of word embeddings: analogies, effective rank, circularity.

- :func:`load_analogies` / :func:`analogy_accuracy`: the Mikolov et al. 2013 analogy
  benchmark (``questions-words.txt``: lines ``a b c d`` meaning a : b :: c : d under
  ``: section`` headers; the first five sections are semantic, the rest syntactic)
  scored by **3CosAdd** (Mikolov et al. 2013; Levy & Goldberg 2014, eq. 3): embeddings
  L2-normalized, prediction argmax over the vocabulary minus {a, b, c} of
  cos(w, b - a + c), top-1 exact match; case-insensitive; the candidates and the
  questions are restricted to the ``restrict`` most frequent words, and a question with
  a word outside them is skipped (reported as ``seen`` out of ``total``, as word2vec's
  ``compute-accuracy`` does); :func:`analogy_summary` totals semantic, syntactic, all;
- :func:`expected_analogy_accuracy`: the same protocol on embeddings with exact ties
  (two words with equal vectors), the expectation under uniform random tie-breaking;
  for exact population embeddings, where ties are the point;
- :func:`effective_rank`: exp of the entropy of the normalized singular values (Roy and
  Vetterli 2007);
- :func:`circularity`: months on a circle (Karkada et al. 2026, arXiv 2602.15029, Sec. 3):
  the centred month vectors projected on their top two principal directions, at angles
  phi_m and radii r_m; ``order`` = max over the two orientations of
  |mean_m exp(i (phi_m -+ 2 pi m / n))| (1 iff the months sit in calendar order at equal
  spacing), ``radius_spread`` = std(r) / mean(r), and ``score`` = order * max(0, 1 -
  radius_spread): 1 for a perfect calendar circle, about 1/sqrt(n) for random angles.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech.errors import InputError

__all__ = [
    "SEMANTIC_SECTIONS",
    "AnalogySection",
    "load_analogies",
    "analogy_accuracy",
    "analogy_summary",
    "expected_analogy_accuracy",
    "effective_rank",
    "Circularity",
    "circularity",
]

SEMANTIC_SECTIONS = (
    "capital-common-countries",
    "capital-world",
    "currency",
    "city-in-state",
    "family",
)


@dataclass(frozen=True)
class AnalogySection:
    name: str
    questions: tuple[tuple[str, str, str, str], ...]

    @property
    def kind(self) -> str:
        return "semantic" if self.name in SEMANTIC_SECTIONS else "syntactic"


def load_analogies(path: str | os.PathLike | None = None) -> list[AnalogySection]:
    """Sections of ``questions-words.txt`` (default: the copy in the gensim wheel), lowercased."""
    from lmech.data.text import gensim_file, read_text

    text = read_text(gensim_file("questions-words") if path is None else path)
    sections: list[AnalogySection] = []
    name, qs = None, []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(":"):
            if name is not None:
                sections.append(AnalogySection(name, tuple(qs)))
            name, qs = line[1:].strip(), []
            continue
        parts = line.lower().split()
        if len(parts) != 4 or name is None:
            raise InputError(
                f"{path or 'questions-words.txt'} line {lineno}: expected 'a b c d' under a "
                f"': section' header; got {line[:80]!r}"
            )
        qs.append(tuple(parts))
    if name is not None:
        sections.append(AnalogySection(name, tuple(qs)))
    if not sections:
        raise InputError("the analogy file has no ': section' headers and no questions")
    return sections


def _normalized(E) -> np.ndarray:
    E = np.asarray(E, dtype=np.float64)
    if E.ndim != 2 or E.shape[0] < 4:
        raise InputError(f"embeddings must be a (V, d) matrix with V >= 4; got shape {E.shape}")
    if not np.all(np.isfinite(E)):
        raise InputError("embeddings contain NaN or infinite values")
    norms = np.linalg.norm(E, axis=1, keepdims=True)
    return E / np.where(norms > 0, norms, 1.0)


def _scores(En, q_ids) -> np.ndarray:
    """cos(w, b - a + c) for every word w and question, with a, b, c set to -inf."""
    a, b, c = q_ids[:, 0], q_ids[:, 1], q_ids[:, 2]
    query = En[b] - En[a] + En[c]
    qn = np.linalg.norm(query, axis=1, keepdims=True)
    query = query / np.where(qn > 0, qn, 1.0)
    S = query @ En.T
    rows = np.arange(len(q_ids))
    for col in (a, b, c):
        S[rows, col] = -np.inf
    return S


def analogy_accuracy(
    E, words, sections, *, restrict: int | None = None, batch: int = 512
) -> pd.DataFrame:
    """3CosAdd accuracy per section: columns ``section, kind, seen, total, correct,
    accuracy`` (accuracy = correct / seen, 0 where nothing is seen).

    Args:
        E: (V, d) embeddings, rows in the order of ``words``.
        words: the vocabulary (most frequent first when ``restrict`` is used).
        sections: :func:`load_analogies` output (or a list of ``AnalogySection``).
        restrict: use only the first ``restrict`` words as candidates and questions.
    """
    En = _normalized(E)
    words = [w.lower() for w in words]
    if len(words) != En.shape[0]:
        raise InputError(f"{len(words)} words for {En.shape[0]} embedding rows")
    n = len(words) if restrict is None else int(restrict)
    if n < 4:
        raise InputError(f"restrict must keep at least 4 words; got {restrict}")
    En = En[:n]
    index = {w: i for i, w in enumerate(words[:n])}
    rows = []
    for sec in sections:
        ids = [[index[w] for w in q] for q in sec.questions if all(w in index for w in q)]
        correct = 0
        for start in range(0, len(ids), batch):
            q = np.asarray(ids[start : start + batch], dtype=np.int64)
            correct += int((np.argmax(_scores(En, q), axis=1) == q[:, 3]).sum())
        seen = len(ids)
        rows.append(
            (sec.name, sec.kind, seen, len(sec.questions), correct, correct / seen if seen else 0.0)
        )
    return pd.DataFrame(rows, columns=["section", "kind", "seen", "total", "correct", "accuracy"])


def analogy_summary(table: pd.DataFrame) -> dict:
    """Totals of an :func:`analogy_accuracy` table: ``{kind}_correct``, ``{kind}_seen`` and
    ``{kind}`` (accuracy = correct / seen, 0 where nothing is seen) for kind in
    ``semantic``, ``syntactic`` and ``all``."""
    out = {}
    for kind in ("semantic", "syntactic", "all"):
        t = table if kind == "all" else table[table["kind"] == kind]
        correct, seen = int(t["correct"].sum()), int(t["seen"].sum())
        out[f"{kind}_correct"], out[f"{kind}_seen"] = correct, seen
        out[kind] = correct / seen if seen else 0.0
    return out


def expected_analogy_accuracy(E, questions, *, tol: float = 1e-9) -> float:
    """Mean over questions (int ids (Q, 4)) of 1/|T| if d is in T, else 0, where T is
    the set of candidates within ``tol`` of the best 3CosAdd score (random tie-breaking)."""
    En = _normalized(E)
    q = np.asarray(questions, dtype=np.int64)
    if q.ndim != 2 or q.shape[1] != 4 or len(q) == 0:
        raise InputError(f"questions must be a non-empty (Q, 4) id array; got shape {q.shape}")
    S = _scores(En, q)
    best = S.max(axis=1, keepdims=True)
    ties = S >= best - tol
    hit = ties[np.arange(len(q)), q[:, 3]]
    return float(np.mean(np.where(hit, 1.0 / ties.sum(axis=1), 0.0)))


def effective_rank(singular_values) -> np.ndarray:
    """exp(H(p)), p = s / sum s, along the last axis (0 for an all-zero row)."""
    s = np.abs(np.asarray(singular_values, dtype=np.float64))
    total = s.sum(axis=-1, keepdims=True)
    p = s / np.where(total > 0, total, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        H = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=-1)
    return np.where(total[..., 0] > 0, np.exp(H), 0.0)


@dataclass(frozen=True)
class Circularity:
    """``score``, ``order``, ``radius_spread``, and per month the angle (aligned: best
    rotation and orientation onto 2 pi m / n, in radians, within pi of it) and the
    radius relative to the mean radius."""

    score: float
    order: float
    radius_spread: float
    angles: np.ndarray
    radii: np.ndarray
    coords: np.ndarray  # (n, 2): the centred vectors on their top two principal directions


def circularity(X) -> Circularity:
    """Circularity of n >= 3 vectors given in cyclic (calendar) order, rows of ``X``."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 3 or X.shape[1] < 2:
        raise InputError(f"circularity needs an (n >= 3, d >= 2) matrix; got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise InputError("circularity: the vectors contain NaN or infinite values")
    n = X.shape[0]
    Xc = X - X.mean(axis=0)
    U, s, _ = np.linalg.svd(Xc, full_matrices=False)
    if s[1] <= 1e-12 * max(s[0], 1e-300):
        raise InputError("circularity: the vectors span fewer than two directions")
    Y = U[:, :2] * s[:2]
    phi = np.arctan2(Y[:, 1], Y[:, 0])
    r = np.hypot(Y[:, 0], Y[:, 1])
    target = 2 * np.pi * np.arange(n) / n
    best = None
    for sign in (1.0, -1.0):
        z = np.exp(1j * (sign * phi - target)).mean()
        if best is None or abs(z) > abs(best[1]):
            best = (sign, z)
    sign, z = best
    aligned = sign * phi - np.angle(z)
    aligned = target + (aligned - target + np.pi) % (2 * np.pi) - np.pi
    spread = float(r.std() / r.mean())
    order = float(abs(z))
    return Circularity(order * max(0.0, 1.0 - spread), order, spread, aligned, r / r.mean(), Y)
