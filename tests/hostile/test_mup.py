"""Bad input to lmech.nn.mup / shapes / coord_check_model / transfer_study: clear errors."""

import pytest
import torch
from torch import nn

from lmech.errors import InputError
from lmech.experiment.coord import coord_check_model
from lmech.experiment.transfer import transfer_study, transfer_verdict
from lmech.nn import mup
from lmech.nn.gpt import GPT, GPTConfig


def _mlp(d):
    return nn.Sequential(nn.Linear(4, d), nn.Tanh(), nn.Linear(d, d), nn.Tanh(), nn.Linear(d, 1))


def test_shapes_must_be_given_one_way():
    with pytest.raises(InputError, match="either base"):
        mup.parameterize(_mlp(16))
    with pytest.raises(InputError, match="delta"):
        mup.parameterize(_mlp(16), base=_mlp(8))
    with pytest.raises(InputError, match="different parameters"):
        mup.parameterize(_mlp(16), base=nn.Linear(3, 3), delta=_mlp(8))
    with pytest.raises(InputError, match="widths must map"):
        mup.parameterize(_mlp(16), widths={16: "8"})


def test_bad_options():
    with pytest.raises(InputError, match="kind"):
        mup.parameterize(_mlp(16), widths={16: 8}, kind="ntk")
    with pytest.raises(InputError, match="init"):
        mup.parameterize(_mlp(16), widths={16: 8}, init="xavier")
    with pytest.raises(InputError, match="branch pattern"):
        mup.parameterize(_mlp(16), widths={16: 8}, branches=["nope"], depth=2, depth_alpha=1.0)
    with pytest.raises(InputError, match="depth scaling needs"):
        mup.parameterize(_mlp(16), widths={16: 8}, depth_alpha=1.0)
    with pytest.raises(InputError, match="unknown keys"):
        mup.parameterize(_mlp(16), widths={16: 8}, overrides={"0.weight": {"rol": "hidden"}})
    with pytest.raises(InputError, match="zero_init"):
        mup.parameterize(_mlp(16), widths={16: 8}, zero_init=["*.nothing"])


def test_three_growing_dims_and_unknown_readout_refused_by_name():
    class Cube(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.t = nn.Parameter(torch.zeros(d, d, d))

    with pytest.raises(InputError, match="'t'.*3 dimensions"):
        mup.parameterize(Cube(16), widths={16: 8})

    class RawReadout(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(3, d))

    with pytest.raises(InputError, match="'w'"):
        mup.parameterize(RawReadout(16), widths={16: 8})
    with pytest.raises(InputError, match="readout.*'w'|'w'.*readout"):
        mup.parameterize(
            RawReadout(16), widths={16: 8}, overrides={"w": {"fan_in_dim": 1, "fan_out_dim": 0}}
        )


def test_tied_embedding_readout_refused():
    class Tied(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.emb = nn.Embedding(10, d)
            self.head = nn.Linear(d, 10, bias=False)
            self.head.weight = self.emb.weight

    with pytest.raises(InputError, match="tied"):
        mup.parameterize(Tied(16), widths={16: 8})


def test_attention_base_head_dim_needed_with_width_map():
    with pytest.raises(InputError, match="base head dimension"):
        mup.parameterize(GPT(GPTConfig(d_model=32, n_head=2)), widths={32: 8, 128: 32})


def test_optimizer_bad_input():
    m = _mlp(16)
    with pytest.raises(InputError, match="muP table"):
        mup.optimizer(m, "adam", lr=1e-3)
    mup.parameterize(m, widths={16: 8})
    with pytest.raises(InputError, match="optimizer"):
        mup.optimizer(m, "lion", lr=1e-3)
    with pytest.raises(InputError, match="lr"):
        mup.optimizer(m, "adam", lr=float("nan"))
    with pytest.raises(InputError, match="weight_decay"):
        mup.optimizer(m, "adamw", lr=1e-3, weight_decay=-1.0)


def test_gpt_config_errors():
    with pytest.raises(InputError, match="multiple of n_head"):
        GPTConfig(d_model=30, n_head=4)
    with pytest.raises(InputError, match="attention"):
        GPTConfig(attention="flash")


def test_coord_check_bad_input():
    data = (torch.randn(4, 4), torch.randn(4, 1))
    opt = lambda m: torch.optim.SGD(m.parameters(), lr=0.1)  # noqa: E731
    with pytest.raises(InputError, match="distinct"):
        coord_check_model(lambda w, s: _mlp(w), [16, 16], data, optimizer=opt)
    with pytest.raises(InputError, match="pair"):
        coord_check_model(lambda w, s: _mlp(w), [8, 16], data[0], optimizer=opt)
    with pytest.raises(InputError, match="not modules"):
        coord_check_model(lambda w, s: _mlp(w), [8, 16], data, optimizer=opt, modules=["nope"])
    with pytest.raises(InputError, match="loss is"):
        coord_check_model(
            lambda w, s: _mlp(w),
            [8, 16],
            data,
            optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=1e30),
            steps=3,
        )


def test_transfer_bad_input():
    with pytest.raises(InputError, match="sizes"):
        transfer_study(lambda s, lr, sd: 1.0, [8], [1e-3, 1e-2, 1e-1])
    with pytest.raises(InputError, match="learning rates"):
        transfer_study(lambda s, lr, sd: 1.0, [8, 16], [1e-3, 1e-2])
    import pandas as pd

    with pytest.raises(InputError, match="factor"):
        transfer_verdict(pd.DataFrame({"size": [1, 2], "log2_lr_opt": [0.0, 0.0]}), factor=1.0)
