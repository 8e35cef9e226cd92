"""cogs-homomorphism and cogs-constructed-solutions: tables and statistics vs independent counts."""

import numpy as np
import pandas as pd
import pytest

from lmech.errors import ConfigError
from lmech.laws.grokking import cogs as law
from lmech.theory import cogs as C


def test_constructions_theory_widths_are_the_closed_forms():
    pred = law.constructions_theory(law.ConsSpec(moduli=(5, 7, 11, 23))).set_index(
        ["d", "construction"]
    )
    for d in (5, 7, 11, 23):
        nf = (d - 1) // 2
        assert pred.loc[(d, "order6"), "width"] == 3 * (d - 1)
        assert pred.loc[(d, "memorization"), "width"] == d * d * nf
        n4 = pred.loc[(d, "order46"), "n_order4"]
        assert 1 <= n4 < nf
        assert pred.loc[(d, "order46"), "width"] == 4 * n4 + 6 * (nf - n4)
        assert pred.loc[(d, "order6_ab"), "width"] == 3 * (d - 1)
    assert (pred["predicted_loss"] == 0).all()


def test_constructions_experiment_builds_the_predicted_widths_at_zero_loss():
    spec = law.ConsSpec(moduli=(5, 9, 11), memorization_max_d=9)
    pred, meas = law.constructions_theory(spec), law.constructions_experiment(spec, 7, "cpu")
    built = meas[meas["construction"] != law.PARTIAL].merge(pred, on=["d", "construction"])
    assert (built["width_x"] == built["width_y"]).all()
    assert built["loss"].max() <= 1e-12
    assert set(built["construction"]) == set(law.CONSTRUCTIONS)
    assert not ((meas["construction"] == "memorization") & (meas["d"] == 11)).any()
    partial = meas[meas["construction"] == law.PARTIAL]
    assert (partial["loss"] > 1e-3).all() and (
        partial["width"] == 3 * (partial["d"] - 1) // 2
    ).all()
    ev = law.constructions_evaluate(pred, meas)
    assert ev.values["max_loss"] == pytest.approx(built["loss"].max())
    assert ev.values["max_width_error"] == 0
    assert law.CONSTRUCTED.verdict(pred, meas).passed
    # a construction that misses zero loss by 1e-9 fails
    bad = meas.copy()
    bad.loc[bad["construction"] == "order46", "loss"] += 1e-9
    assert not law.CONSTRUCTED.verdict(pred, bad).passed


def test_even_modulus_is_refused_by_the_constructions_spec():
    with pytest.raises(ConfigError, match="odd"):
        law.ConsSpec(moduli=(5, 8))


def test_homomorphism_statistics_are_worst_defect_and_null():
    pred = law.homomorphism_theory(law.HomSpec(moduli=(5,)))
    rows = [{"d": 5, "trial": 0, "quantity": q, "defect": 1e-15} for q in law.CLAIMS]
    rows[2]["defect"] = 3e-11
    rows.append({"d": 5, "trial": 0, "quantity": law.NULL, "defect": 0.7})
    meas = pd.DataFrame(rows)
    ev = law.homomorphism_evaluate(pred, meas)
    assert ev.values["max_defect"] == pytest.approx(3e-11)
    assert ev.values["min_null_defect"] == pytest.approx(0.7)
    assert law.HOMOMORPHISM.verdict(pred, meas).passed
    meas.loc[0, "defect"] = 2e-10
    assert not law.HOMOMORPHISM.verdict(pred, meas).passed


def test_homomorphism_experiment_defects_are_round_off_and_null_is_order_one():
    spec = law.HomSpec(moduli=(5, 8), width_1=2, width_2=3, trials=2)
    meas = law.homomorphism_experiment(spec, 1, "cpu")
    claims = meas[meas["quantity"] != law.NULL]
    assert set(claims["quantity"]) == set(law.CLAIMS)
    assert claims["defect"].max() < 1e-12
    assert (meas.loc[meas["quantity"] == law.NULL, "defect"] > 0.1).all()
    assert np.isfinite(meas["defect"]).all()


def test_factorization_table_counts_a_hand_built_analysis():
    from lmech.laws.grokking._cogs import factorization_table

    rows = [
        {
            "d": 7,
            "member": 0,
            "k": 1,
            "order": 4,
            "error": 0.02,
            "factorable": True,
            "type": "nu=i * xi",
        },
        {
            "d": 7,
            "member": 0,
            "k": 2,
            "order": 6,
            "error": 0.04,
            "factorable": True,
            "type": "nu * syn",
        },
        {"d": 7, "member": 0, "k": 3, "order": 5, "error": -1.0, "factorable": False, "type": "-"},
    ]
    t = factorization_table(pd.DataFrame(rows)).iloc[0]
    assert t["non-4/6 count"].startswith("1.00")
    assert t["fact. err order-4"].startswith("2.00") and t["fact. err order-6"].startswith("4.00")
    assert t["nu=i * xi %"].startswith("50.00") and t["nu * syn %"].startswith("50.00")


def test_analyse_net_on_a_constructed_mixture_finds_exact_factorable_blocks():
    from lmech.laws.grokking._cogs import analyse_net

    d = 11
    flags = [True, False, True, False, True]
    net = C.order46_solution(d, flags, params=[np.exp(0.4j), 0.8, np.exp(2.0j), 1.3j, np.exp(-1j)])
    rows = pd.DataFrame(analyse_net(net, np.random.default_rng(0)))
    assert list(rows["order"]) == [4, 6, 4, 6, 4]
    assert rows["error"].max() < 1e-10 and rows["factorable"].all()
    assert set(rows.loc[rows["order"] == 4, "type"]) == {"nu=i * xi"}
    assert (rows["null_error"] > 0.1).all()


def test_factorization_statistics_and_failure_on_unfactorable_blocks():
    pred = law.factorization_theory(law.FacSpec(moduli=(7,)))
    base = {"d": 7, "member": 0, "null_error": 2.0, "type": "nu * syn", "factorable": True}
    meas = pd.DataFrame([{**base, "k": k, "order": 6, "error": 0.01} for k in (1, 2, 3)])
    ev = law.factorization_evaluate(pred, meas)
    assert ev.values["order46_shortfall"] == 0 and ev.values["median_error_gap"] == pytest.approx(
        0.01
    )
    assert law.FACTORIZATION.verdict(pred, meas).passed
    worse = meas.assign(order=[6, 5, 3], error=[0.01, -1.0, -1.0])
    assert law.factorization_evaluate(pred, worse).values["order46_shortfall"] == pytest.approx(
        2 / 3
    )
    assert not law.FACTORIZATION.verdict(pred, worse).passed
    assert not law.FACTORIZATION.verdict(pred, meas.assign(error=0.2)).passed


def test_factorization_init_scale_reaches_the_network():
    # a tiny init is the zero predictor: projected loss 1 - 1/d (independent closed form) up to
    # the one Adam step (weights move by lr = 0.01, outputs by ~lr^3 q); a large one is not
    from lmech.laws.grokking import cogs as law

    def loss(s):
        spec = law.FacSpec(moduli=(11,), width=64, steps=1, init_scale=s)
        return float(law.factorization_experiment(spec, 0, "cpu")["full_loss"].iloc[0])

    assert abs(loss(1e-3) - (1 - 1 / 11)) < 1e-4
    assert abs(loss(3.0) - (1 - 1 / 11)) > 1e-3


def test_solution_types_follow_the_paper_grouping_of_factor_pairs():
    from lmech.laws.grokking._cogs import solution_type

    assert solution_type(4, ("4c", "xi")) == "nu=i * xi"
    assert solution_type(4, ("xi", "xi")) == "other"  # both factors must match
    assert solution_type(6, ("4c", "syn")) == solution_type(6, ("4c", "syn_ab")) == "nu=i * syn_ab"
    assert solution_type(6, ("nu", "syn")) == "nu * syn"
    assert solution_type(6, ("nu", "syn_ab")) == "other"  # z_nu * z_syn,ab is not a solution
    assert solution_type(6, ("4c", "xi")) == "other"


def test_analyse_net_labels_every_block_type_of_a_constructed_network():
    from lmech.laws.grokking._cogs import analyse_net

    d = 13
    net = C.order46_solution(d, [True, False, True, False, True, False],
                             params=[np.exp(0.3j), 0.7 * np.exp(0.5j), np.exp(1.9j), 1.2, np.exp(-2j), 0.9j])  # fmt: skip
    g = np.random.default_rng(1)
    for k in (7, 8):  # unused here; the variant placed at k = 6 instead below
        del k
    ab = C.block_net(
        d, 6, *C._normalized(*C.order6_ab_block(np.exp(0.4j), np.exp(2.2j)), 1 / (2 * d))
    )
    za, zb, zc = net.fourier()
    keep = C.node_frequencies(net) != 6
    net = C.CoGSNet(net.ua[keep], net.ub[keep], net.w[keep]) + ab
    rows = pd.DataFrame(analyse_net(net, g)).set_index("k")
    assert rows["error"].max() < 1e-10 and rows["factorable"].all()
    assert list(rows["type"]) == [
        "nu=i * xi",
        "nu * syn",
        "nu=i * xi",
        "nu * syn",
        "nu=i * xi",
        "nu=i * syn_ab",
    ]


def test_law_engine_settings_are_the_papers_adam_on_the_summed_projected_loss():
    # independent computation: torch.optim.Adam (decay wd, eps 1e-8) on the paper's loss, the
    # projected MSE ||P o - y||^2 summed over the d outputs, from the same init and pairs.
    # The engine averages over outputs; the law passes it wd / d, eps 1e-8 / d and
    # project_output, which must give the same path to round-off
    import torch

    from lmech.data.groups import cyclic, train_test_split
    from lmech.experiment.group import train_on_group
    from lmech.nn.group import GroupMLP, group_data

    d, q, wd, lr, steps = 11, 16, 0.05, 0.01, 25
    spec = law.FacSpec(moduli=(d,))
    assert spec.project_output and spec.adam_eps == 1e-8  # the paper's (torch default) eps

    def engine(**kw):
        return train_on_group(cyclic(d), seeds=[3], split_seeds=[4], fractions=[0.9],
                              weight_decays=[wd / d], width=q, steps=steps, lr=lr, **kw)[1]  # fmt: skip

    X, Y = group_data(cyclic(d))
    tr = torch.from_numpy(train_test_split(cyclic(d), 0.9, 4)[0])

    def adam(eps, summed, decay, project=True):
        m = GroupMLP(d, q, "square", seed=3)
        opt = torch.optim.Adam(m.parameters(), lr=lr, weight_decay=decay, eps=eps)
        for _ in range(steps):
            opt.zero_grad()
            o = m(X[tr])
            o = o - o.mean(1, keepdim=True) if project else o
            sq = ((o - Y[tr]) ** 2).sum(1).mean()
            (sq if summed else sq / d).backward()
            opt.step()
        return m.W.detach().numpy(), m.V.detach().numpy()

    law_params = engine(eps=spec.adam_eps / d, project_output=spec.project_output)
    W, V = adam(1e-8, True, wd)
    assert np.abs(W - law_params["W"][0]).max() < 1e-10
    assert np.abs(V - law_params["V"][0]).max() < 1e-10
    # each departure alone is a different path: eps not divided by d (the old engine eps),
    # the unprojected loss, and the paper's wd on the mean loss (d times the decay); the eps
    # departure is small here (1.4e-5 measured over 25 steps) but 5 decades above round-off
    assert np.abs(engine(project_output=True)["W"][0] - W).max() > 1e-6
    assert np.abs(engine(eps=1e-8 / d)["W"][0] - W).max() > 1e-4
    W_old, _ = adam(1e-8, False, wd)
    assert np.abs(W_old - W).max() > 1e-3


def test_factorization_full_loss_is_the_projected_summed_mse_of_the_trained_net():
    # the law's full_loss (C.direct_loss) against a direct numpy evaluation of the trained
    # net's projected MSE summed over outputs on all d^2 pairs; and the engine's logged
    # train loss is 1/d of the same sum over the training pairs
    from lmech.data.groups import cyclic
    from lmech.experiment.group import train_on_group
    from lmech.nn.group import group_data

    d, q = 11, 32
    curves, params, masks = train_on_group(
        cyclic(d), seeds=[0], fractions=[0.9], weight_decays=[1e-5], width=q, steps=30,
        lr=0.01, eps=1e-9, project_output=True,
    )  # fmt: skip
    X, Y = (t.numpy() for t in group_data(cyclic(d)))
    W, V = params["W"][0], params["V"][0]
    o = (X @ W) ** 2 @ V
    per_pair = ((o - o.mean(1, keepdims=True) - Y) ** 2).sum(1)
    net = C.CoGSNet(W[:d].T, W[d:].T, V)
    assert C.direct_loss(net) == pytest.approx(per_pair.mean(), rel=1e-12)
    logged = curves.loc[curves["step"] == 30, "train_loss"].iloc[0]
    assert logged == pytest.approx(per_pair[masks[0]].mean() / d, rel=1e-12)
    # unprojected, the logged loss also charges the output's class mean
    assert ((o - Y) ** 2).sum(1)[masks[0]].mean() / d > logged * (1 + 1e-6)


def test_gallery_and_factorization_figures_draw_constructed_data():
    from matplotlib.figure import Figure

    from lmech.figures.grokking import block_gallery_figure, factorization_figure
    from lmech.laws.grokking._cogs import analyse_net

    net = C.order46_solution(11, [True, False, True, False, False])
    assert isinstance(block_gallery_figure(net), Figure)
    assert isinstance(block_gallery_figure(net, 2), Figure)
    meas = pd.DataFrame(analyse_net(net, np.random.default_rng(0))).assign(d=11, member=0)
    assert isinstance(
        factorization_figure(law.factorization_theory(law.FacSpec(moduli=(11,))), meas), Figure
    )
    with pytest.raises(ValueError, match="no order-4/6 block"):
        block_gallery_figure(C.order6_solution(5), 2) if False else block_gallery_figure(
            C.CoGSNet.zero(5) + C.block_net(5, 1, *C.syn_block())
        )
