"""coord_check on any model: against the vmapped MLP engine, and the pytest helper on a GPT."""

import pytest
import torch

from lmech.experiment.coord import coord_check, coord_check_model, coord_slopes, coord_verdict
from lmech.nn import mup
from lmech.nn.gpt import GPT, GPTConfig
from lmech.nn.models import MLPSpec, build
from lmech.nn.param import Parameterization, param_groups
from lmech.testing import assert_mup


def test_any_model_path_equals_the_mlp_ensemble_engine():
    spec = MLPSpec(6, 16, 3, 1, "tanh")
    p = Parameterization("mup", "sgd", base_width=16)
    g = torch.Generator().manual_seed(0)
    X, y = (
        torch.randn(12, 6, generator=g, dtype=torch.float64),
        torch.randn(12, generator=g, dtype=torch.float64),
    )
    widths, seeds = [16, 32, 64], [3, 4]
    ref = coord_check(spec, p, widths, X, y, lr=0.1, steps=2, seeds=seeds)
    got = coord_check(
        lambda w, s: build(spec.with_width(w), p, seed=s, dtype="float64"), widths, (X, y[:, None]),
        optimizer=lambda m: torch.optim.SGD(param_groups(m, 0.1)), steps=2, seeds=seeds,
        modules=["input", "hidden.0", "hidden.1", "output"],
        loss_fn=lambda out, t: (out - t).pow(2).mean(),
    )  # fmt: skip
    keys = ["width", "seed", "step", "layer"]
    m = ref.merge(got, on=keys, suffixes=("_ref", "_got"))
    assert len(m) == len(ref) == len(got)
    torch.testing.assert_close(
        torch.tensor(m["rms_update_got"].to_numpy()),
        torch.tensor(m["rms_update_ref"].to_numpy()),
        rtol=1e-8,
        atol=0,
    )
    s = coord_slopes(got)
    assert set(s["layer"]) == {"input", "hidden.0", "hidden.1", "output"}


def _gpt_fn(kind, zero_q=True):
    cfg = GPTConfig(vocab=16, seq_len=6, d_model=32, n_layer=2, n_head=2)
    base, delta = GPT(cfg.with_width(32)), GPT(cfg.with_width(64))

    def fn(w, s):
        torch.manual_seed(s)
        m = GPT(cfg.with_width(w))
        mup.parameterize(
            m, base=base, delta=delta, kind=kind, zero_init=["*.q.weight"] if zero_q else None
        )
        return m

    return fn


DATA = (torch.randint(0, 16, (4, 6), generator=torch.Generator().manual_seed(1)),
        torch.randint(0, 16, (4, 6), generator=torch.Generator().manual_seed(2)))  # fmt: skip
MODS = ["tok", "blocks.1.attn", "blocks.1.mlp.fc", "blocks.1.mlp", "readout"]


def test_assert_mup_passes_on_mup_and_names_the_layers_under_sp():
    adam = lambda m: mup.optimizer(m, "adam", lr=1e-3)  # noqa: E731
    v = assert_mup(_gpt_fn("mup"), (32, 64, 128, 256), DATA, optimizer=adam, steps=2, modules=MODS)
    assert v["ok"].all() and len(v) == len(MODS)
    with pytest.raises(AssertionError, match=r"blocks\.1\.mlp\.fc") as e:
        assert_mup(_gpt_fn("sp"), (32, 64, 128, 256), DATA, optimizer=adam, steps=2, modules=MODS)
    assert "tok" not in str(e.value).split("\n", 1)[1]  # Adam's embedding update is flat in SP too


def test_coord_verdict_per_layer_expectation():
    adam = lambda m: mup.optimizer(m, "adam", lr=1e-3)  # noqa: E731
    t = coord_check_model(
        _gpt_fn("sp"), (32, 64, 128), DATA, optimizer=adam, steps=1, seeds=(0,), modules=MODS
    )
    v = coord_verdict(t, {"blocks.1.mlp.fc": 1.0, "tok": 0.0}, tol=0.2)
    assert list(v["layer"]) == ["tok", "blocks.1.mlp.fc"] and v["ok"].all()


def test_figure_of_an_any_model_table():
    from lmech.figures.transfer import coord_figure

    adam = lambda m: mup.optimizer(m, "adam", lr=1e-3)  # noqa: E731
    t = coord_check_model(
        _gpt_fn("mup"), (32, 64), DATA, optimizer=adam, steps=2, seeds=(0,), modules=MODS
    )
    fig = coord_figure(t, "GPT")
    ax = fig.axes[0]
    assert len(ax.lines) == len(MODS)  # one curve per module, in the order recorded
    assert [ln.get_label() for ln in ax.lines] == MODS
