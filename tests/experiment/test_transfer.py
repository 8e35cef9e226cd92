"""transfer_study / optimal_lrs / transfer_verdict against losses with a known optimum."""

import math

import numpy as np
import pytest

from lmech.experiment.transfer import optimal_lrs, transfer_figure, transfer_study, transfer_verdict


def _loss(center):
    # log loss is an exact parabola in log2 lr with its minimum at center(size) (+ seed offset)
    return lambda size, lr, seed: math.exp(0.3 * (math.log2(lr) - center(size)) ** 2 + 0.01 * seed)


def test_optimum_recovered_and_verdicts():
    lrs = 2.0 ** np.arange(-12, -1)
    calls = []

    def my_map(f, jobs):
        jobs = list(jobs)
        calls.append(len(jobs))
        return [f(j) for j in jobs]

    flat = transfer_study(_loss(lambda s: -6.3), [32, 64, 128], lrs, seeds=(0, 1, 2), map_fn=my_map)
    assert calls == [3 * len(lrs) * 3]
    opt = optimal_lrs(flat)
    assert opt["log2_lr_opt"].to_numpy() == pytest.approx([-6.3] * 3, abs=1e-9)
    assert opt["log2_lr_se"].to_numpy() == pytest.approx([0.0] * 3, abs=1e-9)  # seed offsets cancel
    v = transfer_verdict(opt, factor=2.0)
    assert v["transfers"] and v["shift_octaves"] == pytest.approx(0.0, abs=1e-9)
    # eta* ∝ 1/size: slope -1, shift 2 octaves over 32..128
    drift = optimal_lrs(transfer_study(_loss(lambda s: -1.0 - math.log2(s)), [32, 64, 128], lrs))
    v = transfer_verdict(drift, factor=2.0)
    assert not v["transfers"] and v["slope"] == pytest.approx(-1.0, abs=1e-9)
    assert v["shift_octaves"] == pytest.approx(2.0, abs=1e-9)
    assert np.isnan(drift["log2_lr_se"]).all()  # one seed: no bootstrap
    transfer_figure(flat, opt)


def test_diverged_runs_and_grid_edge():
    lrs = 2.0 ** np.arange(-6, 0)
    t = transfer_study(
        lambda s, lr, sd: float("nan") if lr > 0.2 else 1.0 / lr, [8, 16], lrs, loss_cap=100.0
    )
    assert t["loss"].max() == 100.0
    opt = optimal_lrs(t)  # grid minimum 2^-3 next to a capped run: interior, kept in [-4, -2]
    assert not opt["at_edge"].any()
    assert ((opt["log2_lr_opt"] >= -4) & (opt["log2_lr_opt"] <= -2)).all()
    edge = optimal_lrs(transfer_study(lambda s, lr, sd: 1.0 / lr, [8, 16], lrs))
    assert edge["at_edge"].all() and (edge["log2_lr_opt"] == -1.0).all()


def test_adam_lr_sweep_equals_torch_adam_over_mup_groups():
    import torch

    from lmech.experiment.transfer import adam_lr_sweep
    from lmech.nn import mup
    from lmech.nn.gpt import GPT, GPTConfig

    cfg = GPTConfig(vocab=12, seq_len=6, d_model=32, n_layer=2, n_head=2)
    base, delta = GPT(cfg.with_width(8)), GPT(cfg.with_width(16))

    def make(seed):
        torch.manual_seed(seed)
        m = GPT(cfg).double()
        mup.parameterize(
            m, base=base, delta=delta, branches=GPT.branches(), depth=2, depth_alpha=1.0
        )
        return m

    def loss_fn(out, y):
        return torch.nn.functional.cross_entropy(out.flatten(0, 1), y.flatten())

    g = torch.Generator().manual_seed(3)
    batches = [
        (torch.randint(0, 12, (4, 6), generator=g), torch.randint(0, 12, (4, 6), generator=g))
        for _ in range(4)
    ]
    lrs, seeds = [1e-3, 3e-2], [0, 1]
    rows = {r.name: r for r in mup.table(make(0))}
    got = adam_lr_sweep(
        [make(s) for s in seeds], lrs, batches, batches[0], loss_fn=loss_fn,
        lr_factors={n: r.lr_adam for n, r in rows.items()}, eps_factors={n: r.eps_adam for n, r in rows.items()},
    )  # fmt: skip
    for i, s in enumerate(seeds):
        for j, lr in enumerate(lrs):
            m = make(s)
            opt = mup.optimizer(m, "adam", lr=lr)
            for x, y in batches:
                opt.zero_grad()
                loss_fn(m(x), y).backward()
                opt.step()
            with torch.no_grad():
                ref = loss_fn(m(batches[0][0]), batches[0][1]).item()
            assert got[i, j] == pytest.approx(ref, rel=1e-10), (s, lr)
    # in chunks of 1 and 3 of the 4 members (member i * 2 + j): the same torch.optim losses
    for k in (1, 3):
        part = adam_lr_sweep(
            [make(s) for s in seeds], lrs, iter(batches), batches[0], loss_fn=loss_fn,
            lr_factors={n: r.lr_adam for n, r in rows.items()},
            eps_factors={n: r.eps_adam for n, r in rows.items()}, max_members=k,
        )  # fmt: skip
        np.testing.assert_allclose(part, got, rtol=1e-12, atol=0)
