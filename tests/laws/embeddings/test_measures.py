"""lmech.measure.embeddings against a peer (gensim's analogy evaluation), brute force and
exact geometric cases."""

import numpy as np
import pytest

from lmech.measure import embeddings as me


def _brute_3cosadd(E, words, questions):
    En = E / np.linalg.norm(E, axis=1, keepdims=True)
    idx = {w: i for i, w in enumerate(words)}
    correct = seen = 0
    for q in questions:
        if not all(w in idx for w in q):
            continue
        seen += 1
        a, b, c, d = (idx[w] for w in q)
        best, arg = -np.inf, -1
        query = En[b] - En[a] + En[c]
        for w in range(len(words)):
            if w in (a, b, c):
                continue
            s = En[w] @ query / np.linalg.norm(query)
            if s > best:
                best, arg = s, w
        correct += arg == d
    return correct, seen


def test_3cosadd_matches_brute_force_and_gensim():
    sections = me.load_analogies()
    assert len(sections) == 14 and sum(len(s.questions) for s in sections) == 19544
    assert [s.kind for s in sections[:6]] == ["semantic"] * 5 + ["syntactic"]
    # a vocabulary from the family and capital sections, plus noise words
    fam = sections[4]
    words = sorted({w for q in fam.questions for w in q})[:60] + [f"zz{i}" for i in range(20)]
    g = np.random.default_rng(0)
    E = g.standard_normal((len(words), 6))
    # plant a noisy gender direction so that many answers are right
    idx = {w: i for i, w in enumerate(words)}
    gender = 2.0 * g.standard_normal(6)
    for a, b, _, _ in fam.questions:
        if a in idx and b in idx:
            E[idx[b]] = E[idx[a]] + gender + 0.3 * g.standard_normal(6)
    table = me.analogy_accuracy(E, words, [fam])
    correct, seen = _brute_3cosadd(E, words, fam.questions)
    assert correct > 0.2 * seen
    assert int(table["seen"].iloc[0]) == seen and int(table["correct"].iloc[0]) == correct

    gensim_models = pytest.importorskip("gensim.models")
    kv = gensim_models.KeyedVectors(vector_size=6)
    kv.add_vectors(words, E)
    from lmech.data.text import gensim_file

    score, secs = kv.evaluate_word_analogies(
        str(gensim_file("questions-words")), restrict_vocab=len(words)
    )
    got = me.analogy_accuracy(E, words, sections)
    by_name = {s["section"]: s for s in secs}
    row = got[got["section"] == "family"].iloc[0]
    assert len(by_name["family"]["correct"]) == row["correct"]
    assert len(by_name["family"]["correct"]) + len(by_name["family"]["incorrect"]) == row["seen"]


def test_expected_accuracy_with_ties():
    # four words, two identical vectors: the answer ties with one other candidate
    E = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [0.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    # a=0, b=1, c=2 -> query ~ (0, 1.1): words 3 and 4 tie exactly
    acc = me.expected_analogy_accuracy(E, [[0, 1, 2, 3]], tol=1e-9)
    assert acc == pytest.approx(0.5)


def test_effective_rank():
    assert me.effective_rank([3.0, 3.0, 3.0, 0.0]) == pytest.approx(3.0)
    assert me.effective_rank([1.0, 0.0]) == pytest.approx(1.0)


def test_circularity_exact_cases():
    m = np.arange(12)
    circle = np.stack(
        [np.cos(2 * np.pi * m / 12), np.sin(2 * np.pi * m / 12), np.zeros(12)], axis=1
    )
    c = me.circularity(3 * circle + 5)
    assert c.score == pytest.approx(1.0) and c.order == pytest.approx(1.0)
    np.testing.assert_allclose(c.angles, 2 * np.pi * m / 12, atol=1e-10)
    # reflected circle (anticlockwise calendar) is the same circle
    assert me.circularity(circle[:, [1, 0, 2]]).score == pytest.approx(1.0)
    # an ellipse with axes 1 and 0.5: radius spread std(r)/mean(r) computed directly
    ell = circle * [1.0, 0.5, 0.0]
    r = np.hypot(ell[:, 0], ell[:, 1])
    assert me.circularity(ell).radius_spread == pytest.approx(r.std() / r.mean(), rel=1e-10)
    # shuffled months: far from calendar order (mean over orders ~ 1/sqrt(12))
    g = np.random.default_rng(0)
    null = np.mean([me.circularity(circle[g.permutation(12)]).order for _ in range(200)])
    assert 0.2 < null < 0.4


def test_analogy_summary_totals_by_kind():
    import pandas as pd

    from lmech.measure.embeddings import analogy_summary

    t = pd.DataFrame(
        [("family", "semantic", 10, 20, 3), ("currency", "semantic", 0, 5, 0)]
        + [("gram1-adjective-to-adverb", "syntactic", 30, 40, 6)],
        columns=["section", "kind", "seen", "total", "correct"],
    )
    s = analogy_summary(t)
    assert (s["semantic_correct"], s["semantic_seen"], s["semantic"]) == (3, 10, 0.3)
    assert (s["syntactic_correct"], s["syntactic_seen"], s["syntactic"]) == (6, 30, 0.2)
    assert (s["all_correct"], s["all_seen"], s["all"]) == (9, 40, 9 / 40)
    assert analogy_summary(t.iloc[1:2])["semantic"] == 0.0  # nothing seen: 0, not NaN
