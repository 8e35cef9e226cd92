"""The Markov language of mup-transformer-lr-transfer: entropy rate against Monte Carlo."""

import math

import torch

from lmech.laws.transfer._markov import markov_chain, sample
from lmech.laws.transfer.mup_transformer import LAW as COORD
from lmech.laws.transfer.mup_transformer_lr import LAW, Spec


def test_entropy_rate_matches_the_sampled_sequences():
    spec = Spec()
    P, H = markov_chain(spec)
    torch.testing.assert_close(P.sum(1), torch.ones(spec.vocab, dtype=torch.float64))
    x = sample(P, 4000, 40, torch.Generator().manual_seed(0))
    # mean -log P(x_{t+1} | x_t) over the second half (chain mixed): Monte Carlo of H
    nll = -P[x[:, 20:-1], x[:, 21:]].log().mean().item()
    se = (-P[x[:, 20:-1], x[:, 21:]].log()).std().item() / math.sqrt(4000 * 19)
    assert abs(nll - H) < 5 * se + 1e-3, (nll, H, se)
    assert 0 < H < math.log(spec.vocab)


def test_theories_are_the_declared_exponents():
    t = LAW.theory(LAW.presets["quick"])
    assert set(zip(t["arm"], t["lr_exponent"], strict=True)) == {("mup", 0.0), ("sp", -1.0)}
    c = COORD.theory(COORD.presets["quick"])
    sp = c[(c["arm"] == "sp-adam") & (c["layer_type"] == "hidden")]
    assert (sp["slope"] == 1.0).all() and (c[c["arm"] == "mup-adam"]["slope"] == 0.0).all()
