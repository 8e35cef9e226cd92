r"""Side by side: lmech's minibatch SGNS against gensim's Word2Vec (skip-gram, negative
sampling) on the same text, vocabulary, dimension, window, negatives and epochs.

Both train on the two texts bundled with gensim (its Wikipedia sample and
``lee_background``), vocabulary = the ``--vocab`` most frequent words, out-of-vocabulary
tokens deleted before windowing (gensim is given exactly these token lists, with
``min_count=1``, so both have the same vocabulary):

* gensim: ``Word2Vec(sg=1, negative=5, window=L, vector_size=d, epochs=E, sample=0,
  workers=1)``: a pass over the sentences with a dynamic window, per-pair SGD at 0.025
  decaying linearly; ``sample=0`` because lmech does not subsample frequent words;
* lmech: :func:`lmech.experiment.word2vec.train_sgns_minibatch` with the same recipe
  (untied vectors, 5 negatives from unigram^0.75, SGD at 0.025 decaying linearly), on
  i.i.d. pairs drawn from the co-occurrence counts with word2vec's dynamic-window weights
  (L + 1 - k at distance k), E * sum C / L pairs (the expected number gensim sees), in
  batches of ``--batch`` pairs.

Reported: CPU and wall time of training (counting the statistics lmech builds first;
gensim builds its vocabulary inside), their ratios, and 3CosAdd accuracy by the same
scorer (:func:`lmech.measure.embeddings.analogy_accuracy`, semantic and syntactic
separately); gensim's own ``evaluate_word_analogies`` on its vectors is printed as a
cross-check of the scorer (it must agree with ours on the total; exit 1 if not).

Run (repository root, venv active; about 1.5 CPU-minutes at the defaults)::

    python benchmarks/embeddings_sgns_gensim.py
    python benchmarks/embeddings_sgns_gensim.py --epochs 10 --dim 50
    python benchmarks/embeddings_sgns_gensim.py --device cuda   # lmech on a GPU
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from embeddings_analogies import fmt, score, statistics

from lmech.data.text import gensim_file
from lmech.experiment.word2vec import pairs_per_epoch, train_sgns_minibatch
from lmech.measure.embeddings import load_analogies


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, default=10000)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    try:
        from gensim.models import Word2Vec
    except ImportError:
        print("gensim is not installed: pip install gensim")
        return 2
    sections = load_analogies()

    def lmech_run():
        words, C, counts, _ = statistics(args.vocab, args.window)
        steps = max(1, round(args.epochs * pairs_per_epoch(C, args.window) / args.batch))
        res = train_sgns_minibatch(
            C,
            counts,
            args.dim,
            negatives=5,
            power=0.75,
            steps=steps,
            batch_size=args.batch,
            lr=0.025,
            tied=False,
            init_scale=0.5 / np.sqrt(3.0 * args.dim),
            seed=args.seed,
            device=args.device,
            log_every=max(1, steps // 10),
        )
        return words, res.W, steps

    # the token lists (shared; not timed): the lmech corpus decoded back to words
    from lmech.data.text import gensim_corpus

    corpus = gensim_corpus(("enwiki", "lee_background"), max_vocab=args.vocab)
    sentences = [[corpus.vocab.words[i] for i in s] for s in corpus.sentences()]

    def gensim_run():
        return Word2Vec(
            sentences,
            vector_size=args.dim,
            window=args.window,
            sg=1,
            negative=5,
            min_count=1,
            sample=0,
            workers=1,
            epochs=args.epochs,
            seed=args.seed + 1,
        )

    (words, W, steps), lw, lc = _timed(lmech_run)
    model, gw, gc = _timed(gensim_run)
    assert set(model.wv.index_to_key) == set(words)
    E = np.stack([model.wv[w] for w in words])
    ours, theirs = score(W, words, sections, len(words)), score(E, words, sections, len(words))
    gensim_total = model.wv.evaluate_word_analogies(
        str(gensim_file("questions-words")), restrict_vocab=len(words)
    )[0]
    print(
        f"{corpus.num_tokens} tokens, V = {len(words)}, d = {args.dim}, window {args.window}, "
        f"5 negatives, {args.epochs} epochs; lmech {steps} steps of {args.batch} pairs on {args.device}"
    )
    print(f"lmech  minibatch SGNS: {lw:7.1f} s wall, {lc:7.1f} s CPU   {fmt(ours)}")
    print(f"gensim Word2Vec      : {gw:7.1f} s wall, {gc:7.1f} s CPU   {fmt(theirs)}")
    print(f"ratio lmech / gensim : {lw / gw:.2f}x wall, {lc / gc:.2f}x CPU")
    agree = abs(gensim_total - theirs["all"]) < 1e-9
    print(
        f"scorer cross-check: gensim evaluate_word_analogies {gensim_total:.4f} vs lmech "
        f"{theirs['all']:.4f} on gensim's vectors: {'PASS' if agree else 'FAIL'}"
    )
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
