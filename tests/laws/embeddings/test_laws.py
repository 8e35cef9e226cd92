"""Embedding laws: their theory tables against independent computations."""

from collections import Counter

import numpy as np
import pytest

from lmech.data.text import attribute_questions, gensim_corpus
from lmech.laws import registry
from lmech.laws.embeddings._common import text_statistics


def _combinatorial_log_m_accuracy(K: int, j: int) -> float:
    """Exact expected 3CosAdd accuracy of log M at d = j < K (attributes 0..j-1 resolved,
    every other one invisible), counted by hand: the candidates tied with the answer are
    the words agreeing with it on the resolved attributes, minus the query words among them."""
    Q, which = attribute_questions(K)
    bits = (np.arange(2**K)[:, None] >> np.arange(K)[None, ::-1]) & 1
    res = np.arange(K) < j
    total = 0.0
    for (a, _b, c, _d), k in zip(Q, which, strict=True):
        same = bool(np.all(bits[a, res] == bits[c, res]))
        if res[k]:
            size = 2 ** (K - j) - (1 if same else 0)
        else:
            size = 2 ** (K - j) - 1 - (2 if same else 0)
        total += 1.0 / size
    return total / len(Q)


def test_analogies_theory_matches_combinatorics():
    law = registry.get("analogies-from-attributes")
    spec = law.preset("quick")
    pred = law.theory(spec)
    K = len(spec.fidelities)
    logm = pred[pred["matrix"] == "log M"].set_index("dim")["accuracy"]
    for j in range(1, K):
        assert logm[j] == pytest.approx(_combinatorial_log_m_accuracy(K, j), rel=1e-12)
    assert logm[K] == pytest.approx(1.0)
    m = pred[pred["matrix"] == "M"].set_index("dim")["accuracy"]
    # M's first mode is the constant (frequency only): same as log M with nothing resolved shifted by one
    for j in range(1, K + 1):
        assert m[j + 1] == pytest.approx(logm[j], rel=1e-12)


def test_months_theory_is_the_exact_calendar_circle():
    law = registry.get("months-circle")
    pred = law.theory(law.preset("quick"))
    np.testing.assert_allclose(pred["angle"], 2 * np.pi * np.arange(12) / 12, atol=1e-8)
    np.testing.assert_allclose(pred["radius"], 1.0, atol=1e-8)


def test_real_text_statistics_match_a_counter_loop():
    words, P, Pi = text_statistics("lee_background", 40, 3, "linear")
    corpus = gensim_corpus("lee_background", max_vocab=40)
    counts = Counter()
    for s in corpus.sentences():
        s = s.tolist()
        for i in range(len(s)):
            for k in range(1, 4):
                if i + k < len(s):
                    counts[(s[i], s[i + k])] += 4 - k
                    counts[(s[i + k], s[i])] += 4 - k
    C = np.zeros((40, 40))
    for (a, b), v in counts.items():
        C[a, b] = v
    np.testing.assert_allclose(P, C / C.sum(), rtol=1e-12)
    np.testing.assert_allclose(Pi, corpus.vocab.counts / corpus.vocab.counts.sum())
    assert words == corpus.vocab.words


def test_sequential_theory_switch_on_times_follow_eigenvalue_order():
    law = registry.get("qwem-sequential-learning")
    pred = law.theory(law.preset("smoke"))
    first = pred[pred["step"] == 0].sort_values("mode")
    assert np.all(np.diff(first["eigenvalue"]) < 0)
    assert np.all(np.diff(first["switch_on_step"]) > 0)
