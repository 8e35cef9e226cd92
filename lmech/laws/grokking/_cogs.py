"""CoGS factorization analysis of trained networks: per-block rows and Tian's Table-2 summary."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmech.theory import cogs as C

__all__ = ["analyse_net", "factorization_table", "solution_type"]


def solution_type(order: int, labels: tuple[str, str]) -> str:
    """The Table-2 column of a factorable block from its order and its factors' labels
    (:func:`lmech.theory.cogs.classify_factors`), as Tian's Table 2 groups them."""
    if order == 4 and tuple(labels) == ("4c", "xi"):
        return "nu=i * xi"
    if order == 6 and tuple(labels) in (("4c", "syn_ab"), ("4c", "syn")):
        return "nu=i * syn_ab"
    if order == 6 and tuple(labels) == ("nu", "syn"):
        return "nu * syn"
    return "other"


def analyse_net(
    net: C.CoGSNet, null_rng: np.random.Generator, threshold: float = 0.05
) -> list[dict]:
    """One row per frequency k = 1..(d-1)/2: order, factorization error (-1: not analysed),
    factorable, the factors' labels ('4c,xi', 'nu,syn', ...), the Table-2 type; and the
    error of a random complex block of the same order (null)."""
    d = net.d
    freq = C.node_frequencies(net, threshold)
    za, zb, zc = net.fourier()
    rows = []
    for k in range(1, (d - 1) // 2 + 1):
        idx = np.flatnonzero(freq == k)
        row = {
            "k": k,
            "order": len(idx),
            "error": -1.0,
            "null_error": -1.0,
            "factorable": False,
            "factors": "-",
            "type": "-",
        }
        if len(idx) in (4, 6):
            f = C.factorize_block(za[idx, k], zb[idx, k], zc[idx, k])
            z = null_rng.standard_normal((3, len(idx), 2)) @ np.array([1, 1j])
            labels = C.classify_factors(f)
            row.update(error=f.error, factorable=f.factorable, factors=",".join(labels),
                       null_error=C.factorize_block(*(z * np.abs(za[idx, k]).mean())).error,
                       type=solution_type(len(idx), labels) if f.factorable else "-")  # fmt: skip
        rows.append(row)
    return rows


def factorization_table(meas: pd.DataFrame) -> pd.DataFrame:
    """Tian's Table 2 per d (mean over members; percentages x100 as in the paper)."""
    out = []
    for d, g in meas.groupby("d"):
        per = []
        for _, m in g.groupby("member"):
            o4, o6 = m[m["order"] == 4], m[m["order"] == 6]
            fac = m[m["factorable"]]
            row = {"non-4/6 count": int((~m["order"].isin([0, 4, 6])).sum())}
            row["non-fact. order-4 %"] = 100 * (~o4["factorable"]).mean() if len(o4) else 0.0
            row["non-fact. order-6 %"] = 100 * (~o6["factorable"]).mean() if len(o6) else 0.0
            row["fact. err order-4"] = (
                100 * o4.loc[o4["factorable"], "error"].mean() if o4["factorable"].any() else 0.0
            )
            row["fact. err order-6"] = (
                100 * o6.loc[o6["factorable"], "error"].mean() if o6["factorable"].any() else 0.0
            )
            for t in ("nu=i * xi", "nu=i * syn_ab", "nu * syn", "other"):
                row[f"{t} %"] = 100 * (fac["type"] == t).mean() if len(fac) else 0.0
            per.append(row)
        p = pd.DataFrame(per)
        mean, se = p.mean(), p.std(ddof=1) / np.sqrt(len(p)) if len(p) > 1 else p.mean() * 0
        out.append(
            {"d": d, "members": len(p), **{c: f"{mean[c]:.2f} +- {se[c]:.2f}" for c in p.columns}}
        )
    return pd.DataFrame(out)
