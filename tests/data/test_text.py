"""lmech.data.text: tokenization, vocabulary, co-occurrence counts against brute force,
synthetic corpora against their exact statistics, bundled texts."""

import itertools
from collections import Counter

import numpy as np
import pytest

from lmech.data import text as T
from lmech.errors import DataUnavailableError, InputError


def _brute_cooccurrence(sentences, V, window, weighting):
    """Python loops over every token pair, both orders (the definition)."""
    w = {
        "linear": lambda k: window + 1 - k,
        "uniform": lambda k: 1.0,
        "harmonic": lambda k: 1.0 / k,
    }[weighting]
    C = np.zeros((V, V))
    for s in sentences:
        for i, j in itertools.combinations(range(len(s)), 2):
            k = j - i
            if k <= window:
                C[s[i], s[j]] += w(k)
                C[s[j], s[i]] += w(k)
    return C


def test_tokenize_and_sentences():
    assert T.tokenize("Don't stop_now, 42!") == ["don't", "stop", "now", "42"]
    assert T.split_sentences("One two. Three!\nFour") == [["one", "two"], ["three"], ["four"]]


def test_vocabulary_is_frequency_ordered_and_oov_deleted():
    c = T.build_corpus([["b", "a", "c", "a"], ["c", "a", "d"]], max_vocab=2)
    assert c.vocab.words == ("a", "c")
    assert c.vocab.counts.tolist() == [3, 2]
    # b and d are deleted before windowing: sentences become [a, c, a] and [c, a]
    assert c.ids.tolist() == [0, 1, 0, 1, 0] and c.starts.tolist() == [0, 3, 5]
    kept = T.build_corpus([["b", "a", "c", "a"], ["c", "a", "d"]], max_vocab=1, keep=["d"])
    assert set(kept.vocab.words) == {"a", "d"}


@pytest.mark.parametrize("weighting", T.WEIGHTINGS)
def test_cooccurrence_matches_brute_force(weighting):
    g = np.random.default_rng(0)
    V = 13
    sentences = [g.integers(0, V, g.integers(1, 25)).tolist() for _ in range(60)]
    corpus = T.build_corpus([[f"w{i:02d}" for i in s] for s in sentences])
    # map brute-force ids to the corpus's frequency order
    remap = {int(w[1:]): i for i, w in enumerate(corpus.vocab.words)}
    ids = [[remap[i] for i in s] for s in sentences]
    for window in (1, 3, 7):
        expected = _brute_cooccurrence(ids, len(corpus.vocab), window, weighting)
        got = T.cooccurrence(corpus, window, weighting).toarray()
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        # streaming in small chunks gives the same counts
        chunked = T.cooccurrence(corpus, window, weighting, chunk_tokens=17).toarray()
        np.testing.assert_allclose(chunked, expected, rtol=1e-12, atol=1e-12)


def test_unigram_and_pair_distribution():
    c = T.build_corpus([["a", "b", "a"], ["b", "c"]])
    np.testing.assert_allclose(T.unigram(c), [2 / 5, 2 / 5, 1 / 5])
    P = T.pair_distribution(T.cooccurrence(c, 2, "uniform"))
    assert P.sum() == pytest.approx(1.0) and np.allclose(P, P.T)


def test_attribute_corpus_matches_exact_statistics():
    p = (0.9, 0.8, 0.7)
    words, P, Pi, bits = T.attribute_statistics(p)
    assert P.sum() == pytest.approx(1.0) and np.allclose(P.sum(axis=1), Pi)
    c = T.attribute_corpus(0, p, n_sentences=20000, sentence_length=6)
    idx = [c.vocab.index[w] for w in words]
    Ph = T.pair_distribution(T.cooccurrence(c, 6, "uniform"))[np.ix_(idx, idx)]
    # 20000 * 15 pairs; multinomial SE of each cell sqrt(P / n_pairs) with pairs within a
    # sentence correlated (factor <= sqrt(15)): 6 such SEs
    se = np.sqrt(P / (20000 * 15)) * np.sqrt(15)
    assert np.all(np.abs(Ph - P) <= 6 * se)


def test_cyclic_corpus_matches_exact_statistics_and_month_block_is_circulant():
    words, P, Pi = T.cyclic_statistics(n_context=6, n_filler=5)
    assert P.sum() == pytest.approx(1.0) and np.allclose(P.sum(axis=1), Pi)
    B = P[:12, :12]
    for k in range(12):  # circulant: B[i, j] depends on (j - i) mod 12 only
        diag = [B[i, (i + k) % 12] for i in range(12)]
        assert np.ptp(diag) <= 1e-14
    c = T.cyclic_corpus(1, n_sentences=20000, sentence_length=8, n_context=6, n_filler=5)
    idx = [c.vocab.index[w] for w in words]
    Ph = T.pair_distribution(T.cooccurrence(c, 8, "uniform"))[np.ix_(idx, idx)]
    se = np.sqrt(P / (20000 * 28)) * np.sqrt(28)
    assert np.all(np.abs(Ph - P) <= 6 * se)
    np.testing.assert_allclose(T.unigram(c)[idx], Pi, atol=6 * np.sqrt(Pi.max() / 160000))


def test_drop_sentences():
    c = T.build_corpus([["a", "b"], ["a", "c"], ["b", "b"]])
    d = c.drop_sentences(np.array([False, True, False]))
    assert d.num_sentences == 2 and d.num_tokens == 4
    assert d.vocab.counts[d.vocab.index["c"]] == 0


def test_bundled_texts_and_their_statistics():
    lee = T.gensim_corpus("lee_background")
    # independent count: the same tokenizer applied with a Counter over the whole file
    raw = Counter(T.tokenize(T.read_text(T.gensim_file("lee_background"))))
    assert lee.num_tokens == sum(raw.values())
    assert lee.vocab.words[0] == raw.most_common(1)[0][0]
    wiki = T.gensim_corpus("enwiki")
    assert 4e5 < wiki.num_tokens < 7e5
    assert all(m in wiki.vocab.index for m in T.MONTHS)
    # markup is stripped: no template/link syntax survives as words
    assert "ref" not in wiki.vocab.words[:200] and "http" not in wiki.vocab.index


def test_gensim_absent_is_data_unavailable(monkeypatch):
    import importlib.util

    T._gensim_sentences.cache_clear()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(DataUnavailableError, match="gensim"):
        T.gensim_corpus("lee_background")
    T._gensim_sentences.cache_clear()


def test_unknown_bundled_text():
    with pytest.raises(DataUnavailableError, match="known texts"):
        T.gensim_file("no-such-text")
    with pytest.raises(InputError):
        T.distance_weights(3, "gaussian")
