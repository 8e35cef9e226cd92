"""Figures of in-context regression by linear attention: theory lines over measurements.

Each function reads the tidy tables of an ``icl-*`` law (or tables of the same columns a
user builds) and returns a matplotlib Figure.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = [
    "asymptotics_figure",
    "double_descent_figure",
    "task_gap_figure",
    "alignment_figure",
    "alignment_law_figure",
    "depth_figure",
    "depth_law_figure",
    "transformer_peak_figure",
    "full_attention_figure",
    "tradeoff_figure",
    "time_width_figure",
    "finite_tau_tradeoff_figure",
    "deep_training_figure",
]


def asymptotics_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """Finite-d error against 1/d per point, with the d -> infinity theory at 1/d = 0."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for i, (_, row) in enumerate(pred.iterrows()):
        color = plt.cm.tab10(i % 10)
        sub = meas[meas["point"] == row["point"]]
        g = sub.groupby("d")[f"{row['kind']}_error"]
        d = np.array(sorted(sub["d"].unique()), dtype=float)
        ax.errorbar(
            1 / d,
            g.mean().loc[d],
            yerr=g.sem().fillna(0).loc[d],
            fmt="o",
            color=color,
            ms=4,
            label=f"{row['kind']} a={row['alpha']:g} k={row['kappa']:g} t={row['tau']:g}",
        )
        ax.plot([0], [row["error"]], "*", color=color, ms=10)
        if len(d) > 1:
            c = np.polyfit(1 / d, g.mean().loc[d], 1)
            xs = np.linspace(0, 1 / d.min(), 20)
            ax.plot(xs, np.polyval(c, xs), "--", color=color, lw=0.8)
    ax.set(xlabel="1/d", ylabel="test error", xlim=(-0.003, None))
    ax.set_title("Linear attention: finite d vs asymptotic theory (stars)", fontsize=10)
    ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def double_descent_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """ICL error against tau, one colour per ridge: theory lines, finite-d means (points)."""
    from lmech.theory.icl import icl_error

    fig, ax = plt.subplots(figsize=(6, 4.2))
    alpha, rho = float(pred["alpha"].iloc[0]), float(pred["rho"].iloc[0])
    kappa = float(pred["kappa"].iloc[0])
    ts = np.geomspace(pred["tau"].min() * 0.8, pred["tau"].max() * 1.2, 300)
    top = meas[meas["d"] == meas["d"].max()]
    for i, lam in enumerate(sorted(pred["ridge"].unique())):
        color = plt.cm.viridis(i / max(1, pred["ridge"].nunique() - 1))
        ax.plot(
            ts,
            icl_error(alpha, kappa, ts, rho, lam),
            "-",
            color=color,
            lw=1,
            label=f"theory lambda={lam:g}",
        )
        m = top[np.isclose(top["ridge"], lam)].groupby("tau")["icl_error"]
        ax.errorbar(
            m.mean().index,
            m.mean(),
            yerr=m.sem().fillna(0),
            fmt="o",
            color=color,
            ms=4,
            label=f"d={int(top['d'].iloc[0])}",
        )
    ax.axvline(1.0, color="gray", ls=":", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="tau = n / d^2", ylabel="ICL error")
    ax.set_title(
        f"Double descent in tau (alpha={alpha:g}, kappa={kappa:g}, rho={rho:g})", fontsize=10
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def task_gap_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """g_task = e_ICL - e_IDG against log kappa: theory, linear attention per d, dMMSE."""
    from lmech.theory.icl import icl_curve

    fig, ax = plt.subplots(figsize=(6, 4.2))
    a, t, r = (float(pred[c].iloc[0]) for c in ("alpha", "tau", "rho"))
    ks = np.geomspace(pred["kappa"].min() * 0.8, pred["kappa"].max() * 1.2, 200)
    ax.plot(ks, icl_curve(a, ks, t, r)["task_gap"], "k-", lw=1, label="theory (d = inf)")
    la = meas[meas.get("model", "linear_attention") == "linear_attention"]
    for i, (d, g) in enumerate(la.groupby("d")):
        gap = (g["icl_error"] - g["idg_error"]).groupby(g["kappa"])
        ax.errorbar(
            gap.mean().index,
            gap.mean(),
            yerr=gap.sem().fillna(0),
            fmt="o",
            ms=4,
            color=plt.cm.viridis(i / max(1, la["d"].nunique() - 1)),
            label=f"linear attention d={d}",
        )
    if "model" in meas:
        dm = meas[meas["model"] == "dmmse"]
        ax.plot(
            dm["kappa"], dm["icl_error"] - dm["idg_error"], "s--", color="C3", ms=4, label="dMMSE"
        )
    ax.axvline(1.0, color="gray", ls=":", lw=1)
    ax.set(xscale="log", xlabel="kappa = k / d", ylabel="g_task = e_ICL - e_IDG")
    ax.set_title(f"Memorization to ICL (alpha={a:g}, tau={t:g}, rho={r:g})", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def alignment_figure(train_spectrum, tests: dict, alpha, tau, rho, kappas=None):
    """Theory: ICL error against kappa for several test covariances (the alignment trade-off).

    ``tests`` maps a label to a test spectrum (same basis as ``train_spectrum``); e.g. a
    spike on the top pretraining direction gets worse with kappa while an isotropic test
    improves (Letey et al. 2025).
    """
    from lmech.theory.icl import aligned_icl_error

    kappas = np.geomspace(0.1, 16, 25) if kappas is None else np.asarray(kappas)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for label, spec in tests.items():
        e = [aligned_icl_error(train_spectrum, spec, alpha, k, tau, rho) for k in kappas]
        ax.plot(kappas, e, "-o", ms=3, label=label)
    ax.axvline(1.0, color="gray", ls=":", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="kappa = k / d", ylabel="ICL error (theory)")
    ax.set_title(f"Pretrain-test alignment (alpha={alpha:g}, tau={tau:g})", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def depth_figure(alphas=(0.5, 1, 2, 8), depths=(1, 2, 4, 8, 16, 64), noise=0.1):
    """Theory: optimal-gamma error of deep linear attention against depth, ISO data."""
    from lmech.theory.icl import bayes_iso_error, deep_iso_optimal

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for i, a in enumerate(alphas):
        color = plt.cm.viridis(i / max(1, len(alphas) - 1))
        ax.plot(
            depths,
            [deep_iso_optimal(L, a, noise)[1] for L in depths],
            "-o",
            ms=3,
            color=color,
            label=f"alpha={a:g}",
        )
        ax.axhline(bayes_iso_error(a, noise), color=color, ls=":", lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="depth L", ylabel="ICL error (theory, best gamma)")
    ax.set_title("Deep linear attention, ISO (dotted: Bayes)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def alignment_law_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """ICL error per test covariance: theory (lines), finite-d means (points), per kappa."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    tests = list(dict.fromkeys(pred["test"]))
    x = np.arange(len(tests))
    for i, (k, grp) in enumerate(pred.groupby("kappa")):
        color = plt.cm.tab10(i)
        ax.plot(
            x,
            grp.set_index("test").loc[tests, "icl_error"],
            "-",
            color=color,
            label=f"theory kappa={k:g}",
        )
        ax.axhline(grp["isotropic_null"].iloc[0], color=color, ls=":", lw=0.8)
        m = meas[np.isclose(meas["kappa"], k)]
        for j, (d, g) in enumerate(m.groupby("d")):
            mean = g.groupby("test")["icl_error"].mean().loc[tests]
            ax.plot(
                x + 0.06 * (j - 1),
                mean,
                "o",
                color=color,
                ms=3 + j,
                alpha=0.4 + 0.6 * j / max(1, m["d"].nunique() - 1),
                label=f"d={d}" if i == 0 else None,
            )
    ax.set_xticks(x, tests)
    ax.set(ylabel="ICL error")
    ax.set_title("Pretrain-test alignment (dotted: alignment-blind Result 1)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def depth_law_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """Best-gamma error against depth: ISO per alpha (left), RRS at long context (right)."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4))
    pi, mi = pred[pred["setting"] == "iso"], meas[meas["setting"] == "iso"]
    for i, a in enumerate(sorted(pi["alpha"].unique())):
        color = plt.cm.viridis(i / max(1, pi["alpha"].nunique() - 1))
        t, m = pi[pi["alpha"] == a], mi[np.isclose(mi["alpha"], a)]
        ax.plot(t["depth"], t["loss"], "-", color=color, label=f"theory alpha={a:g}")
        ax.plot(m["depth"], m["loss"], "o", color=color, ms=4)
    ax.set(xscale="log", yscale="log", xlabel="depth L", ylabel="best-gamma ICL error")
    ax.set_title("ISO: depth helps at short context", fontsize=10)
    ax.legend(fontsize=7)
    pr, mr = pred[pred["setting"] == "rrs"], meas[meas["setting"] == "rrs"]
    bx.plot(pr["depth"], pr["loss"], "k-", label="theory, infinite context")
    if len(mr):
        bx.plot(
            mr["depth"], mr["loss"], "o", ms=4, label=f"simulation alpha={mr['alpha'].iloc[0]:g}"
        )
    expo = float(pred["rrs_exponent"].iloc[0])
    L = pr["depth"].to_numpy(dtype=float)
    bx.plot(
        L,
        pr["loss"].iloc[-1] * (L / L[-1]) ** -expo,
        ":",
        color="gray",
        label=f"L^-{expo:.2f} (long-spectrum exponent)",
    )
    bx.set(xscale="log", yscale="log", xlabel="depth L", ylabel="excess error")
    bx.set_title("RRS: depth helps at long context", fontsize=10)
    bx.legend(fontsize=7)
    fig.tight_layout()
    return fig


def transformer_peak_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """Test error against tau: linear-attention theory and simulation, softmax Transformer."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.plot(pred["tau"], pred["linear_icl_error"], "k-", lw=1, label="linear attention, theory")
    for model, style in (("linear_attention", "o"), ("transformer", "s--")):
        m = meas[meas["model"] == model].groupby("tau")["test_error"]
        ax.errorbar(
            m.mean().index,
            m.mean(),
            yerr=m.sem().fillna(0),
            fmt=style,
            ms=4,
            label=model.replace("_", " "),
        )
    ax.axvline(1.0, color="gray", ls=":", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="tau = n / d^2", ylabel="test error")
    ax.set_title("Interpolation peaks: linear attention vs softmax Transformer", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def full_attention_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """ICL and IDG error against kappa: the reduced optimum (lines), the trained full
    linear-attention layer (points with paired standard errors), the isotropic null."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for kind, color in (("icl", "C0"), ("idg", "C1")):
        p = pred[pred["kind"] == kind].sort_values("kappa")
        m = meas[meas["kind"] == kind].sort_values("kappa")
        ax.plot(p["kappa"], p["error"], "-", color=color, label=f"reduced optimum, {kind}")
        ax.plot(p["kappa"], p["isotropic_null"], ":", color=color, lw=0.8)
        ax.errorbar(
            m["kappa"],
            m["error"],
            yerr=m["error_se"],
            fmt="o",
            color=color,
            ms=5,
            label=f"trained full layer, {kind}",
        )
    ax.set(xscale="log", xlabel="kappa = k/d", ylabel="test error")
    ax.set_title("Full linear attention trained by Adam vs reduced Gamma*", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def tradeoff_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """ICL error against kappa for the top-aligned and isotropic tests: the alignment
    theory (lines) and the pretrained model's pool means (points)."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    for ax, test in zip(axes, ("top", "isotropic"), strict=True):
        p = pred[pred["test"] == test].sort_values("kappa")
        g = meas[meas["test"] == test].groupby("kappa")["icl_error"]
        ax.plot(p["kappa"], p["icl_error"], "-", color="C0", label="alignment theory")
        ax.errorbar(
            g.mean().index,
            g.mean(),
            yerr=g.sem().fillna(0),
            fmt="o",
            color="C1",
            ms=4,
            label="pretrained model",
        )
        ax.set(xscale="log", xlabel="kappa = k/d", ylabel="ICL error", title=f"{test} test")
        ax.legend(fontsize=7)
    fig.suptitle("More task diversity: worse on the top direction, better on average", fontsize=10)
    fig.tight_layout()
    return fig


def time_width_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """Excess loss over the full-rank optimum against training time (left) and rank (right):
    theory lines, measured points, the isotropic (one-rate / linear-in-N) null dashed."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, setting, label in zip(
        axes, ("time", "width"), ("training time T", "key/query rank N"), strict=True
    ):
        t = pred[pred["setting"] == setting].sort_values("x")
        m = meas[meas["setting"] == setting].sort_values("x")
        floor = float(t["floor"].iloc[0]) if len(t) else 0.0
        ax.plot(t["x"], t["loss"] - floor, "k-", label="theory")
        ax.plot(m["x"], m["loss"] - floor, "o", ms=4, label="simulation")
        ax.plot(t["x"], t["null_loss"] - floor, "--", color="gray", label="isotropic null")
        if len(t):
            b = float(t["asymptotic_exponent"].iloc[0])
            x = t["x"].to_numpy(dtype=float)
            y_end = float(t["loss"].iloc[-1]) - floor
            ax.plot(x, y_end * (x / x[-1]) ** -b, ":", color="tab:red", label=f"x^-{b:.2f}")
        ax.set(xscale="log", yscale="log", xlabel=label, ylabel="loss - full-rank optimum")
        ax.legend(fontsize=7)
    axes[0].set_title("SGD learning curve (FS, one layer)", fontsize=10)
    axes[1].set_title("width: rank-N attention", fontsize=10)
    fig.tight_layout()
    return fig


def finite_tau_tradeoff_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """Left: measured / theory - 1 at finite tau against 1/d per (kappa, test) cell.
    Right: the top-spike error against kappa at the largest d, finite tau and tau -> inf."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4))
    key = ["d", "kappa", "pretraining", "test"]
    mean = meas.groupby(key)["icl_error"].mean().rename("measured").reset_index()
    m = mean.merge(pred, on=key)
    fin = m[m["pretraining"] == "finite"]
    for (k, name), cell in fin.groupby(["kappa", "test"]):
        cell = cell.sort_values("d")
        ax.plot(
            1 / cell["d"],
            cell["measured"] / cell["icl_error"] - 1,
            "o-",
            ms=4,
            label=f"kappa={k:g} {name}",
        )
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xlabel="1/d", ylabel="measured / theory - 1 (finite tau)")
    ax.legend(fontsize=7)
    d = m["d"].max()
    top = m[(m["test"] == "top") & (m["d"] == d)]
    for label, style in (("finite", "tab:red"), ("infinite", "tab:blue")):
        t = top[top["pretraining"] == label].sort_values("kappa")
        bx.plot(t["kappa"], t["icl_error"], "-", color=style, label=f"theory, tau {label}")
        bx.plot(t["kappa"], t["measured"], "o", color=style, ms=4)
    bx.set(xscale="log", xlabel="kappa", ylabel=f"top-spike ICL error (d = {d:g})")
    bx.legend(fontsize=7)
    fig.tight_layout()
    return fig


def deep_training_figure(pred: pd.DataFrame, meas: pd.DataFrame):
    """Test loss against training time per depth: gradient-flow theory lines, SGD points."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for i, L in enumerate(sorted(pred["depth"].unique())):
        color = plt.cm.tab10(i % 10)
        t = pred[pred["depth"] == L].sort_values("time")
        m = meas[meas["depth"] == L].sort_values("time")
        ax.plot(t["time"], t["loss"], "-", color=color, label=f"flow theory L={L:g}")
        ax.plot(m["time"], m["loss"], "o", color=color, ms=4, label=f"SGD L={L:g}")
    ax.set(xscale="log", xlabel="training time T", ylabel="ICL test loss")
    ax.set_title("ISO deep linear attention: depth slow early, better late", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
