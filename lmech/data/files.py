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
import io
import math
import numbers
import os
import pickle
import pickletools
import re
import struct
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from lmech._memory import check_allocation
from lmech.errors import DataUnavailableError, InputError

__all__ = [
    "read_idx",
    "read_cifar10_batch",
    "load_cifar10",
    "load_array_file",
    "array_file_keys",
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
    try:
        p = Path(path).expanduser()
        if "\0" in str(p):
            raise ValueError("embedded null byte")
        exists, is_file = p.exists(), p.is_file()
    except TypeError:
        raise InputError(
            f"{what} path must be a str or os.PathLike; got {type(path).__name__}"
        ) from None
    except (OSError, ValueError) as err:  # a NUL byte, a name too long for the file system
        raise InputError(f"{what} path {str(path)[:200]!r} is not a usable path ({err})") from None
    if not exists:
        raise DataUnavailableError(f"{what} file {p} does not exist; check the path")
    if not is_file:
        raise InputError(f"{what} path {p} is not a regular file (a directory?); pass the file")
    return p


def _open(p: Path):
    """``p`` opened for reading, or an InputError saying why it cannot be."""
    try:
        return p.open("rb")
    except OSError as err:
        raise InputError(
            f"{p}: cannot be opened for reading ({err.strerror or type(err).__name__}); "
            "check its permissions"
        ) from None


def _read_upto(stream, n: int) -> bytes:
    """Up to ``n`` bytes of ``stream`` (fewer only at its end), read in bounded pieces."""
    parts, left = [], n
    while left > 0:
        piece = stream.read(min(left, 1 << 24))
        if not piece:
            break
        parts.append(piece)
        left -= len(piece)
    return b"".join(parts)


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
    with _open(p) as fh:
        compressed = fh.read(2) == _GZIP_MAGIC
        fh.seek(0)
        if not compressed:
            return _read_idx_stream(fh, p, p.stat().st_size)
        try:
            with gzip.GzipFile(fileobj=fh) as gz:
                return _read_idx_stream(gz, p, None)
        except (OSError, EOFError, zlib.error) as err:
            raise InputError(
                f"{p}: corrupt or truncated gzip stream ({type(err).__name__}: {err}); expected "
                "an IDX file, plain or gzip-compressed; download it again"
            ) from None


def _read_idx_stream(stream, p: Path, size: int | None) -> np.ndarray:
    """The IDX array of ``stream``; ``size`` is the file's length when it is not gzipped.

    The payload's length is checked against the header before it is read (from the file
    size, or by reading at most one byte past the declared end of a gzip stream), and the
    declared size against the memory limit: a forged header allocates nothing.
    """
    head = _read_upto(stream, 4)
    if len(head) < 4:
        raise InputError(f"{p}: {len(head)} bytes is too short for an IDX header (needs >= 4)")
    if head[0] != 0 or head[1] != 0:
        raise InputError(
            f"{p}: bad IDX magic number {head.hex()}; expected 0000 followed by a type "
            "byte and a dimension count (is this an IDX file?)"
        )
    code, ndim = head[2], head[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise InputError(f"{p}: unknown IDX type byte 0x{code:02X}; expected one of {known}")
    if ndim == 0:
        raise InputError(f"{p}: IDX header declares 0 dimensions; expected at least 1")
    header = 4 + 4 * ndim
    dims = _read_upto(stream, 4 * ndim)
    if len(dims) < 4 * ndim:
        raise InputError(
            f"{p}: truncated IDX header: {ndim} dimensions need {header} bytes, file has "
            f"{4 + len(dims)}"
        )
    shape = struct.unpack(f">{ndim}I", dims)
    dtype = _IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if size is not None:
        got = size - header
    else:
        check_allocation(3 * expected, f"{p}: the IDX array of shape {shape}", "check the file")
        payload = _read_upto(stream, expected + 1)  # one byte more reveals trailing data
        got = len(payload)
    if got != expected:
        kind = "truncated" if got < expected else "trailing bytes in"
        more = "" if size is not None else " or more"
        raise InputError(
            f"{p}: {kind} IDX payload: header says shape {shape} of {dtype.name} "
            f"= {expected} bytes, file has {got}{more if got > expected else ''}"
        )
    if size is not None:
        check_allocation(3 * expected, f"{p}: the IDX array of shape {shape}", "check the file")
        payload = _read_upto(stream, expected)
        if len(payload) != expected:
            raise InputError(f"{p}: file shrank while being read; expected {expected} bytes")
    # frombuffer is read-only and big-endian; copy to a writable native-order array
    return np.frombuffer(payload, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


# -- CIFAR-10 python batches: a pickle decoded without numpy ---------------------------
#
# A pickle is a program: numpy's own reconstructors trust their arguments, and a batch built
# only from numpy.dtype (with a forged flags word), _reconstruct and ndarray corrupts memory.
# So nothing from numpy runs here. The stream is first scanned opcode by opcode (only plain
# data opcodes, named globals, REDUCE and BUILD; declared lengths within the file), then
# unpickled with find_class mapping the few globals a CIFAR batch names to the stand-ins
# below, which only record their arguments. Arrays are then built by lmech from raw bytes
# with np.frombuffer after their sizes are checked.

_PICKLE_OPCODES = frozenset(
    """PROTO FRAME STOP MARK POP POP_MARK DUP INT BININT BININT1 BININT2 LONG LONG1 LONG4
    FLOAT BINFLOAT NONE NEWTRUE NEWFALSE STRING BINSTRING SHORT_BINSTRING UNICODE
    SHORT_BINUNICODE BINUNICODE BINUNICODE8 BINBYTES SHORT_BINBYTES BINBYTES8 BYTEARRAY8
    EMPTY_DICT DICT SETITEM SETITEMS EMPTY_LIST LIST APPEND APPENDS EMPTY_TUPLE TUPLE TUPLE1
    TUPLE2 TUPLE3 EMPTY_SET ADDITEMS FROZENSET PUT BINPUT LONG_BINPUT MEMOIZE GET BINGET
    LONG_BINGET GLOBAL STACK_GLOBAL REDUCE BUILD""".split()
)
_MAX_MEMO = 1 << 20  # memo slots a batch may use (the C unpickler allocates up to the index)
# opcodes a batch may hold: an official one has about 40,000; each may build an object, so
# this bounds the unpickler's memory whatever the file asks for
_MAX_OPCODES = 4_000_000

# plain fixed-size numeric dtypes an array in a batch may have, by their numpy code
_PICKLE_DTYPES = frozenset("b1 u1 i1 u2 i2 u4 i4 u8 i8 f2 f4 f8".split())


class _Stub:
    """Base of the stand-ins: no instance dict, and state only through ``__setstate__``."""

    __slots__ = ()

    def __setstate__(self, state):
        raise pickle.UnpicklingError(f"{type(self).__name__} takes no state")


class _NdarrayClass(_Stub):
    """Stands for ``numpy.ndarray``, which a batch may only pass to ``_reconstruct``."""

    __slots__ = ()


_NDARRAY = _NdarrayClass()


class _DtypeSpec(_Stub):
    """A recorded ``numpy.dtype(code, align, copy)`` and its pickled state, validated."""

    __slots__ = ("code", "endian")

    def __init__(self, code: str):
        self.code = code
        self.endian = None

    def __setstate__(self, state):
        # numpy writes (3, endian, subarray, names, fields, elsize, alignment, flags); for a
        # plain numeric dtype everything but the byte order is fixed, and flags are 0
        if self.endian is not None:
            raise pickle.UnpicklingError("dtype state given twice")
        if not (isinstance(state, tuple) and len(state) == 8):
            raise pickle.UnpicklingError(f"unexpected dtype state {_show(state)}")
        version, endian, subarray, names, fields, elsize, alignment, flags = state
        endian = _text(endian)
        if (
            _plain_int(version) != 3
            or endian not in ("|", "<", ">", "=")
            or (endian == "|" and self.code[1] != "1")
            or (subarray, names, fields) != (None, None, None)
            or _plain_int(elsize) != -1
            or _plain_int(alignment) != -1
        ):
            raise pickle.UnpicklingError(
                f"unexpected state {_show(state)} for dtype {self.code!r}; expected "
                "(3, byte order, None, None, None, -1, -1, 0)"
            )
        if _plain_int(flags) != 0:
            raise pickle.UnpicklingError(
                f"forged dtype flags {_show(flags)} for dtype {self.code!r} (a plain numeric "
                "dtype has flags 0); refusing a file that would corrupt memory"
            )
        self.endian = endian

    def numpy(self) -> np.dtype:
        if self.endian is None:
            raise pickle.UnpicklingError(f"dtype {self.code!r} without its state")
        return np.dtype(("" if self.endian == "|" else self.endian) + self.code)


class _ArrayStub(_Stub):
    """A recorded array: ``_reconstruct`` then ``__setstate__`` (or ``_frombuffer``)."""

    __slots__ = ("array",)

    def __init__(self):
        self.array = None

    def __setstate__(self, state):
        if self.array is not None:
            raise pickle.UnpicklingError("array state given twice")
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError(f"unexpected ndarray state {_show(state)}")
        if len(state) == 5:
            version, *state = state
            if _plain_int(version) != 1:
                raise pickle.UnpicklingError(f"unknown ndarray state version {_show(version)}")
        shape, dtype, fortran, raw = state
        if not isinstance(fortran, bool | int) or fortran not in (0, 1):
            raise pickle.UnpicklingError(
                f"ndarray order flag should be a bool; got {_show(fortran)}"
            )
        self.array = _build_array(raw, dtype, shape, "F" if fortran else "C")


def _text(x):
    return x.decode("latin1") if isinstance(x, bytes) else x


def _plain_int(x):
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def _show(x) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def _build_array(raw, dtype, shape, order: str) -> np.ndarray:
    """``np.frombuffer(raw, dtype).reshape(shape)`` after every argument is checked."""
    if not isinstance(dtype, _DtypeSpec):
        raise pickle.UnpicklingError(f"array dtype should be a numpy dtype; got {_show(dtype)}")
    dt = dtype.numpy()
    if not (
        isinstance(shape, tuple)
        and len(shape) <= 32
        and all(_plain_int(d) is not None and d >= 0 for d in shape)
    ):
        raise pickle.UnpicklingError(f"array shape should be a tuple of sizes; got {_show(shape)}")
    if not isinstance(raw, bytes | bytearray):
        raise pickle.UnpicklingError(
            f"array data should be raw bytes; got {type(raw).__name__} (an object array?)"
        )
    need = math.prod(shape) * dt.itemsize
    if len(raw) != need:
        raise pickle.UnpicklingError(
            f"array of shape {shape} and dtype {dt} needs {need} bytes; the file holds {len(raw)}"
        )
    return np.frombuffer(raw, dtype=dt).reshape(shape, order=order)


class _Global(_Stub):
    """A callable stand-in for a named global; like every stub it takes no state."""

    __slots__ = ("_fn",)

    def __init__(self, fn):
        self._fn = fn

    def __call__(self, *args):
        return self._fn(*args)

    def __repr__(self) -> str:
        return f"<stand-in {self._fn.__name__}>"


def _np_reconstruct(cls, shape, typecode):
    if cls is not _NDARRAY or shape != (0,) or _text(typecode) != "b":
        raise pickle.UnpicklingError(
            f"unexpected _reconstruct arguments ({_show(cls)}, {_show(shape)}, {_show(typecode)})"
        )
    return _ArrayStub()


def _np_frombuffer(buf, dtype, shape, order):
    if _text(order) not in ("C", "F"):
        raise pickle.UnpicklingError(f"array order should be 'C' or 'F'; got {_show(order)}")
    out = _ArrayStub()
    out.array = _build_array(buf, dtype, shape, _text(order))
    return out


def _np_dtype(code, align=False, copy=True):
    code = _text(code)
    if code not in _PICKLE_DTYPES:
        raise pickle.UnpicklingError(
            f"refusing numpy dtype {_show(code)}: a batch holds plain numeric arrays "
            f"({', '.join(sorted(_PICKLE_DTYPES))})"
        )
    if align not in (False, 0) or copy not in (True, False, 0, 1):
        raise pickle.UnpicklingError(f"unexpected dtype arguments ({_show(align)}, {_show(copy)})")
    return _DtypeSpec(code)


def _codecs_encode(obj, encoding="utf-8"):
    # how Python 3 writes bytes at protocol <= 2: _codecs.encode(text, "latin1")
    if not isinstance(obj, str) or _text(encoding) not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(
            f"unexpected _codecs.encode arguments ({type(obj).__name__}, {_show(encoding)})"
        )
    return obj.encode("latin1")


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler whose only globals are lmech's stand-ins for what a CIFAR batch names.

    The official batches (Python 2's cPickle, protocol 2) and pickles written by numpy 1.x
    or 2.x (protocols 2 to 5) name ``numpy[._]core.multiarray._reconstruct``,
    ``numpy[._]core.numeric._frombuffer``, ``numpy.ndarray``, ``numpy.dtype`` and
    ``_codecs.encode``; each maps to a stand-in that records its arguments. Any other
    global is refused, and no numpy code runs on the file's contents.
    """

    _GLOBALS = {
        ("numpy.core.multiarray", "_reconstruct"): _Global(_np_reconstruct),
        ("numpy._core.multiarray", "_reconstruct"): _Global(_np_reconstruct),
        ("numpy.core.numeric", "_frombuffer"): _Global(_np_frombuffer),
        ("numpy._core.numeric", "_frombuffer"): _Global(_np_frombuffer),
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _Global(_np_dtype),
        ("_codecs", "encode"): _Global(_codecs_encode),
    }

    def find_class(self, module, name):
        try:
            return self._GLOBALS[module, name]
        except (KeyError, TypeError):
            raise pickle.UnpicklingError(
                f"refusing to load global {_show(module)[1:-1]}.{_show(name)[1:-1]}"
            ) from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing a persistent id")


def _scan_pickle(raw: bytes) -> None:
    """Check every opcode of a pickle before anything is built (UnpicklingError if not)."""
    memoized = 0
    for count, (op, arg, pos) in enumerate(pickletools.genops(raw)):
        if count >= _MAX_OPCODES:
            raise pickle.UnpicklingError(
                f"more than {_MAX_OPCODES} pickle opcodes; a CIFAR-10 batch has far fewer"
            )
        memoized += op.name == "MEMOIZE"
        if memoized >= _MAX_MEMO:
            raise pickle.UnpicklingError(f"more than {_MAX_MEMO} memoized objects")
        if op.name not in _PICKLE_OPCODES:
            raise pickle.UnpicklingError(f"refusing pickle opcode {op.name} at byte {pos}")
        if op.name == "GLOBAL":
            module, _, name = str(arg).partition(" ")
            if (module, name) not in _CifarUnpickler._GLOBALS:
                raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        elif op.name.endswith(("PUT", "GET")) and arg >= _MAX_MEMO:
            raise pickle.UnpicklingError(f"memo index {arg} at byte {pos} is out of range")


def _unwrap(x, what: str, p: Path):
    """A recorded array as an ndarray; containers and numbers pass through."""
    if isinstance(x, _ArrayStub):
        if x.array is None:
            raise InputError(f"{p}: {what} is an array without its data (a truncated pickle?)")
        return x.array
    if isinstance(x, _Stub):
        raise InputError(f"{p}: {what} is a bare {type(x).__name__}, not an array")
    return x


def _get(d: dict, key: str):
    """``d[key]`` for either bytes keys (official, Python 2 pickles) or str keys."""
    for k in (key.encode(), key):
        try:
            if k in d:
                return d[k]
        except TypeError:  # an unhashable key cannot be there
            pass
    return None


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
    # the whole file in memory (a batch is 30 MiB), so that no declared length can make the
    # unpickler allocate more than the file holds before it finds out
    check_allocation(3 * p.stat().st_size, f"{p}: reading this CIFAR-10 batch", "check the file")
    with _open(p) as fh:
        raw = fh.read()
    try:
        _scan_pickle(raw)
        # encoding="bytes": the official batches were written by Python 2's cPickle
        d = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as err:  # only lmech's stand-ins run, so any failure is the file's
        raise InputError(
            f"{p}: not a CIFAR-10 python batch ({type(err).__name__}: {str(err)[:300]}); "
            "expected the pickled dict of cifar-10-python.tar.gz (a plain dict of a uint8 "
            "array and a label list); download it again"
        ) from None
    if not isinstance(d, dict):
        raise InputError(
            f"{p}: expected a pickled dict with b'data' and b'labels', got {type(d).__name__}"
        )
    data, labels = _get(d, "data"), _get(d, "labels")
    if data is None or labels is None:
        keys = sorted(str(_text(k))[:40] for k in d)
        hint = " (CIFAR-100 files have fine_labels; not supported)" if "fine_labels" in keys else ""
        raise InputError(f"{p}: expected keys 'data' and 'labels', found {keys}{hint}")
    data = _unwrap(data, "'data'", p)
    labels = _unwrap(labels, "'labels'", p)
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3072
    ):
        desc = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise InputError(f"{p}: 'data' should be uint8 of shape (N, 3072), got {desc}")
    if isinstance(labels, np.ndarray):
        ok = labels.dtype.kind in "iu"
    else:
        ok = isinstance(labels, list | tuple) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in labels
        )
    if not ok:
        raise InputError(
            f"{p}: 'labels' should be a list of ints, got {type(labels).__name__}"
            + (f" of {labels.dtype}" if isinstance(labels, np.ndarray) else "")
        )
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{p}: 'labels' should be ints in 0..9, got values beyond int64") from None
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


_NPY_MAGIC = b"\x93NUMPY"
_NPY_HOWTO = "write it with numpy.save / numpy.savez (plain numeric arrays)"


def _npy_header(stream, where: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """``(shape, fortran_order, dtype, header bytes)`` of the ``.npy`` stream at its start.

    Parsed by numpy's own header reader (a literal dict, never unpickled) from the header
    bytes alone; the payload is not touched.
    """
    pre = _read_upto(stream, 8)
    if len(pre) < 8 or not pre.startswith(_NPY_MAGIC):
        raise InputError(
            f"{where}: not a .npy array (starts with {pre[:8]!r}, expected {_NPY_MAGIC!r}); "
            f"{_NPY_HOWTO}"
        )
    major, minor = pre[6], pre[7]
    if (major, minor) not in ((1, 0), (2, 0)):
        raise InputError(
            f"{where}: .npy format version {major}.{minor} is not supported; expected 1.0 or "
            f"2.0; {_NPY_HOWTO}"
        )
    width = 2 if major == 1 else 4
    size_bytes = _read_upto(stream, width)
    if len(size_bytes) < width:
        raise InputError(f"{where}: truncated .npy header; {_NPY_HOWTO}")
    hlen = int.from_bytes(size_bytes, "little")
    if hlen > 100_000:
        raise InputError(f"{where}: .npy header of {hlen} bytes is implausibly long")
    text = _read_upto(stream, hlen)
    if len(text) < hlen:
        raise InputError(
            f"{where}: truncated .npy header ({len(text)} of {hlen} bytes); {_NPY_HOWTO}"
        )
    fake = io.BytesIO(pre + size_bytes + text)
    fake.seek(8)
    reader = (
        np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    )
    try:
        shape, fortran, dtype = reader(fake, max_header_size=100_000)
    except (ValueError, SyntaxError, TypeError, KeyError) as err:
        raise InputError(
            f"{where}: malformed .npy header ({str(err)[:200]}); {_NPY_HOWTO}"
        ) from None
    if not all(isinstance(d, int) and d >= 0 for d in shape) or len(shape) > 64:
        raise InputError(f"{where}: .npy header declares an invalid shape {str(shape)[:100]}")
    if dtype.hasobject:
        raise InputError(
            f"{where}: holds an object array, which lmech refuses to unpickle; save plain "
            "numeric arrays (np.save / np.savez with non-object dtypes)"
        )
    return tuple(shape), bool(fortran), dtype, 8 + width + hlen


def _read_npy(stream, where: str, available: int) -> np.ndarray:
    """The array of a ``.npy`` stream holding ``available`` bytes in all.

    The size the header declares is compared with the bytes there are and with the memory
    limit before anything is allocated.
    """
    shape, fortran, dtype, header = _npy_header(stream, where)
    need = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    have = available - header
    if need > have:
        raise InputError(
            f"{where}: truncated .npy data: the header declares shape {shape} of {dtype} = "
            f"{need} bytes, the file holds {max(have, 0)}; {_NPY_HOWTO}"
        )
    check_allocation(need, f"{where}: the {shape} {dtype} array", "check the file")
    flat = np.empty(math.prod(shape), dtype=dtype)
    view = memoryview(flat.view(np.uint8)) if need else None
    got = 0
    while got < need:
        n = stream.readinto(view[got : got + (1 << 24)])
        if not n:
            raise InputError(f"{where}: truncated .npy data ({got} of {need} bytes); {_NPY_HOWTO}")
        got += n
    if fortran:
        return flat.reshape(shape[::-1]).transpose()
    return flat.reshape(shape)


def _npz_members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Array name -> zip entry, named as numpy names them (``X.npy`` is ``X``)."""
    return {
        (info.filename[:-4] if info.filename.endswith(".npy") else info.filename): info
        for info in zf.infolist()
        if not info.is_dir()
    }


def _zip_error(p: Path, err: Exception) -> InputError:
    return InputError(
        f"{p}: malformed .npz archive ({type(err).__name__}: {str(err)[:200]}); expected a "
        f"zip of .npy arrays; {_NPY_HOWTO}"
    )


def _open_array_file(path) -> tuple[Path, str]:
    """The file and its kind (``"npy"`` or ``"npz"``) from its magic bytes."""
    p = _existing_file(path, "array")
    with _open(p) as fh:
        magic = fh.read(6)
    if magic.startswith(_NPY_MAGIC):
        return p, "npy"
    if magic.startswith(b"PK"):
        return p, "npz"
    got = "an empty file (0 bytes)" if not magic else f"a file starting with {magic!r}"
    raise InputError(
        f"{p}: not a .npy or .npz file: expected numpy's magic bytes {_NPY_MAGIC!r} or a zip "
        f"archive, got {got}; {_NPY_HOWTO}"
    )


def array_file_keys(path: str | os.PathLike) -> list[str] | None:
    """The names of the arrays in an ``.npz`` file, or None for a ``.npy`` file.

    Raises:
      DataUnavailableError: the file does not exist.
      InputError: not an npy/npz file, or a corrupt archive.
    """
    p, kind = _open_array_file(path)
    if kind == "npy":
        return None
    try:
        with _open(p) as fh, zipfile.ZipFile(fh) as zf:
            return sorted(_npz_members(zf))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as err:
        raise _zip_error(p, err) from None


def _npz_array(zf: zipfile.ZipFile, members, p: Path, key: str, role: str) -> np.ndarray:
    if not isinstance(key, str) or key not in members:
        raise InputError(
            f"{p}: no array {key!r} for {role}; the file holds {sorted(members)} "
            f"(choose with {role}_key=...)"
        )
    info = members[key]
    where = f"{p} (array {key!r})"
    if info.compress_size > p.stat().st_size or (
        info.compress_type == zipfile.ZIP_STORED and info.compress_size < info.file_size
    ):
        raise InputError(
            f"{where}: the zip entry declares {info.file_size} bytes ({info.compress_size} "
            f"stored) but the archive has {p.stat().st_size}; the file is truncated or forged"
        )
    try:
        with zf.open(info) as member:
            return _read_npy(member, where, info.file_size)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as err:
        raise _zip_error(p, err) from None
    except RuntimeError as err:  # an encrypted member
        raise _zip_error(p, err) from None


def load_array_file(
    path: str | os.PathLike, x_key: str = "X", y_key: str | None = "y"
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load arrays from a ``.npy`` or ``.npz`` file, refusing pickled object arrays.

    The format is detected from the file's magic bytes (``\\x93NUMPY`` or a zip archive).
    Each array's header is read first: a shape whose bytes exceed what the file holds is
    refused before anything is allocated, and so is one above the memory limit
    (:func:`lmech._memory.check_allocation`).

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
        a truncated or oversized array, or an object array (loading one would unpickle
        arbitrary code: ``allow_pickle=False``).
    """
    p, kind = _open_array_file(path)
    if kind == "npy":
        with _open(p) as fh:
            return _read_npy(fh, str(p), p.stat().st_size), None
    try:
        with _open(p) as fh, zipfile.ZipFile(fh) as zf:
            members = _npz_members(zf)
            X = _npz_array(zf, members, p, x_key, "x")
            y = None if y_key is None else _npz_array(zf, members, p, y_key, "y")
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as err:
        if isinstance(err, InputError):
            raise
        raise _zip_error(p, err) from None
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
        isinstance(max_vocab, bool) or not isinstance(max_vocab, numbers.Integral) or max_vocab < 1
    ):
        raise InputError(f"max_vocab should be a positive integer or None, got {max_vocab!r}")
    if isinstance(min_count, bool) or not isinstance(min_count, numbers.Integral) or min_count < 1:
        raise InputError(f"min_count should be an integer >= 1, got {min_count!r}")
    p = _existing_file(path, "text")
    # the bytes, the decoded str (up to 4 bytes a character) and the token list
    check_allocation(12 * p.stat().st_size, f"{p}: tokenizing this text file", "split the file")
    try:
        with _open(p) as fh:
            text = fh.read().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{p}: not valid UTF-8 (byte {err.object[err.start]:#04x} at offset {err.start}); "
            "re-encode the file as UTF-8"
        ) from None
    if unknown is not None and not isinstance(unknown, str):
        raise InputError(f"unknown should be a str or None, got {type(unknown).__name__}")
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
