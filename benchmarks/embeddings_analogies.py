r"""Analogy accuracy on real text: minibatch SGNS against the spectral embeddings of M*
(the QWEM solution), log M (PMI) and M, at the same dimension, on the same statistics.

Corpus: the two texts bundled with gensim (its Wikipedia sample and ``lee_background``,
0.52M tokens together), vocabulary = the ``--vocab`` most frequent words (out-of-
vocabulary tokens deleted before windowing), co-occurrence within ``--window`` words
with word2vec's linear (dynamic-window) weights, P_ij = C_ij / sum C, P_i = unigram.

* SGNS: :func:`lmech.experiment.word2vec.train_sgns_minibatch`, word2vec's recipe:
  untied word/context vectors, 5 negatives from unigram^0.75, per-pair SGD at 0.025
  decaying linearly, ``--epochs`` passes of sum C / L pairs (word2vec's expected count
  with a dynamic window), batches of ``--batch`` pairs (256; the per-pair gradients of a
  batch are computed at the same parameters, so larger batches are staler: semantic
  accuracy 0.040 at 1024 against 0.060 at 256 here); the word vectors W are scored.
  ``--tied`` adds a tied run (one matrix, the theory's model).
* QWEM: the closed form of Karkada et al. 2025 (arXiv 2502.09863, Sec. 3.1): top-d
  eigenvectors of M*_ij = 2 (P_ij - psi P_i P_j) / (P_ij + psi P_i P_j), scaled by
  sqrt(eigenvalue) (the minimizer of the omniscient-reweighted QWEM loss).
* log M: the same for log(P_ij / (P_i P_j) + e^-5); M: for P_ij / (P_i P_j)
  (Korchinski et al. 2025, arXiv 2505.18651, Sec. 2).

The V x V matrices are built in float32 row blocks and their top eigenpairs found by
Lanczos (``scipy.sparse.linalg.eigsh``); both are first checked against the float64
library functions (:mod:`lmech.theory.word2vec`) on a 300-word vocabulary (exit 1 if they
differ). Scoring: :func:`lmech.measure.embeddings.analogy_accuracy` (3CosAdd, a, b, c
excluded, questions and candidates restricted to the vocabulary, semantic = the first five
sections of questions-words.txt), reported as correct / seen per kind.

Run (repository root, venv active; ~2-3 CPU-minutes at the defaults)::

    python benchmarks/embeddings_analogies.py
    python benchmarks/embeddings_analogies.py --dims 10 25 50 100 --epochs 10 --tied
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import scipy.sparse.linalg as spla

from lmech.data.text import cooccurrence, gensim_corpus, unigram
from lmech.experiment.word2vec import pairs_per_epoch, train_sgns_minibatch
from lmech.measure.embeddings import analogy_accuracy, analogy_summary, load_analogies
from lmech.theory import word2vec as th

TEXTS = ("enwiki", "lee_background")
FLOOR = np.exp(-5.0)


def statistics(vocab: int, window: int):
    """(words, sparse C, unigram counts, P_i) of the bundled texts."""
    corpus = gensim_corpus(TEXTS, max_vocab=vocab)
    C = cooccurrence(corpus, window, "linear")
    return corpus.vocab.words, C, corpus.vocab.counts, unigram(corpus)


def dense_matrix(C, Pi, kind: str, psi: float = 1.0, block: int = 1000) -> np.ndarray:
    """M* (``"M*"``), log M (``"log M"``) or M (``"M"``) as a dense float32 array, built
    from the sparse counts one block of rows at a time (peak: the result + one block)."""
    V = C.shape[0]
    C = C.tocsr()
    total = float(C.sum())
    out = np.empty((V, V), dtype=np.float32)
    for a in range(0, V, block):
        b = min(V, a + block)
        P = C[a:b].toarray() / total
        indep = np.outer(Pi[a:b], Pi)
        if kind == "M*":
            out[a:b] = 2 * (P - psi * indep) / (P + psi * indep)
        elif kind == "log M":
            out[a:b] = np.log(P / indep + FLOOR)
        elif kind == "M":
            out[a:b] = P / indep
        else:
            raise ValueError(kind)
    return out


def spectral(A: np.ndarray, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Top-d eigenvalues (descending) and eigenvectors of the symmetric A by Lanczos."""
    v0 = np.random.default_rng(seed).standard_normal(A.shape[0])
    lam, U = spla.eigsh(A, k=d, which="LA", v0=v0, tol=1e-6)
    order = np.argsort(lam)[::-1]
    return lam[order].astype(np.float64), U[:, order].astype(np.float64)


def self_check() -> bool:
    """The float32 block builders and Lanczos against the float64 library at V = 300."""
    _, C, _, Pi = statistics(300, 5)
    P = C.toarray() / C.sum()
    ok = True
    for kind, ref in (
        ("M*", th.qwem_target(P, Pi, 2.0)),
        ("log M", th.log_ratio_matrix(P, Pi)),
        ("M", th.ratio_matrix(P, Pi)),
    ):
        A = dense_matrix(C, Pi, kind, psi=2.0, block=77)
        err = np.abs(A - ref).max() / np.abs(ref).max()
        lam, U = spectral(A, 10)
        lam_ref, U_ref = th.top_eigenpairs(ref, 10)
        lam_err = np.abs(lam - lam_ref).max() / abs(lam_ref[0])
        cos = th.principal_cosines(U, U_ref).min()
        good = err < 1e-6 and lam_err < 1e-5 and cos > 0.999
        ok &= good
        print(
            f"  self-check {kind:6s}: max entry err {err:.1e}, eigenvalue err {lam_err:.1e}, "
            f"min principal cosine {cos:.5f}  {'ok' if good else 'FAIL'}"
        )
    return ok


def score(E, words, sections, vocab: int) -> dict:
    return analogy_summary(analogy_accuracy(E, words, sections, restrict=vocab))


def fmt(s: dict) -> str:
    return (
        f"semantic {s['semantic_correct']:4d}/{s['semantic_seen']:<4d} = {s['semantic']:.3f}   "
        f"syntactic {s['syntactic_correct']:4d}/{s['syntactic_seen']:<4d} = {s['syntactic']:.3f}   "
        f"all {s['all']:.3f}"
    )


def sgns_vectors(C, counts, d, epochs, window, seed, tied=False, batch=256):
    steps = max(1, round(epochs * pairs_per_epoch(C, window) / batch))
    res = train_sgns_minibatch(
        C,
        counts,
        d,
        negatives=5,
        power=0.75,
        steps=steps,
        batch_size=batch,
        lr=0.025,
        tied=tied,
        init_scale=0.5 / np.sqrt(3.0 * d),  # word2vec: W entries U(-0.5/d, 0.5/d)
        seed=seed,
        log_every=max(1, steps // 10),
    )
    return res.W, steps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, default=10000)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--dims", type=int, nargs="+", default=[25, 50, 100])
    ap.add_argument("--epochs", type=float, default=5.0)
    ap.add_argument("--psi", type=float, default=1.0, help="negative weight in M*")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=256, help="SGNS pairs per step")
    ap.add_argument("--tied", action="store_true", help="also train tied SGNS")
    ap.add_argument("--no-spectral", action="store_true", help="SGNS only")
    args = ap.parse_args()
    print("checking the block builders and Lanczos against lmech.theory (V = 300)")
    if not self_check():
        return 1
    t0 = time.process_time()
    words, C, counts, Pi = statistics(args.vocab, args.window)
    sections = load_analogies()
    dmax = max(args.dims)
    print(
        f"statistics: {len(words)} words, {int(counts.sum())} tokens, window {args.window} "
        f"(linear weights), {C.nnz} nonzero pairs; {time.process_time() - t0:.1f} s CPU"
    )
    rows = []
    for kind in () if args.no_spectral else ("M*", "log M", "M"):
        t = time.process_time()
        A = dense_matrix(C, Pi, kind, psi=args.psi)
        lam, U = spectral(A, dmax, args.seed)
        del A
        for d in args.dims:
            E = U[:, :d] * np.sqrt(np.clip(lam[:d], 0, None))
            rows.append(
                (("QWEM (M*)" if kind == "M*" else kind), d, score(E, words, sections, len(words)))
            )
        print(f"  {kind:6s}: top-{dmax} eigenpairs, {time.process_time() - t:.1f} s CPU")
    runs = [("SGNS untied", False)] + ([("SGNS tied", True)] if args.tied else [])
    for name, tied in runs:
        t = time.process_time()
        W, steps = sgns_vectors(
            C, counts, dmax, args.epochs, args.window, args.seed, tied, args.batch
        )
        rows.append((name, dmax, score(W, words, sections, len(words))))
        print(
            f"  {name}: d = {dmax}, {steps} steps of {args.batch} pairs, {time.process_time() - t:.1f} s CPU"
        )
    print(f"\n3CosAdd accuracy (questions with all four words in the {len(words)}-word vocabulary)")
    for name, d, s in rows:
        print(f"  {name:12s} d = {d:3d}:  {fmt(s)}")
    print(f"total {time.process_time() - t0:.0f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
