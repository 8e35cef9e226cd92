r"""Text corpora and their co-occurrence statistics, for word-embedding laws.

- :func:`tokenize`, :func:`split_sentences`: the tokenizer of
  :func:`lmech.data.files.read_text_tokens` (lowercase; maximal runs of letters and
  digits with internal apostrophes), applied per sentence;
- :class:`Vocabulary`, :func:`build_corpus`: a vocabulary ordered by decreasing count
  (ties alphabetically: id 0 is the most frequent word) and the corpus as one int64 id
  array with sentence offsets; out-of-vocabulary tokens are *deleted before windowing*
  (the convention of Karkada et al. 2025, arXiv 2502.09863, App. on data), so a window
  spans in-vocabulary words only;
- :func:`cooccurrence`: windowed co-occurrence counts as a symmetric ``scipy.sparse``
  CSR matrix, counted in streaming chunks of sentences with numpy (no Python loop over
  tokens). A pair of tokens at distance ``1 <= k <= L`` (``L = window``) inside one
  sentence adds ``weight(k)`` to both ``C[a, b]`` and ``C[b, a]``, with

  ========== ======================== =============================================
  weighting   weight(k)                 meaning
  ========== ======================== =============================================
  linear      (L + 1 - k)               word2vec's dynamic window in expectation
                                        (uniform random window size in 1..L); the
                                        QWEM paper's convention
  uniform     1                         a hard window
  harmonic    1 / k                     GloVe's weighting
  ========== ======================== =============================================

  Windows never cross a sentence boundary;
- :func:`unigram`, :func:`pair_distribution`: P_i (counts over the vocabulary) and
  P_ij = C_ij / sum C;
- corpora: :func:`gensim_corpus` (the texts in the ``gensim`` wheel's test data,
  located without importing gensim), :func:`text_file_corpus` (a user's UTF-8 file),
  and two latent-variable generators with exactly known statistics:
  :func:`cyclic_corpus` (a cyclic latent "time of year" that makes the month block of
  P_ij circulant, Karkada et al. 2026, arXiv 2602.15029) and :func:`attribute_corpus`
  (binary semantic attributes whose co-occurrence factorizes, Korchinski et al. 2025,
  arXiv 2505.18651, Sec. 3).

Bad input raises :class:`~lmech.errors.InputError` (empty corpus, window < 1, a binary
file); a missing file or a missing gensim raises
:class:`~lmech.errors.DataUnavailableError` (a law is then *skipped*).
"""

from __future__ import annotations

import bz2
import functools
import html
import importlib.util
import itertools
import numbers
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from lmech._memory import check_allocation
from lmech.errors import DataUnavailableError, InputError
from lmech.seeding import rng

__all__ = [
    "WEIGHTINGS",
    "MONTHS",
    "Vocabulary",
    "Corpus",
    "tokenize",
    "split_sentences",
    "build_corpus",
    "cooccurrence",
    "distance_weights",
    "unigram",
    "pair_distribution",
    "gensim_data_dir",
    "gensim_file",
    "gensim_corpus",
    "read_text",
    "text_file_corpus",
    "cyclic_corpus",
    "cyclic_statistics",
    "attribute_corpus",
    "attribute_statistics",
    "attribute_questions",
]

WEIGHTINGS = ("linear", "uniform", "harmonic")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)

_TOKEN_RE = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")


def tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Words of ``text``: ``"Don't stop_now, 42!"`` -> ``["don't", "stop", "now", "42"]``."""
    if not isinstance(text, str):
        raise InputError(f"tokenize expects a str; got {type(text).__name__}")
    return _TOKEN_RE.findall(text.lower() if lowercase else text)


def split_sentences(text: str, lowercase: bool = True) -> list[list[str]]:
    """Token lists, one per sentence: text is cut after ``.``, ``!``, ``?`` and at newlines."""
    out = []
    for piece in _SENTENCE_RE.split(text):
        toks = tokenize(piece, lowercase)
        if toks:
            out.append(toks)
    return out


@dataclass(frozen=True)
class Vocabulary:
    """Words ordered by decreasing count (ties alphabetically) with their counts."""

    words: tuple[str, ...]
    counts: np.ndarray  # int64, len(words), non-increasing

    def __len__(self) -> int:
        return len(self.words)

    @functools.cached_property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def ids(self, words: Iterable[str]) -> np.ndarray:
        """Ids of ``words``; InputError naming the first word not in the vocabulary."""
        idx = self.index
        out = []
        for w in words:
            if w not in idx:
                raise InputError(f"word {w!r} is not in the vocabulary of {len(self)} words")
            out.append(idx[w])
        return np.asarray(out, dtype=np.int64)


@dataclass(frozen=True)
class Corpus:
    """A tokenized corpus: ``ids`` (int64, all sentences concatenated), ``starts``
    (int64, len = sentences + 1, sentence s is ``ids[starts[s]:starts[s+1]]``) and the
    vocabulary (``vocab.counts`` counts the tokens of ``ids``)."""

    ids: np.ndarray
    starts: np.ndarray
    vocab: Vocabulary

    @property
    def num_tokens(self) -> int:
        return int(self.ids.size)

    @property
    def num_sentences(self) -> int:
        return int(self.starts.size - 1)

    def sentences(self) -> list[np.ndarray]:
        return [self.ids[a:b] for a, b in itertools.pairwise(self.starts)]

    def drop_sentences(self, mask: np.ndarray) -> Corpus:
        """The corpus without the sentences where ``mask`` is True (vocabulary kept,
        counts recounted)."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.num_sentences,):
            raise InputError(f"mask needs one entry per sentence ({self.num_sentences})")
        lengths = np.diff(self.starts)
        keep_tok = np.repeat(~mask, lengths)
        ids = self.ids[keep_tok]
        starts = np.concatenate([[0], np.cumsum(lengths[~mask])]).astype(np.int64)
        counts = np.bincount(ids, minlength=len(self.vocab)).astype(np.int64)
        return Corpus(ids, starts, Vocabulary(self.vocab.words, counts))


def _check_positive_int(value, name: str, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(f"{name} must be an integer >= 1; got {value!r}; {hint}")
    return int(value)


def build_corpus(
    sentences: Iterable[Sequence[str]],
    *,
    max_vocab: int | None = None,
    min_count: int = 1,
    keep: Iterable[str] = (),
) -> Corpus:
    """Encode token lists with a frequency-ordered vocabulary; OOV tokens are deleted.

    Args:
        sentences: token lists (e.g. :func:`split_sentences` of a text).
        max_vocab: keep the most frequent words only (``None``: all).
        min_count: minimum count of a kept word.
        keep: words kept in the vocabulary whatever their rank (if they occur), e.g.
            the month names or the words of an analogy benchmark.

    Raises:
        InputError: no tokens at all, or a cutoff out of range.
    """
    if max_vocab is not None:
        max_vocab = _check_positive_int(max_vocab, "max_vocab", "use None to keep every word")
    min_count = _check_positive_int(min_count, "min_count", "1 keeps every word")
    sentences = [list(s) for s in sentences]
    counts = Counter(itertools.chain.from_iterable(sentences))
    if not counts:
        raise InputError(
            "the corpus is empty: no word tokens were found; give a text with words in it"
        )
    ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    if max_vocab is not None:
        chosen = set(ranked[:max_vocab]) | {w for w in keep if w in counts}
        ranked = sorted(chosen, key=lambda w: (-counts[w], w))
    if not ranked:
        raise InputError(f"no word occurs at least min_count={min_count} times; lower min_count")
    index = {w: i for i, w in enumerate(ranked)}
    pieces, lengths = [], []
    for s in sentences:
        enc = [index[t] for t in s if t in index]
        if enc:
            pieces.append(enc)
            lengths.append(len(enc))
    ids = np.fromiter(itertools.chain.from_iterable(pieces), dtype=np.int64, count=sum(lengths))
    starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)
    vocab = Vocabulary(tuple(ranked), np.bincount(ids, minlength=len(ranked)).astype(np.int64))
    return Corpus(ids, starts, vocab)


def distance_weights(window: int, weighting: str = "linear") -> np.ndarray:
    """``weight(k)`` for k = 1..window (see the module docstring)."""
    window = _check_positive_int(
        window, "window", "the co-occurrence window counts neighbours on each side, e.g. 5"
    )
    k = np.arange(1, window + 1, dtype=np.float64)
    if weighting == "linear":
        return window + 1.0 - k
    if weighting == "uniform":
        return np.ones_like(k)
    if weighting == "harmonic":
        return 1.0 / k
    raise InputError(f"weighting must be one of {WEIGHTINGS}; got {weighting!r}")


def cooccurrence(
    corpus: Corpus,
    window: int,
    weighting: str = "linear",
    *,
    chunk_tokens: int = 1 << 20,
) -> sp.csr_matrix:
    """Symmetric weighted co-occurrence counts C (V x V, float64 CSR).

    Streams over chunks of whole sentences of about ``chunk_tokens`` tokens; each chunk
    costs O(chunk_tokens * window) numpy work and memory, and the chunks' sparse counts
    are summed. ``C.sum() = 2 sum_k weight(k) * #(pairs at distance k)``.
    """
    w = distance_weights(window, weighting)
    if not isinstance(corpus, Corpus):
        raise InputError(f"cooccurrence expects a Corpus; got {type(corpus).__name__}")
    if corpus.num_tokens == 0:
        raise InputError("the corpus is empty: no in-vocabulary tokens to count")
    chunk_tokens = _check_positive_int(chunk_tokens, "chunk_tokens", "e.g. 1048576")
    V = len(corpus.vocab)
    check_allocation(
        40 * min(corpus.num_tokens, chunk_tokens + 1) * len(w),
        f"co-occurrence of a chunk of {chunk_tokens} tokens with window {window}",
        "use a smaller chunk_tokens or window",
    )
    lengths = np.diff(corpus.starts)
    sent_of = np.repeat(np.arange(lengths.size, dtype=np.int64), lengths)
    total = sp.csr_matrix((V, V), dtype=np.float64)
    # chunk boundaries at sentence starts
    bounds = [0]
    for s in corpus.starts[1:-1]:
        if s - bounds[-1] >= chunk_tokens:
            bounds.append(int(s))
    bounds.append(corpus.num_tokens)
    for a, b in itertools.pairwise(bounds):
        ids, sid = corpus.ids[a:b], sent_of[a:b]
        rows, cols, vals = [], [], []
        for k in range(1, min(len(w), ids.size - 1) + 1):
            same = sid[:-k] == sid[k:]
            rows.append(ids[:-k][same])
            cols.append(ids[k:][same])
            vals.append(np.full(rows[-1].size, w[k - 1]))
        if not rows:
            continue
        r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
        half = sp.coo_matrix((v, (r, c)), shape=(V, V)).tocsr()
        total = total + half + half.T
    total = total.tocsr()
    total.sum_duplicates()
    return total


def unigram(corpus: Corpus) -> np.ndarray:
    """P_i = count_i / total over the vocabulary (float64)."""
    counts = corpus.vocab.counts.astype(np.float64)
    if counts.sum() <= 0:
        raise InputError("the corpus is empty: no in-vocabulary tokens")
    return counts / counts.sum()


def pair_distribution(counts: sp.spmatrix | np.ndarray) -> np.ndarray:
    """P_ij = C_ij / sum C as a dense float64 array (V x V)."""
    V = counts.shape[0]
    check_allocation(
        8 * V * V, f"the dense {V} x {V} pair distribution", "use a smaller vocabulary"
    )
    dense = counts.toarray() if sp.issparse(counts) else np.asarray(counts, dtype=np.float64)
    total = dense.sum()
    if not total > 0:
        raise InputError(
            "no co-occurring pairs were counted (every sentence has a single in-vocabulary "
            "token); use longer sentences, a larger vocabulary or a larger window"
        )
    return dense / total


# --------------------------------------------------------------------------- gensim texts

_GENSIM_HINT = (
    "install gensim (`pip install gensim`): its wheel ships the texts under gensim/test/test_data/"
)
_GENSIM_FILES = {
    "lee_background": "lee_background.cor",
    "lee": "lee.cor",
    "enwiki": "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
    "head500": "head500.noblanks.cor",
    "questions-words": "questions-words.txt",
}


def gensim_data_dir() -> Path:
    """``gensim/test/test_data`` of the installed gensim, found without importing gensim."""
    try:
        spec = importlib.util.find_spec("gensim")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailableError(f"gensim is not installed; {_GENSIM_HINT}")
    for loc in spec.submodule_search_locations:
        d = Path(loc) / "test" / "test_data"
        if d.is_dir():
            return d
    raise DataUnavailableError(f"gensim is installed without its test data; {_GENSIM_HINT}")


def gensim_file(name: str) -> Path:
    """Path of a bundled text: one of ``lee_background``, ``lee``, ``enwiki``,
    ``head500``, ``questions-words`` (or a file name in the test-data folder)."""
    fname = _GENSIM_FILES.get(name, name)
    p = gensim_data_dir() / fname
    if not p.is_file():
        raise DataUnavailableError(
            f"{fname} is not in {p.parent}; known texts: {sorted(_GENSIM_FILES)}; {_GENSIM_HINT}"
        )
    return p


_WIKI_TEXT = re.compile(r"<text[^>]*>(.*?)</text>", re.S)
_WIKI_SUBS = [
    (re.compile(r"<!--.*?-->", re.S), " "),
    (re.compile(r"<ref[^>]*/>|<ref[^>]*>.*?</ref>", re.S | re.I), " "),
    (re.compile(r"\{\|.*?\|\}", re.S), " "),  # tables
    (re.compile(r"\[\[(?:File|Image|Category):[^\[\]]*(?:\[\[[^\]]*\]\][^\[\]]*)*\]\]", re.I), " "),
    (re.compile(r"\[\[[^\]|]*\|([^\]]*)\]\]"), r"\1"),
    (re.compile(r"\[\[([^\]]*)\]\]"), r"\1"),
    (re.compile(r"\[https?://[^\s\]]*\s*([^\]]*)\]"), r"\1"),
    (re.compile(r"https?://\S+"), " "),
    (re.compile(r"<[^>]+>"), " "),
    (re.compile(r"'{2,}|={2,}"), " "),
]
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")


def _strip_wiki(markup: str) -> str:
    text = html.unescape(markup)
    for _ in range(8):  # nested templates, innermost first
        text, n = _TEMPLATE.subn(" ", text)
        if not n:
            break
    for pat, rep in _WIKI_SUBS:
        text = pat.sub(rep, text)
    return text


@functools.lru_cache(maxsize=8)
def _gensim_sentences(name: str) -> tuple[tuple[str, ...], ...]:
    p = gensim_file(name)
    if name == "enwiki":
        xml = bz2.decompress(p.read_bytes()).decode("utf-8")
        text = "\n".join(_strip_wiki(m) for m in _WIKI_TEXT.findall(xml))
    else:
        raw = p.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:  # lee.cor is Latin-1 (a pound sign)
            text = raw.decode("latin-1")
    return tuple(tuple(s) for s in split_sentences(text))


def gensim_corpus(
    names: str | Sequence[str] = "lee_background",
    *,
    max_vocab: int | None = None,
    min_count: int = 1,
    keep: Iterable[str] = (),
) -> Corpus:
    """A corpus of bundled texts (``"enwiki"``: 206 early Wikipedia articles, markup
    stripped, ~0.5M tokens; ``"lee_background"``: 299 news documents, ~60k tokens;
    several names are concatenated). Offline: reads files of the installed gensim."""
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise InputError("gensim_corpus needs at least one text name")
    sentences = itertools.chain.from_iterable(_gensim_sentences(n) for n in names)
    return build_corpus(sentences, max_vocab=max_vocab, min_count=min_count, keep=keep)


# --------------------------------------------------------------------------- user files


def read_text(path: str | os.PathLike) -> str:
    """The content of a UTF-8 text file.

    Raises:
        DataUnavailableError: the file does not exist.
        InputError: a directory, an empty file, or a binary file (a NUL byte in its first
            64 KiB, or bytes that are not UTF-8).
    """
    try:
        p = Path(path).expanduser()
        exists, is_file = p.exists(), p.is_file()
    except TypeError:
        raise InputError(
            f"text path must be a str or os.PathLike; got {type(path).__name__}"
        ) from None
    except (OSError, ValueError) as err:
        raise InputError(f"text path {str(path)[:200]!r} is not usable ({err})") from None
    if not exists:
        raise DataUnavailableError(f"text file {p} does not exist; check the path")
    if not is_file:
        raise InputError(f"{p} is not a regular file; give a UTF-8 text file")
    size = p.stat().st_size
    check_allocation(12 * size, f"{p}: reading and tokenizing this text", "split the file")
    if size == 0:
        raise InputError(f"{p} is empty (0 bytes): the corpus has no words; give a text file")
    try:
        data = p.read_bytes()
    except OSError as err:
        raise InputError(f"{p}: cannot be read ({err.strerror or err})") from None
    if b"\0" in data[: 1 << 16]:
        raise InputError(
            f"{p} looks like a binary file (a NUL byte at offset {data.index(0)}), not text; "
            "give a UTF-8 text file"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{p} is not UTF-8 text (byte {data[err.start]:#04x} at offset {err.start}); "
            "a binary file cannot be read as text: re-encode it as UTF-8"
        ) from None


def text_file_corpus(
    path: str | os.PathLike,
    *,
    max_vocab: int | None = None,
    min_count: int = 1,
    keep: Iterable[str] = (),
) -> Corpus:
    """A user's UTF-8 text file as a :class:`Corpus` (sentences per :func:`split_sentences`)."""
    text = read_text(path)
    sentences = split_sentences(text)
    if not sentences:
        raise InputError(f"{path}: the corpus is empty: no word tokens found in the file")
    return build_corpus(sentences, max_vocab=max_vocab, min_count=min_count, keep=keep)


# --------------------------------------------------------------------------- synthetic


def _von_mises_rows(angles: np.ndarray, theta: np.ndarray, kappa: float) -> np.ndarray:
    """p(word | theta) proportional to exp(kappa cos(theta - angle)), rows = theta."""
    logits = kappa * np.cos(theta[:, None] - angles[None, :])
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def _cyclic_emission(
    theta: np.ndarray,
    n_cycle: int,
    n_context: int,
    n_filler: int,
    kappa: float,
    cycle_rate: float,
    context_rate: float,
) -> np.ndarray:
    """p(word | theta) over [cycle words, context words, filler words], rows = theta."""
    cyc = _von_mises_rows(2 * np.pi * np.arange(n_cycle) / n_cycle, theta, kappa)
    ctx = _von_mises_rows(2 * np.pi * np.arange(n_context) / max(n_context, 1), theta, kappa)
    filler_rate = 1.0 - cycle_rate - context_rate
    parts = [cycle_rate * cyc]
    if n_context:
        parts.append(context_rate * ctx)
    if n_filler:
        parts.append(np.full((theta.size, n_filler), filler_rate / n_filler))
    return np.concatenate(parts, axis=1)


def _cyclic_words(n_cycle: int, n_context: int, n_filler: int) -> list[str]:
    cycle = list(MONTHS) if n_cycle == 12 else [f"c{m:02d}" for m in range(n_cycle)]
    return (
        cycle
        + [f"ctx{c:03d}" for c in range(n_context)]
        + [f"fill{f:03d}" for f in range(n_filler)]
    )


def _check_cyclic(n_cycle, n_context, n_filler, kappa, cycle_rate, context_rate):
    if n_cycle < 3:
        raise InputError(f"n_cycle must be >= 3 for a circle; got {n_cycle}")
    if n_context < 0 or n_filler < 0:
        raise InputError("n_context and n_filler must be >= 0")
    if not kappa > 0:
        raise InputError(f"kappa (concentration) must be > 0; got {kappa}")
    filler = 1.0 - cycle_rate - context_rate
    if not (0 < cycle_rate <= 1 and 0 <= context_rate < 1 and filler >= -1e-12):
        raise InputError(
            f"cycle_rate + context_rate must be <= 1 with cycle_rate > 0; got {cycle_rate}, {context_rate}"
        )
    if filler > 1e-12 and n_filler == 0:
        raise InputError("cycle_rate + context_rate < 1 needs n_filler >= 1 filler words")
    if context_rate > 0 and n_context == 0:
        raise InputError("context_rate > 0 needs n_context >= 1 context words")


def cyclic_corpus(
    seed: int,
    *,
    n_sentences: int,
    sentence_length: int,
    n_cycle: int = 12,
    n_context: int = 24,
    n_filler: int = 40,
    kappa: float = 2.0,
    cycle_rate: float = 0.2,
    context_rate: float = 0.4,
) -> Corpus:
    """A translation-symmetric corpus: each sentence draws a latent time of year
    theta ~ U(0, 2 pi); each token is, independently given theta, a cycle word ("month"
    m, preferred angle 2 pi m / n_cycle) with probability ``cycle_rate``, a context word
    (angles 2 pi c / n_context) with probability ``context_rate``, else a filler word
    (uniform, independent of theta); within its class a word has probability
    proportional to exp(kappa cos(theta - angle)). The population statistics are
    :func:`cyclic_statistics`."""
    _check_cyclic(n_cycle, n_context, n_filler, kappa, cycle_rate, context_rate)
    n_sentences = _check_positive_int(n_sentences, "n_sentences", "e.g. 20000")
    sentence_length = _check_positive_int(sentence_length, "sentence_length", "e.g. 10")
    check_allocation(
        8 * n_sentences * sentence_length * 3, "the synthetic cyclic corpus", "use fewer sentences"
    )
    g = rng(seed, "cyclic-corpus")
    words = _cyclic_words(n_cycle, n_context, n_filler)
    theta = g.uniform(0, 2 * np.pi, n_sentences)
    # token class, then the word within its class by inverse-CDF sampling
    cls = g.choice(
        3,
        size=(n_sentences, sentence_length),
        p=[cycle_rate, context_rate, max(0.0, 1 - cycle_rate - context_rate)],
    )
    ids = np.empty((n_sentences, sentence_length), dtype=np.int64)
    u = g.random((n_sentences, sentence_length))
    for c, (n, offset) in enumerate(
        ((n_cycle, 0), (n_context, n_cycle), (n_filler, n_cycle + n_context))
    ):
        mask = cls == c
        if not mask.any():
            continue
        if c == 2:
            ids[mask] = offset + np.minimum((u[mask] * n).astype(np.int64), n - 1)
            continue
        rows = np.nonzero(mask)[0]
        cdf = np.cumsum(_von_mises_rows(2 * np.pi * np.arange(n) / n, theta[rows], kappa), axis=1)
        ids[mask] = offset + np.minimum((cdf < u[mask][:, None]).sum(axis=1), n - 1)
    return _synthetic_corpus(ids, words)


def _synthetic_corpus(ids: np.ndarray, words: list[str]) -> Corpus:
    """A corpus from a (sentences, length) id array in the generator's word order,
    re-encoded with a frequency-ordered vocabulary of the words that occur."""
    counts = np.bincount(ids.ravel(), minlength=len(words))
    order = sorted(
        (i for i in range(len(words)) if counts[i] > 0), key=lambda i: (-counts[i], words[i])
    )
    remap = np.full(len(words), -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    flat = remap[ids.ravel()]
    starts = np.arange(0, flat.size + 1, ids.shape[1], dtype=np.int64)
    vocab = Vocabulary(tuple(words[i] for i in order), counts[order].astype(np.int64))
    return Corpus(flat, starts, vocab)


def cyclic_statistics(
    *,
    n_cycle: int = 12,
    n_context: int = 24,
    n_filler: int = 40,
    kappa: float = 2.0,
    cycle_rate: float = 0.2,
    context_rate: float = 0.4,
    quadrature: int = 512,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(words, P_ij, P_i)``: the exact population statistics of :func:`cyclic_corpus`.

    Tokens of a sentence are i.i.d. given theta, so every pair of positions has the same
    joint law P_ij = E_theta[p(i|theta) p(j|theta)] whatever the window weighting (the
    expectation is a periodic integral; the trapezoid rule with ``quadrature`` nodes is
    exact to machine precision for these analytic integrands)."""
    _check_cyclic(n_cycle, n_context, n_filler, kappa, cycle_rate, context_rate)
    theta = 2 * np.pi * np.arange(quadrature) / quadrature
    E = _cyclic_emission(theta, n_cycle, n_context, n_filler, kappa, cycle_rate, context_rate)
    P = E.T @ E / quadrature
    return _cyclic_words(n_cycle, n_context, n_filler), P, E.mean(axis=0)


def _attribute_words(n_attributes: int) -> tuple[list[str], np.ndarray]:
    bits = (np.arange(2**n_attributes)[:, None] >> np.arange(n_attributes)[None, ::-1]) & 1
    return ["w" + "".join(map(str, b)) for b in bits], bits.astype(np.int64)


def _check_fidelities(fidelities) -> np.ndarray:
    p = np.asarray(fidelities, dtype=np.float64)
    if p.ndim != 1 or p.size < 1 or p.size > 12:
        raise InputError(f"fidelities needs 1..12 entries (one per attribute); got {p.size}")
    if not np.all((p > 0.5) & (p < 1.0)):
        raise InputError(f"every fidelity must be in (0.5, 1); got {p.tolist()}")
    return p


def attribute_corpus(
    seed: int, fidelities: Sequence[float], *, n_sentences: int, sentence_length: int
) -> Corpus:
    """Binary-attribute corpus (Korchinski et al. 2025, Sec. 3): the words are all 2^K
    attribute vectors x in {0,1}^K (named ``w0110...``); each sentence draws a latent
    z ~ U({0,1}^K) and each token independently copies attribute a of z with probability
    ``fidelities[a]`` (else flips it). Co-occurrence then factorizes over attributes;
    see :func:`attribute_statistics`."""
    p = _check_fidelities(fidelities)
    n_sentences = _check_positive_int(n_sentences, "n_sentences", "e.g. 20000")
    sentence_length = _check_positive_int(sentence_length, "sentence_length", "e.g. 10")
    K = p.size
    check_allocation(
        8 * n_sentences * sentence_length * (K + 2), "the attribute corpus", "use fewer sentences"
    )
    g = rng(seed, "attribute-corpus")
    z = g.integers(0, 2, size=(n_sentences, 1, K))
    flip = g.random((n_sentences, sentence_length, K)) >= p
    x = z ^ flip
    ids = (x * (1 << np.arange(K)[::-1])).sum(axis=2).astype(np.int64)
    words, _ = _attribute_words(K)
    return _synthetic_corpus(ids, words)


def attribute_statistics(
    fidelities: Sequence[float],
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """``(words, P_ij, P_i, bits)`` of :func:`attribute_corpus`, exactly: P_i = 2^-K and
    P_ij = prod_a [ (p_a^2 + (1 - p_a)^2) / 2 if x_ia = x_ja else p_a (1 - p_a) ],
    so M = P_ij / (P_i P_j) is the Kronecker product of the 2 x 2 matrices
    [[2(p^2 + (1-p)^2), 4p(1-p)], [4p(1-p), 2(p^2 + (1-p)^2)]]."""
    p = _check_fidelities(fidelities)
    words, bits = _attribute_words(p.size)
    same = bits[:, None, :] == bits[None, :, :]
    factors = np.where(same, (p**2 + (1 - p) ** 2) / 2, p * (1 - p))
    P = factors.prod(axis=2)
    return words, P, np.full(len(words), 2.0**-p.size), bits


def attribute_questions(n_attributes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(questions, attribute)``: every analogy a : b :: c : d of the attribute model,
    as word ids in the order of :func:`attribute_statistics` (Q x 4), and the attribute
    each one flips. b (d) is a (c) with attribute k switched on; a != c."""
    if (
        isinstance(n_attributes, bool)
        or not isinstance(n_attributes, (int, np.integer))
        or not 1 <= n_attributes <= 12
    ):
        raise InputError(f"n_attributes must be an integer in 1..12; got {n_attributes!r}")
    K = int(n_attributes)
    _, bits = _attribute_words(K)
    qs, which = [], []
    for k in range(K):
        flip = 1 << (K - 1 - k)
        base = np.nonzero(bits[:, k] == 0)[0]
        for a in base:
            for c in base:
                if a != c:
                    qs.append((a, a ^ flip, c, c ^ flip))
                    which.append(k)
    return np.asarray(qs, dtype=np.int64).reshape(-1, 4), np.asarray(which, dtype=np.int64)
