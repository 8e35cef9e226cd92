r"""Side-by-side timing: windowed co-occurrence counts of the largest bundled text.

Both sides count, on the same encoded corpus (gensim's bundled Wikipedia sample: 206
articles, markup stripped, about 0.46M tokens, 27k sentences; vocabulary = the
``--vocab`` most frequent words, out-of-vocabulary tokens deleted first), every pair of
tokens at distance 1 <= k <= L inside a sentence with weight (L + 1 - k), both orders:

* lmech: :func:`lmech.data.text.cooccurrence` (numpy over the whole id array per
  distance k, summed into a scipy CSR matrix, streamed in chunks of sentences);
* the straightforward Python loop a user would write: for each sentence, each position
  and each k, ``counts[(a, b)] += w`` and ``counts[(b, a)] += w`` on a
  ``collections.Counter``.

Both results are compared entry by entry (exit status 1 if they differ). Corpus
parsing and tokenization (shared by both) are timed separately.

Run (repository root, venv active)::

    python benchmarks/cooccurrence.py              # vocabulary 10000, window 16
    python benchmarks/cooccurrence.py --vocab 0    # every word (~35k types)
    python benchmarks/cooccurrence.py --window 5
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import numpy as np
from _timing import cpu_seconds

from lmech.data.text import cooccurrence, gensim_corpus


def counter_loop(corpus, window: int) -> Counter:
    counts: Counter = Counter()
    for s in corpus.sentences():
        s = s.tolist()
        n = len(s)
        for i in range(n):
            a = s[i]
            for k in range(1, min(window, n - 1 - i) + 1):
                b = s[i + k]
                w = window + 1 - k
                counts[(a, b)] += w
                counts[(b, a)] += w
    return counts


def _timed(fn, *args):
    busy0, own0 = cpu_seconds()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    busy1, own1 = cpu_seconds()
    return out, wall, cpu, max(0.0, (busy1 - busy0) - (own1 - own0))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, default=10000, help="vocabulary size (0: all words)")
    ap.add_argument("--window", type=int, default=16)
    args = ap.parse_args()
    corpus, wall, cpu, _ = _timed(lambda: gensim_corpus("enwiki", max_vocab=args.vocab or None))
    print(
        f"corpus: enwiki sample, {corpus.num_tokens} tokens, {corpus.num_sentences} sentences, "
        f"V = {len(corpus.vocab)}; parse + tokenize {wall:.2f} s wall ({cpu:.2f} s CPU)"
    )
    C, lw, lc, lo = _timed(cooccurrence, corpus, args.window)
    print(f"lmech cooccurrence   : {lw:7.2f} s wall, {lc:7.2f} s CPU  (nnz {C.nnz})")
    counts, pw, pc, po = _timed(counter_loop, corpus, args.window)
    print(f"Python Counter loop  : {pw:7.2f} s wall, {pc:7.2f} s CPU  ({len(counts)} pairs)")
    print(f"ratio Counter / lmech: {pc / lc:.1f}x CPU, {pw / lw:.1f}x wall")
    print(f"(CPU taken by other processes meanwhile: {lo:.1f} s and {po:.1f} s)")
    coo = C.tocoo()
    ours = dict(
        zip(zip(coo.row.tolist(), coo.col.tolist(), strict=True), coo.data.tolist(), strict=True)
    )
    same = len(ours) == len(counts) and all(
        np.isclose(ours.get(k, 0.0), v) for k, v in counts.items()
    )
    print("agreement:", "PASS (every entry equal)" if same else "FAIL")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
