"""Shape-based roles and muP factors on the block the registration-order guess got wrong.

The block: embedding, separate q/k/v/out linears, an FFN with a 4d hidden layer, a
convolution, LayerNorm, readout. Every expected number below is the closed form of TP-V
Table 8 (mup form) written out by hand for d = 4 d_base.
"""

import math

import pytest
import torch
from torch import nn

from lmech.errors import InputError
from lmech.nn import mup
from lmech.nn.shapes import infer_shapes


class Block(nn.Module):
    def __init__(self, d, vocab=11, ch_in=3):
        super().__init__()
        self.conv = nn.Conv1d(ch_in, d, 3, padding=1)  # finite -> width: vector-like
        self.emb = nn.Embedding(vocab, d)
        self.out = nn.Linear(d, d)  # registered first: the old guess took it for the input
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.ln = nn.LayerNorm(d)
        self.up = nn.Linear(d, 4 * d)
        self.down = nn.Linear(4 * d, d)
        self.mix = nn.Conv1d(d, d, 1)  # width -> width convolution: hidden
        self.head = nn.Linear(d, vocab)

    def forward(self, tokens, signal):
        h = self.emb(tokens) + self.conv(signal).transpose(1, 2)
        a = self.out(self.v(self.ln(h)))
        h = h + a + self.mix(h.transpose(1, 2)).transpose(1, 2)
        h = h + self.down(torch.relu(self.up(h)))
        return self.head(h)


D0, D = 8, 32
M = D / D0


def _model():
    torch.manual_seed(0)
    model = Block(D)
    rows = mup.parameterize(model, base=Block(D0), delta=Block(2 * D0))
    return model, {r.name: r for r in rows}


EXPECTED_ROLES = {
    "conv.weight": "vector", "conv.bias": "vector", "emb.weight": "vector",
    "out.weight": "hidden", "q.weight": "hidden", "up.weight": "hidden",
    "down.weight": "hidden", "mix.weight": "hidden", "ln.weight": "vector",
    "head.weight": "output", "head.bias": "fixed", "down.bias": "vector",
}  # fmt: skip


def test_roles_from_shapes():
    _, rows = _model()
    for name, role in EXPECTED_ROLES.items():
        assert rows[name].role == role, name


def test_adam_and_sgd_factors_closed_form():
    model, rows = _model()
    # Adam: hidden lr 1/m_in, wd x m_in; the 4d -> d down-projection has m_in = 4 (1/4, not 1/16)
    for name in ("out.weight", "q.weight", "up.weight", "down.weight", "mix.weight"):
        assert (rows[name].lr_adam, rows[name].wd_adam) == pytest.approx((1 / M, M)), name
    for name in ("emb.weight", "conv.weight", "ln.weight", "head.weight", "head.bias"):
        assert rows[name].lr_adam == 1.0, name
    # SGD: vector-like x m; hidden m_out / m_in (up: 4d / d -> m_out = m_in = 4: 1); output x m
    assert rows["emb.weight"].lr_sgd == pytest.approx(M)
    assert rows["up.weight"].lr_sgd == pytest.approx(1.0)
    assert rows["head.weight"].lr_sgd == pytest.approx(M)
    assert rows["head.bias"].lr_sgd == 1.0
    # readout: forward multiplier 1/m, init x sqrt(m); hidden biases x sqrt(m_in)
    assert rows["head.weight"].multiplier == pytest.approx(1 / M)
    assert rows["head.weight"].init_scale == pytest.approx(math.sqrt(M))
    assert rows["down.bias"].init_scale == pytest.approx(math.sqrt(M))
    assert rows["conv.bias"].init_scale == 1.0  # fan-in 3 x 3 fixed
    # the readout multiplier is applied in forward: doubling it by hand doubles (logits - bias)
    x, s = torch.randint(0, 11, (2, 5)), torch.randn(2, 3, 5)
    y1 = model(x, s)
    model.head.lmech_multiplier = model.head.lmech_multiplier * 2
    y2 = model(x, s)
    torch.testing.assert_close(y2 - model.head.bias, 2 * (y1 - model.head.bias))


def test_groups_by_multiplier_and_schedulers():
    model, _ = _model()
    opt = mup.optimizer(model, "adamw", lr=1e-3, weight_decay=0.1)
    assert len(opt.param_groups) == 2  # hidden (1/m) and everything else
    lrs = sorted(g["lr"] for g in opt.param_groups)
    assert lrs == pytest.approx([1e-3 / M, 1e-3])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5)
    opt.step()
    sched.step()
    assert sorted(g["lr"] for g in opt.param_groups) == pytest.approx([0.5e-3 / M, 0.5e-3])
    # every parameter lands in exactly one group
    n = sum(len(g["params"]) for g in opt.param_groups)
    assert n == len(list(model.parameters()))


def test_width_map_equals_base_delta():
    torch.manual_seed(0)
    a = infer_shapes(Block(D), base=Block(D0), delta=Block(2 * D0))
    b = infer_shapes(Block(D), widths={D: D0, 4 * D: 4 * D0})
    assert a == b


def test_depth_branch_factors():
    from lmech.nn.gpt import GPT, GPTConfig

    cfg = GPTConfig(d_model=32, n_layer=8, n_head=2)
    m = GPT(cfg)
    base = GPT(cfg.with_width(8))
    rows = {r.name: r for r in mup.parameterize(
        m, base=base, delta=GPT(cfg.with_width(16)), branches=GPT.branches(), depth=8,
        base_depth=2, depth_alpha=1.0)}  # fmt: skip
    mL = 4.0
    r = rows["blocks.3.mlp.fc.weight"]
    assert r.branch == "blocks.3.mlp"
    assert r.lr_adam == pytest.approx(1 / 4)  # CompleteP: width 1/m_d, depth m_L^0
    assert r.eps_adam == pytest.approx(1 / mL)
    assert rows["blocks.3.attn.ln.weight"].lr_sgd == pytest.approx(4 * mL)  # m x m_L^{2a-1}
    assert rows["tok.weight"].branch is None and rows["tok.weight"].eps_adam == 1.0
    assert float(m.blocks[3].mlp.lmech_branch_multiplier) == pytest.approx(1 / mL)
    # the residual branch output really is scaled: compare against the unscaled branch
    x = torch.randn(2, 4, 32)
    blk = m.blocks[0]
    torch.testing.assert_close(
        blk.mlp(x), blk.mlp.proj(blk.mlp.act(blk.mlp.fc(blk.mlp.ln(x)))) / mL
    )


def test_multihead_attention_query_scale():
    mha_cfg = dict(num_heads=2, bias=False, batch_first=True)
    torch.manual_seed(0)
    model = nn.Sequential(nn.MultiheadAttention(32, **mha_cfg))
    ref = nn.MultiheadAttention(32, **mha_cfg)
    ref.load_state_dict(model[0].state_dict())
    mup.parameterize(model, base=nn.Sequential(nn.MultiheadAttention(8, **mha_cfg)),
                     delta=nn.Sequential(nn.MultiheadAttention(16, **mha_cfg)))  # fmt: skip
    x = torch.randn(3, 5, 32)
    # by hand: logits q.k sqrt(d_base)/d_head with d_head 16, d_base 4
    w = ref.in_proj_weight
    q, k, v = (x @ w[i * 32 : (i + 1) * 32].T for i in range(3))
    q, k, v = (t.view(3, 5, 2, 16).transpose(1, 2) for t in (q, k, v))
    att = ((q @ k.transpose(-1, -2)) * (4**0.5 / 16)).softmax(-1)
    out = ref.out_proj((att @ v).transpose(1, 2).reshape(3, 5, 32))
    torch.testing.assert_close(model[0](x, x, x)[0], out, rtol=1e-5, atol=1e-6)


def test_unplaceable_parameter_is_refused_by_name():
    class Odd(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.lin = nn.Linear(d, d)
            self.mix = nn.Parameter(torch.randn(d, d))  # used by hand: fan-in unknown

    with pytest.raises(InputError, match="'mix'"):
        mup.parameterize(Odd(32), base=Odd(8), delta=Odd(16))
    # an override places it
    rows = mup.parameterize(
        Odd(32), base=Odd(8), delta=Odd(16), overrides={"mix": {"fan_in_dim": 1, "fan_out_dim": 0}}
    )
    assert {r.name: r.role for r in rows}["mix"] == "hidden"
