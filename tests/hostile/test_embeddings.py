"""Bad input to the embedding tools gets a clear lmech error; nothing needs the network."""

import dataclasses
import socket

import numpy as np
import pytest

from lmech.data import text as T
from lmech.embeddings_cli import corpus_report, embeddings_cmd
from lmech.errors import ConfigError, DataUnavailableError, InputError
from lmech.experiment.word2vec import train_qwem, train_sgns
from lmech.laws import registry
from lmech.theory.word2vec import qwem_target, top_eigenpairs


@pytest.fixture
def text_file(tmp_path):
    def write(content, name="corpus.txt"):
        p = tmp_path / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return p

    return write


def test_empty_corpus(text_file):
    with pytest.raises(InputError, match="empty"):
        T.text_file_corpus(text_file(""))
    with pytest.raises(InputError, match="no word tokens"):
        T.text_file_corpus(text_file("... !!! ---\n\n"))
    with pytest.raises(InputError, match="empty"):
        T.build_corpus([])
    with pytest.raises(InputError, match="empty"):
        corpus_report(text_file(""))


def test_window_zero(text_file):
    c = T.build_corpus([["a", "b", "c"]])
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InputError, match="window"):
            T.cooccurrence(c, bad)
    with pytest.raises(InputError, match="window"):
        corpus_report(text_file("a b c. d e f."), window=0)
    spec = registry.get("qwem-closed-form").preset("quick")
    with pytest.raises(ConfigError, match="window"):
        dataclasses.replace(spec, window=0)


def test_vocabulary_smaller_than_dimension(text_file):
    with pytest.raises(InputError, match="fewer than the embedding dimension"):
        corpus_report(text_file("the cat sat. the dog sat."), dim=16)
    M = np.eye(3)
    with pytest.raises(InputError, match="exceeds the vocabulary size"):
        top_eigenpairs(M, 4)
    with pytest.raises(InputError, match="exceeds the vocabulary size"):
        train_qwem(M, 4, steps=1, lr=0.1, init_scale=0.1, seed=0)
    P = np.full((3, 3), 1 / 9)
    with pytest.raises(InputError, match="exceeds the vocabulary size"):
        train_sgns(P, P.sum(1), 4, steps=1, lr=0.1, init_scale=0.1, seed=0)
    spec = registry.get("qwem-sequential-learning").preset("quick")
    with pytest.raises(ConfigError, match="vocab_size"):
        dataclasses.replace(spec, vocab_size=3, dim=4)


def test_binary_file_given_as_text(text_file):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    with pytest.raises(InputError, match="binary"):
        T.text_file_corpus(text_file(png, "image.txt"))
    with pytest.raises(InputError, match="binary"):
        corpus_report(text_file(png, "image.txt"))
    latin1 = "caf\xe9 cr\xe8me".encode("latin-1")  # no NUL, but not UTF-8
    with pytest.raises(InputError, match="not UTF-8"):
        T.read_text(text_file(latin1, "latin1.txt"))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataUnavailableError, match="does not exist"):
        T.text_file_corpus(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="not a regular file"):
        T.text_file_corpus(tmp_path)


def test_bad_statistics():
    P = np.full((3, 3), 1 / 9)
    with pytest.raises(InputError, match="non-negative"):
        qwem_target(np.where(np.eye(3) > 0, np.nan, P), P.sum(1))
    with pytest.raises(InputError, match="Pi must be > 0|unigram"):
        qwem_target(P, np.array([0.5, 0.5, 0.0]))
    with pytest.raises(InputError, match="symmetric"):
        qwem_target(P + np.triu(np.full((3, 3), 0.01), 1), P.sum(1))
    with pytest.raises(InputError, match="psi"):
        qwem_target(P, P.sum(1), psi=0)
    with pytest.raises(InputError, match="diverged"):
        train_qwem(np.diag([100.0, 50.0]), 1, steps=50, lr=10.0, init_scale=0.5, seed=0)


def test_cli_function_reports_a_user_text(tmp_path, capsys):
    lee = T.gensim_file("lee_background")
    out = tmp_path / "w.txt"
    embeddings_cmd(lee, vocab_size=300, window=5, dim=4, out=out)
    printed = capsys.readouterr().out
    assert "QWEM spectrum" in printed and "switch-on" in printed
    header = out.read_text().splitlines()[0]
    assert header == "300 4"
    rep = corpus_report(lee, vocab_size=300, window=5, dim=4)
    assert np.all(np.diff(rep.eigenvalues) <= 0) and rep.learning_order.tolist() == [0, 1, 2, 3]


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_loaders_and_quick_laws_run_offline(no_network):
    with pytest.raises(OSError, match="network"):
        socket.create_connection(("example.org", 80))
    T._gensim_sentences.cache_clear()  # read the files again, with the network off
    from lmech.laws.embeddings import _common

    _common.text_statistics.cache_clear()
    assert T.gensim_corpus("enwiki").num_tokens > 4e5
    from lmech.measure.embeddings import load_analogies

    assert len(load_analogies()) == 14
    for name in ("months-circle", "analogies-from-attributes", "qwem-closed-form"):
        law = registry.get(name)
        spec = law.preset("quick")
        verdict = law.verdict(law.theory(spec), law.experiment(spec, 0, "cpu"))
        assert verdict.passed, (name, verdict.checks)
    seq = registry.get("qwem-sequential-learning")
    assert len(seq.theory(seq.preset("quick"))) > 0


def test_command_signature_is_typer_compatible(tmp_path):
    import typer
    from typer.testing import CliRunner

    app = typer.Typer()
    app.command("embeddings")(embeddings_cmd)
    app.command("noop")(lambda: None)  # a second command keeps the subcommand name
    runner = CliRunner()
    help_text = runner.invoke(app, ["embeddings", "--help"]).output
    assert "--vocab-size" in help_text and "--dim" in help_text
    res = runner.invoke(
        app,
        ["embeddings", str(T.gensim_file("lee_background")), "--vocab-size", "200", "--dim", "3"],
    )
    assert res.exit_code == 0, res.output
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    res = runner.invoke(app, ["embeddings", str(empty)])
    assert isinstance(res.exception, InputError)


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        (b"", [], "empty"),
        (b"\x00\x01\x02\xff\xfe binary", [], "UTF-8"),
        (b"the cat sat on the mat " * 50, ["--window", "0"], "window"),
        (b"a b c d a b c d " * 20, ["--dim", "16"], "dim"),
    ],
)
def test_the_embeddings_command_answers_bad_corpora_with_one_error_line(
    tmp_path, capsys, content, args, needle
):
    from lmech.cli import main

    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    code = main(["embeddings", str(path), *args])
    out, err = capsys.readouterr()
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2 and "Traceback" not in out + err, err
    assert len(lines) == 1 and lines[0].startswith("error:") and needle.lower() in err.lower(), err


def test_minibatch_sgns_bad_input():
    from lmech.experiment.word2vec import negative_distribution, train_sgns_minibatch

    g = np.random.default_rng(0)
    A = g.random((6, 6))
    C, U = A + A.T, np.arange(1.0, 7.0)
    kw = dict(steps=5, lr=0.01, init_scale=0.1, seed=0)
    cases = [
        (dict(cooc=np.zeros((6, 6))), "no nonzero entry"),
        (dict(cooc=C[:, :5]), "square"),
        (dict(cooc=-C), "non-negative"),
        (dict(unigram=U[:5]), "5 entries for a 6-word"),
        (dict(unigram=-U), "non-negative counts"),
        (dict(d=7), "exceeds the vocabulary size"),
        (dict(negatives=0), "negatives must be an integer >= 1"),
        (dict(batch_size=2.5), "batch_size must be an integer >= 1"),
        (dict(power=-1.0), "power must be >= 0"),
        (dict(optimizer="lbfgs"), "optimizer must be"),
        (dict(schedule="cosine"), "schedule must be"),
        (dict(dtype="float16"), "dtype must be"),
        (dict(lr=float("nan")), "learning rate must be > 0"),
        (dict(lr=1e6, init_scale=10.0, optimizer="sgd"), "diverged"),
    ]
    for change, message in cases:
        args = dict(cooc=C, unigram=U, d=2, **kw)
        args.update(change)
        with pytest.raises(InputError, match=message):
            train_sgns_minibatch(args.pop("cooc"), args.pop("unigram"), args.pop("d"), **args)
    with pytest.raises(InputError, match="all zero"):
        negative_distribution(np.zeros(4))
    with pytest.raises(InputError, match="window must be"):
        from lmech.experiment.word2vec import pairs_per_epoch

        pairs_per_epoch(C, 0)
