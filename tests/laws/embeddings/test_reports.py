"""Real-text report helpers: the month-pair filter against a direct count."""

import numpy as np

from lmech.data.text import build_corpus
from lmech.embeddings_cli import month_pair_sentences


def test_month_pair_filter():
    sents = [
        ["in", "january", "and", "march"],
        ["may", "may", "rain"],
        ["june"],
        ["july", "then", "july", "august"],
        ["no", "months"],
    ]
    corpus = build_corpus(sents)
    mask = month_pair_sentences(corpus)
    expected = [
        len({w for w in s if w in {"january", "march", "may", "june", "july", "august"}}) >= 2
        for s in sents
    ]
    assert mask.tolist() == expected == [True, False, False, True, False]
    kept = corpus.drop_sentences(mask)
    assert kept.num_tokens == sum(len(s) for s, m in zip(sents, expected, strict=True) if not m)
    assert kept.vocab.counts[kept.vocab.index["july"]] == 0
    assert np.array_equal(np.bincount(kept.ids, minlength=len(kept.vocab)), kept.vocab.counts)
