"""The Li^2 network on group pairs (lmech.nn.group) and its vmapped training
(lmech.experiment.group)."""

import numpy as np
import pytest
import torch

from lmech.data.groups import cyclic, get_group, train_test_split
from lmech.errors import ConfigError
from lmech.experiment.group import train_on_group
from lmech.nn.group import GroupMLP, group_data


def test_group_data_and_forward():
    g = get_group("D4")
    X, Y = group_data(g)
    a, b, c = g.pairs()
    assert X.shape == (64, 16) and (X.sum(1) == 2).all()
    assert (X[torch.arange(64), torch.from_numpy(a)] == 1).all()
    np.testing.assert_allclose(Y.sum(1).numpy(), 0.0, atol=1e-15)
    assert (Y.argmax(1).numpy() == c).all()
    net = GroupMLP(8, 5, seed=3)
    W, V = net.W.detach().numpy(), net.V.detach().numpy()
    expect = ((W[a] + W[8 + b]) ** 2) @ V  # sigma(W[a] + W[M + b]) V
    np.testing.assert_allclose(net(X).detach().numpy(), expect, rtol=1e-12)
    relu = GroupMLP(8, 5, "relu", seed=3)
    np.testing.assert_allclose(
        relu(X).detach().numpy(), np.maximum(W[a] + W[8 + b], 0) @ V, rtol=1e-12
    )


def test_train_on_group_reports_held_out_accuracy():
    g = cyclic(7)
    curves, params, masks = train_on_group(
        g,
        seeds=[0, 1],
        fractions=[0.4, 0.7],
        weight_decays=[1e-3, 0.0],
        width=12,
        steps=15,
        lr=3e-2,
    )
    assert params["W"].shape == (2, 14, 12) and params["V"].shape == (2, 12, 7)
    assert masks.sum(1).tolist() == [round(0.4 * 49), round(0.7 * 49)]
    assert (np.nonzero(masks[1])[0] == train_test_split(g, 0.7, 1)[0]).all()  # own split
    assert sorted(curves["step"].unique()) == [0, 15]
    final = curves[curves["step"] == 15].set_index("member")
    # recompute train and held-out accuracy from the returned weights
    X, _ = group_data(g)
    _, _, c = g.pairs()
    X = X.numpy()
    for e in range(2):
        pred = ((X @ params["W"][e]) ** 2 @ params["V"][e]).argmax(1)
        ok = pred == c
        assert final.loc[e, "train_accuracy"] == pytest.approx(ok[masks[e]].mean(), abs=1e-12)
        assert final.loc[e, "test_accuracy"] == pytest.approx(ok[~masks[e]].mean(), abs=1e-12)


def test_split_seeds_choose_each_members_pairs_and_seeds_its_init():
    g = cyclic(7)
    _, params, masks = train_on_group(
        g, seeds=[5, 5], split_seeds=[11, 12], fractions=[0.5, 0.5], weight_decays=[0.0, 0.0],
        width=6, steps=0, lr=1e-2,
    )  # fmt: skip
    for e, split in enumerate([11, 12]):
        assert (np.nonzero(masks[e])[0] == train_test_split(g, 0.5, split)[0]).all()
        np.testing.assert_array_equal(params["W"][e], GroupMLP(7, 6, seed=5).W.detach().numpy())
    assert not (masks[0] == masks[1]).all()  # same init, different pairs
    with pytest.raises(ConfigError, match="split_seeds"):
        train_on_group(g, seeds=[0], split_seeds=[1, 2], fractions=[0.5], weight_decays=[0.0],
                       width=3, steps=1, lr=1e-2)  # fmt: skip


def test_cross_entropy_training_learns_the_table():
    g = cyclic(5)
    curves, params, masks = train_on_group(
        g, seeds=[0], fractions=[0.8], weight_decays=[0.0], width=32, steps=300, lr=2e-2,
        loss="cross_entropy",
    )  # fmt: skip
    X, _ = group_data(g)
    _, _, c = g.pairs()
    pred = ((X.numpy() @ params["W"][0]) ** 2 @ params["V"][0]).argmax(1)
    final = curves[curves["step"] == 300].iloc[0]
    assert final["train_accuracy"] == pytest.approx((pred == c)[masks[0]].mean())
    assert final["train_accuracy"] == 1.0  # 20 pairs, 32 units: it memorizes
    with pytest.raises(ConfigError, match="loss"):
        train_on_group(g, seeds=[0], fractions=[0.5], weight_decays=[0.0], width=3, steps=1,
                       lr=1e-2, loss="hinge")  # fmt: skip


def test_ridge_top_layer_is_the_closed_form_solution():
    g, lam = cyclic(7), 1e-2
    curves, params, masks = train_on_group(
        g, seeds=[0, 1], fractions=[0.5, 0.7], weight_decays=[1e-4, 1e-4], width=16,
        steps=40, lr=1e-2, ridge=lam,
    )  # fmt: skip
    X, Y = group_data(g)
    X, Y = X.numpy(), Y.numpy()
    for e in range(2):
        F = (X[masks[e]] @ params["W"][e]) ** 2
        V = np.linalg.solve(F.T @ F + lam * np.eye(16), F.T @ Y[masks[e]])
        np.testing.assert_allclose(params["V"][e], V, rtol=1e-8, atol=1e-10)
    # the W of a ridge run moved, and the logged train accuracy is that of the ridge net
    assert not np.allclose(params["W"][0], GroupMLP(7, 16, seed=0).W.detach().numpy())
    with pytest.raises(ConfigError, match="ridge"):
        train_on_group(g, seeds=[0], fractions=[0.5], weight_decays=[0.0], width=3, steps=1,
                       lr=1e-2, ridge=0.0)  # fmt: skip


def test_bad_configuration():
    with pytest.raises(ConfigError, match="width"):
        GroupMLP(5, 0)
    with pytest.raises(ConfigError, match="activation"):
        GroupMLP(5, 3, "tanh")
    with pytest.raises(ConfigError, match="same positive length"):
        train_on_group(
            cyclic(5),
            seeds=[0],
            fractions=[0.5, 0.6],
            weight_decays=[0.0],
            width=3,
            steps=1,
            lr=1e-2,
        )


def test_eps_and_projected_output_follow_torch_adam_on_the_projected_loss():
    # independent computation: torch.optim.Adam with the same eps on the engine's loss
    # (mean over outputs of (P o - y)^2, P o = o - mean_c o) from the same init and pairs
    g, d, q, lr, wd, eps, steps = cyclic(7), 7, 10, 0.02, 1e-3, 1e-5, 20
    _, params, masks = train_on_group(
        g, seeds=[2], fractions=[0.8], weight_decays=[wd], width=q, steps=steps, lr=lr,
        eps=eps, project_output=True,
    )  # fmt: skip
    X, Y = group_data(g)
    tr = torch.from_numpy(np.flatnonzero(masks[0]))
    m = GroupMLP(d, q, seed=2)
    opt = torch.optim.Adam(m.parameters(), lr=lr, weight_decay=wd, eps=eps)
    for _ in range(steps):
        opt.zero_grad()
        o = m(X[tr])
        ((o - o.mean(1, keepdim=True) - Y[tr]) ** 2).mean().backward()
        opt.step()
    np.testing.assert_allclose(params["W"][0], m.W.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(params["V"][0], m.V.detach().numpy(), rtol=0, atol=1e-10)
    # the default is the unprojected loss with torch's eps 1e-8: a different path
    _, plain, _ = train_on_group(g, seeds=[2], fractions=[0.8], weight_decays=[wd], width=q,
                                 steps=steps, lr=lr)  # fmt: skip
    assert np.abs(plain["W"][0] - params["W"][0]).max() > 1e-4


def test_eps_and_projection_are_validated():
    kw = dict(seeds=[0], fractions=[0.5], weight_decays=[0.0], width=3, steps=1, lr=1e-2)
    with pytest.raises(ConfigError, match="eps"):
        train_on_group(cyclic(5), eps=0.0, **kw)
    with pytest.raises(ConfigError, match="project_output"):
        train_on_group(cyclic(5), project_output=True, loss="cross_entropy", **kw)
    with pytest.raises(ConfigError, match="project_output"):
        train_on_group(cyclic(5), project_output=True, ridge=1e-2, **kw)
