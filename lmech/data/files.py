"""Readers for data files a user supplies: MNIST IDX, CIFAR-10 pickles, ``.npy``/``.npz``, text.

lmech never downloads anything (DESIGN.md), so data that no package ships (full MNIST,
CIFAR-10, a corpus) come in as files. Each reader validates the file once, at this boundary:

- a path that does not exist raises :class:`~lmech.errors.DataUnavailableError` (a law whose
  data are missing is reported as *skipped*);
- a file that exists but is malformed raises :class:`~lmech.errors.InputError` naming the
  file and what was wrong with it.

Images come back as ``uint8`` with the spatial axes before the channel axis
(``(N, H, W)`` or ``(N, H, W, C)``); labels as ``int64``. Use
:func:`lmech.data.images.flatten_images` to get float64 features in ``[0, 1]``.
"""

from __future__ import annotations

import gzip
import os
import pickle
import re
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from lmech.errors import DataUnavailableError, InputError

__all__ = [
    "read_idx",
    "read_cifar10_batch",
    "load_cifar10",
    "load_array_file",
    "read_text_tokens",
    "tokens_to_ids",
    "CIFAR10_CLASSES",
]

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

_GZIP_MAGIC = b"\x1f\x8b"

# IDX type byte -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT")
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _existing_file(path: str | os.PathLike, what: str) -> Path:
    """``Path(path)`` if it is a file; DataUnavailableError if absent, InputError if a directory."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataUnavailableError(f"{what} file {p} does not exist; check the path")
    if not p.is_file():
        raise InputError(f"{what} path {p} is not a regular file (a directory?); pass the file")
    return p


def _read_maybe_gzip(p: Path) -> bytes:
    """File bytes, gunzipped when the file starts with the gzip magic (whatever its suffix)."""
    raw = p.read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        raise InputError(f"{p}: corrupt or truncated gzip stream ({err})") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST / Fashion-MNIST format), plain or gzip-compressed.

    Layout (all integers big-endian): two zero bytes, a type byte (0x08 uint8, 0x09 int8,
    0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), a byte ``d`` giving the number of
    dimensions, ``d`` uint32 sizes, then ``prod(sizes)`` values in C order. A gzip stream is
    detected by its magic bytes, so ``train-images-idx3-ubyte``, ``*.gz`` and ``*.idx`` all
    work.

    Args:
      path: the ``.idx`` / ``-ubyte`` file, optionally ``.gz``.

    Returns:
      Array of shape ``sizes`` in native byte order with the file's dtype (``uint8`` for
      MNIST images ``(N, 28, 28)`` and labels ``(N,)``).

    Raises:
      DataUnavailableError: the file does not exist.
      InputError: bad magic number, unknown type byte, or a payload whose length does not
        match the header.

    References:
      LeCun, Cortes & Burges, "The MNIST database", section "THE IDX FILE FORMAT".
    """
    p = _existing_file(path, "IDX")
    buf = _read_maybe_gzip(p)
    if len(buf) < 4:
        raise InputError(f"{p}: {len(buf)} bytes is too short for an IDX header (needs >= 4)")
    if buf[0] != 0 or buf[1] != 0:
        raise InputError(
            f"{p}: bad IDX magic number {buf[:4].hex()}; expected 0000 followed by a type "
            "byte and a dimension count (is this an IDX file?)"
        )
    code, ndim = buf[2], buf[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise InputError(f"{p}: unknown IDX type byte 0x{code:02X}; expected one of {known}")
    if ndim == 0:
        raise InputError(f"{p}: IDX header declares 0 dimensions; expected at least 1")
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise InputError(
            f"{p}: truncated IDX header: {ndim} dimensions need {header} bytes, file has {len(buf)}"
        )
    shape = tuple(int(s) for s in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(buf) - header
    if got != expected:
        kind = "truncated" if got < expected else "trailing bytes in"
        raise InputError(
            f"{p}: {kind} IDX payload: header says shape {shape} of {dtype.name} "
            f"= {expected} bytes, file has {got}"
        )
    # frombuffer is read-only and big-endian; copy to a writable native-order array
    return (
        np.frombuffer(buf, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler that builds only numpy arrays and builtins, never arbitrary callables.

    A pickle can run any code on load; the official CIFAR batches need only these globals
    (protocol 2 from Python 2's cPickle, or a pickle.dump from numpy 1.x / 2.x).
    """

    _ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.numeric", "_frombuffer"),
            ("numpy._core.numeric", "_frombuffer"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("_codecs", "encode"),  # how Python 3 writes bytes at protocol <= 2
        }
    )

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return super().find_class(module, name)


def _get(d: dict, key: str):
    """``d[key]`` for either bytes keys (official, Python 2 pickles) or str keys."""
    if key.encode() in d:
        return d[key.encode()]
    return d.get(key)


def read_cifar10_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 "python version" batch (``data_batch_1`` ... ``test_batch``).

    The file is a pickled dict with ``b"data"``: uint8 ``(N, 3072)``, each row the 1024 red,
    then 1024 green, then 1024 blue values of a 32x32 image in row-major order, and
    ``b"labels"``: N ints in 0..9 (:data:`CIFAR10_CLASSES`).

    Returns:
      ``(X, y)``: X uint8 ``(N, 32, 32, 3)`` (height, width, channel: the layout of
      matplotlib and of the Fashion-MNIST loader, channel last); y int64 ``(N,)``.
      For PyTorch's ``(N, 3, 32, 32)`` use ``X.transpose(0, 3, 1, 2)``.

    Raises:
      DataUnavailableError: the file does not exist.
      InputError: not a pickle of that layout (wrong keys, shape, dtype or label range), or
        a pickle that asks to build anything besides numpy arrays and builtins.

    References:
      Krizhevsky, "Learning Multiple Layers of Features from Tiny Images" (2009);
      https://www.cs.toronto.edu/~kriz/cifar.html, "Dataset layout".
    """
    p = _existing_file(path, "CIFAR-10 batch")
    try:
        with p.open("rb") as fh:
            # encoding="bytes": the official batches were written by Python 2's cPickle
            d = _CifarUnpickler(fh, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise InputError(
            f"{p}: not a CIFAR-10 python batch ({type(err).__name__}: {err})"
        ) from None
    if not isinstance(d, dict):
        raise InputError(
            f"{p}: expected a pickled dict with b'data' and b'labels', got {type(d).__name__}"
        )
    data, labels = _get(d, "data"), _get(d, "labels")
    if data is None or labels is None:
        keys = sorted(k.decode() if isinstance(k, bytes) else str(k) for k in d)
        hint = " (CIFAR-100 files have fine_labels; not supported)" if "fine_labels" in keys else ""
        raise InputError(f"{p}: expected keys 'data' and 'labels', found {keys}{hint}")
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3072
    ):
        desc = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise InputError(f"{p}: 'data' should be uint8 of shape (N, 3072), got {desc}")
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        raise InputError(
            f"{p}: 'labels' should be a list of ints, got {type(labels).__name__}"
        ) from None
    if y.shape != (data.shape[0],):
        raise InputError(f"{p}: {data.shape[0]} images but 'labels' has shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise InputError(f"{p}: labels should lie in 0..9, got range {y.min()}..{y.max()}")
    # row = [R(32x32) | G(32x32) | B(32x32)] -> (N, 3, 32, 32) -> (N, 32, 32, 3)
    X = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return X, y


_CIFAR_HOWTO = (
    "CIFAR-10 is not packaged for offline use: download cifar-10-python.tar.gz from "
    "https://www.cs.toronto.edu/~kriz/cifar.html, extract it, and pass the "
    "cifar-10-batches-py directory as root= or set LMECH_CIFAR10 to it"
)


def load_cifar10(
    root: str | os.PathLike | None = None, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Load CIFAR-10 from an extracted ``cifar-10-batches-py/`` directory.

    Args:
      root: the ``cifar-10-batches-py`` directory, or a directory containing it. ``None``
        reads the environment variable ``LMECH_CIFAR10``.
      split: ``"train"`` (``data_batch_1`` .. ``data_batch_5``, 50,000 images, in that
        order) or ``"test"`` (``test_batch``, 10,000 images).

    Returns:
      ``(X, y)``: X uint8 ``(N, 32, 32, 3)``, y int64 ``(N,)``; see :func:`read_cifar10_batch`.

    Raises:
      DataUnavailableError: no root given, or the directory or a batch file is missing.
      InputError: unknown split, or a malformed batch.
    """
    if split not in ("train", "test"):
        raise InputError(f"split should be 'train' or 'test', got {split!r}")
    if root is None:
        root = os.environ.get("LMECH_CIFAR10")
        if not root:
            raise DataUnavailableError(_CIFAR_HOWTO)
    d = Path(root).expanduser()
    if (d / "cifar-10-batches-py").is_dir():
        d = d / "cifar-10-batches-py"
    if not d.is_dir():
        raise DataUnavailableError(f"CIFAR-10 directory {d} does not exist; {_CIFAR_HOWTO}")
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    missing = [n for n in names if not (d / n).is_file()]
    if missing:
        raise DataUnavailableError(
            f"CIFAR-10 directory {d} lacks {', '.join(missing)}; {_CIFAR_HOWTO}"
        )
    parts = [read_cifar10_batch(d / n) for n in names]
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


def _npz_array(f, p: Path, key: str, role: str) -> np.ndarray:
    if key not in f.files:
        raise InputError(
            f"{p}: no array {key!r} for {role}; the file holds {sorted(f.files)} "
            f"(choose with {role}_key=...)"
        )
    return f[key]


def load_array_file(
    path: str | os.PathLike, x_key: str = "X", y_key: str | None = "y"
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load arrays from a ``.npy`` or ``.npz`` file, refusing pickled object arrays.

    The format is detected from the file's magic bytes (``\\x93NUMPY`` or a zip archive).

    Args:
      path: the file.
      x_key: name of the inputs array in an ``.npz``.
      y_key: name of the targets array in an ``.npz``; ``None`` to load inputs only.

    Returns:
      ``(X, y)``. For ``.npy`` the file's single array and ``None``; for ``.npz``
      ``f[x_key]`` and ``f[y_key]`` (or ``None`` when ``y_key is None``), with
      ``len(X) == len(y)`` checked.

    Raises:
      DataUnavailableError: the file does not exist.
      InputError: not an npy/npz file, a key that is not in the archive, mismatched lengths,
        or an object array (loading one would unpickle arbitrary code: ``allow_pickle=False``).
    """
    p = _existing_file(path, "array")
    # open the file here: np.load(path) leaks its handle when the zip directory is corrupt
    with p.open("rb") as fh:
        magic = fh.read(6)
        fh.seek(0)
        try:
            if magic.startswith(b"\x93NUMPY"):
                return np.load(fh, allow_pickle=False), None
            if not magic.startswith(b"PK"):
                raise InputError(f"{p}: not a .npy or .npz file (magic bytes {magic!r})")
            with np.load(fh, allow_pickle=False) as f:
                X = _npz_array(f, p, x_key, "x")
                y = None if y_key is None else _npz_array(f, p, y_key, "y")
        except ValueError as err:
            if "allow_pickle" in str(err):
                raise InputError(
                    f"{p}: holds an object array, which lmech refuses to unpickle; save plain "
                    "numeric arrays (np.save / np.savez with non-object dtypes)"
                ) from None
            raise InputError(f"{p}: malformed numpy file ({err})") from None
        except (OSError, EOFError, zipfile.BadZipFile) as err:
            raise InputError(f"{p}: malformed numpy file ({type(err).__name__}: {err})") from None
    if y is not None and (X.ndim == 0 or y.ndim == 0 or len(X) != len(y)):
        raise InputError(
            f"{p}: {x_key!r} has shape {X.shape} and {y_key!r} has shape {y.shape}; "
            "expected the same length along axis 0"
        )
    return X, y


# a token: a run of letters/digits, possibly joined by apostrophes ("don't", "o'clock")
_TOKEN_RE = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


def read_text_tokens(
    path: str | os.PathLike,
    *,
    lowercase: bool = True,
    max_vocab: int | None = None,
    min_count: int = 1,
    unknown: str | None = None,
) -> list[str]:
    """Tokenize a UTF-8 text file into a list of words.

    Tokenizer: lowercase the text (unless ``lowercase=False``), then take every maximal
    run of Unicode letters and digits, allowing internal apostrophes (``'`` or ``\u2019``);
    everything else (punctuation, underscores, whitespace, markup) separates tokens.
    ``"Don't stop_now, 42!"`` -> ``["don't", "stop", "now", "42"]``.

    Vocabulary cutoff (optional): keep words seen at least ``min_count`` times, and of those
    the ``max_vocab`` most frequent (ties broken alphabetically, so the result is
    deterministic). Tokens outside the vocabulary are dropped, or replaced by ``unknown``
    when it is given (e.g. ``"<unk>"``).

    Args:
      path: a UTF-8 (optionally BOM-prefixed) text file.
      lowercase: lowercase before tokenizing.
      max_vocab: keep only the most frequent words; ``None`` keeps all.
      min_count: minimum count of a kept word (>= 1).
      unknown: replacement for out-of-vocabulary tokens; ``None`` drops them.

    Returns:
      The tokens in text order. Use :func:`tokens_to_ids` for an int64 array.

    Raises:
      DataUnavailableError: the file does not exist.
      InputError: the file is not valid UTF-8, or a cutoff is out of range.
    """
    if max_vocab is not None and (
        isinstance(max_vocab, bool) or int(max_vocab) != max_vocab or max_vocab < 1
    ):
        raise InputError(f"max_vocab should be a positive integer or None, got {max_vocab!r}")
    if isinstance(min_count, bool) or int(min_count) != min_count or min_count < 1:
        raise InputError(f"min_count should be an integer >= 1, got {min_count!r}")
    p = _existing_file(path, "text")
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{p}: not valid UTF-8 (byte {err.object[err.start]:#04x} at offset {err.start}); "
            "re-encode the file as UTF-8"
        ) from None
    if lowercase:
        text = text.lower()
    tokens = _TOKEN_RE.findall(text)
    if max_vocab is None and min_count == 1:
        return tokens
    counts = Counter(tokens)
    ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    vocab = set(ranked if max_vocab is None else ranked[: int(max_vocab)])
    if unknown is None:
        return [t for t in tokens if t in vocab]
    return [t if t in vocab else unknown for t in tokens]


def tokens_to_ids(tokens: list[str]) -> tuple[np.ndarray, list[str]]:
    """Integer-encode tokens: ``(ids int64 (T,), vocab)`` with ``vocab[ids[t]] == tokens[t]``.

    ``vocab`` is ordered by decreasing count, ties alphabetically, so id 0 is the most
    frequent word (the order word2vec-style subsampling and unigram tables expect).
    """
    counts = Counter(tokens)
    vocab = sorted(counts, key=lambda w: (-counts[w], w))
    index = {w: i for i, w in enumerate(vocab)}
    return np.fromiter((index[t] for t in tokens), dtype=np.int64, count=len(tokens)), vocab
