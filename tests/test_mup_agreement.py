"""lmech.nn.mup against microsoft's mup on the same Transformer: init, lr multipliers, updates.

The peer is the ``mup`` package (dev extra, installed without its dependencies). Both
parameterize copies of one :class:`lmech.nn.gpt.GPT` (float64, same initial weights):
mup through ``MuReadout`` + ``set_base_shapes`` + ``MuAdamW``/``MuSGD``, lmech through
``lmech.nn.mup.parameterize`` + ``param_groups``. The attention logit scale is set on the
mup copy by hand to lmech's sqrt(d_base)/d_head (mup leaves the attention code to the
user: its docs ask for attn_mult/d_head; this is attn_mult = sqrt(d_base)).
"""

import copy

import pytest
import torch

mup = pytest.importorskip("mup")
from mup import MuAdamW, MuReadout, MuSGD, set_base_shapes  # noqa: E402

from lmech.nn import mup as lm  # noqa: E402
from lmech.nn.gpt import GPT, GPTConfig  # noqa: E402

CFG = GPTConfig(vocab=24, seq_len=8, d_model=64, n_layer=2, n_head=2, bias=True)
VARIANTS = {
    # head dim grows with width (n_head fixed): attention scale matters
    "separate": (CFG, CFG.with_width(16), CFG.with_width(32)),
    # nn.MultiheadAttention with a fixed head dim (heads grow): scale 1/sqrt(d_head) both
    "torch": (
        GPTConfig(24, 8, 64, 2, 8, attention="torch", bias=True),
        GPTConfig(24, 8, 16, 2, 2, attention="torch", bias=True),
        GPTConfig(24, 8, 32, 2, 4, attention="torch", bias=True),
    ),
}


def _mup_model(model: GPT) -> GPT:
    m = copy.deepcopy(model)
    old = m.readout
    new = MuReadout(old.in_features, old.out_features, bias=old.bias is not None)
    new = new.to(torch.float64)
    with torch.no_grad():
        new.weight.copy_(old.weight)
        if old.bias is not None:
            new.bias.copy_(old.bias)
    m.readout = new
    return m


def _with_mureadout(cfg):
    return _mup_model(GPT(cfg).double())


def _pair(variant, seed=0):
    cfg, bcfg, dcfg = VARIANTS[variant]
    torch.manual_seed(seed)
    model = GPT(cfg).double()
    ours, theirs = copy.deepcopy(model), _mup_model(model)
    lm.parameterize(ours, base=GPT(bcfg), delta=GPT(dcfg))
    set_base_shapes(theirs, _with_mureadout(bcfg), delta=_with_mureadout(dcfg))
    for a, b in zip(ours.modules(), theirs.modules(), strict=True):
        if hasattr(a, "attn_scale"):
            b.attn_scale = a.attn_scale.clone()
    return ours, theirs


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_init_std_agrees(variant):
    ours, theirs = _pair(variant)
    pa, pb = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert set(pa) == set(pb)
    for n in pa:
        sa, sb = pa[n].std().item() if pa[n].numel() > 1 else 0.0, 0.0
        sb = pb[n].std().item() if pb[n].numel() > 1 else 0.0
        assert sa == pytest.approx(sb, rel=1e-13, abs=1e-15), n
        torch.testing.assert_close(pa[n], pb[n], rtol=1e-15, atol=0)
    # the readout really was rescaled by sqrt(m) = 2 from PyTorch's default
    w = dict(ours.named_parameters())["readout.weight"]
    assert w.abs().max().item() > 1 / 64**0.5  # beyond the default U(-1/sqrt(64), ..) bound


def _lr_by_name(model, opt):
    ids = {id(p): n for n, p in model.named_parameters()}
    return {ids[id(p)]: (g["lr"], g["weight_decay"]) for g in opt.param_groups for p in g["params"]}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_lr_and_weight_decay_multipliers_agree(variant, name):
    ours, theirs = _pair(variant)
    lr, wd = 1e-2, 0.1
    peer = (MuAdamW if name == "adamw" else MuSGD)(theirs.parameters(), lr=lr, weight_decay=wd)
    mine = lm.optimizer(ours, name, lr=lr, weight_decay=wd)
    a, b = _lr_by_name(ours, mine), _lr_by_name(theirs, peer)
    assert set(a) == set(b)
    for n in a:
        assert a[n] == pytest.approx(b[n], rel=1e-14), n
    # grouping by multiplier: no more groups than mup makes
    assert len(mine.param_groups) <= len([g for g in peer.param_groups if g["params"]])
    # the FFN down-projection (fan-in 4d) gets 1/m = 1/4 under Adam, not 1/16
    if name == "adamw":
        assert a["blocks.0.mlp.proj.weight"][0] == pytest.approx(lr / 4)


def _record(model):
    out = {}

    def hook(mod, args, o, n):
        o = o[0] if isinstance(o, tuple) else o
        if isinstance(o, torch.Tensor):
            out[n] = o.detach().clone()

    for n, m in model.named_modules():
        if n:
            m.register_forward_hook(lambda mod, i, o, n=n: hook(mod, i, o, n))
    return out


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_first_three_activation_updates_agree(variant, name):
    ours, theirs = _pair(variant)
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 24, (4, 8), generator=g)
    y = torch.randint(0, 24, (4, 8), generator=g)
    lr = 1e-2 if name == "adamw" else 0.1
    opts = [
        lm.optimizer(ours, name, lr=lr, weight_decay=0.1),
        (MuAdamW if name == "adamw" else MuSGD)(theirs.parameters(), lr=lr, weight_decay=0.1),
    ]
    recs = [_record(ours), _record(theirs)]
    h0 = []
    for model in (ours, theirs):
        model(x)
    h0 = [dict(r) for r in recs]
    assert set(h0[0]) == set(h0[1]) and len(h0[0]) >= 14
    for _ in range(3):
        for model, opt in zip((ours, theirs), opts, strict=True):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten()).backward()
            opt.step()
            model(x)
        for k in h0[0]:
            da, db = recs[0][k] - h0[0][k], recs[1][k] - h0[1][k]
            scale = db.abs().max().item()
            assert scale > 0, k
            assert (da - db).abs().max().item() <= 1e-10 * max(scale, 1.0), k
