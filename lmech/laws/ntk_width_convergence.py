r"""ntk-width-convergence: the empirical NTK at initialization converges to the analytic NTK.

Claim:
    For an MLP in NTK parameterization of width w, the empirical NTK at a random
    initialization fluctuates around the infinite-width NTK with an O(1/sqrt(w)) amplitude:
    the relative Frobenius error

    .. math:: \epsilon(w) = \frac{\|\hat\Theta_w(X, X) - \Theta(X, X)\|_F}{\|\Theta(X, X)\|_F}

    averaged over initializations scales as :math:`w^{-1/2}`; a least-squares fit of
    log eps against log w over the widths has slope in [-0.6, -0.4] (metric: |slope + 0.5|,
    tolerance 0.1).

System:
    ``num_inputs`` Gaussian inputs in d = ``input_dim`` dimensions (seeded by ``data_seed``),
    a depth-L ReLU MLP (neural-tangents' ``stax.serial(*[Dense(w, W_std, b_std), Relu()] * L,
    Dense(1, W_std, b_std))`` convention, :mod:`lmech.nn.mlp`) and the analytic NTK of
    :class:`lmech.kernels.infinite.NTK` with the same arguments.

Measurement:
    the empirical NTK (:func:`lmech.kernels.empirical.empirical_ntk`, exact Jacobian
    contraction in float64) of ``seeds`` independent initializations per width.

Known limits:
    The mean error also has an O(depth/w) part (the expected empirical NTK differs from
    the limit at order 1/w, and the fluctuations are not yet Gaussian when the error is
    ~30%), which steepens the slope at the smallest widths and grows with depth. One
    hidden layer (quick preset): slopes -0.498, -0.507, -0.501 at seeds 1-3 (24
    initializations per width). Two hidden layers over the same widths 64..1024: -0.60
    (16 initializations, error 0.34 at w = 64) and -0.53 (32, no biases): the asymptotic
    rate only sets in at larger widths, which is what the paper preset (depth 3, widths up
    to 8192) covers.

Source:
    Jacot, Gabriel, Hongler, "Neural Tangent Kernel", NeurIPS 2018, Thm. 1; Hanin & Nica,
    "Finite depth and width corrections to the NTK", ICLR 2020 (O(1/sqrt(w)) fluctuations).

Run:
    ``lmech check ntk-width-convergence`` (quick, ~15 s on 2 CPU cores).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from lmech import progress
from lmech.errors import ConfigError
from lmech.kernels.base import gram
from lmech.kernels.empirical import empirical_ntk
from lmech.kernels.infinite import NTK
from lmech.laws.base import Law, Verdict
from lmech.nn.mlp import NTKMLP

TOLERANCE = 0.1  # |slope - (-1/2)| (issue 3: slope in [-0.6, -0.4])
PREDICTED_SLOPE = -0.5


@dataclass(frozen=True)
class Spec:
    input_dim: int = 10
    num_inputs: int = 8
    depth: int = 1  # hidden layers; see "Known limits" for depth 2
    activation: str = "relu"
    weight_std: float = 2.0**0.5
    bias_std: float = 0.1
    widths: tuple[int, ...] = (64, 128, 256, 512, 1024)
    seeds: int = 24  # initializations per width
    data_seed: int = 0

    def __post_init__(self) -> None:
        if len(self.widths) < 2 or min(self.widths) < 1:
            raise ConfigError(f"widths needs >= 2 positive widths; got {self.widths}")
        if self.seeds < 1 or self.num_inputs < 2 or self.input_dim < 1 or self.depth < 1:
            raise ConfigError("seeds >= 1, num_inputs >= 2, input_dim >= 1 and depth >= 1 needed")

    def inputs(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.data_seed)
        return torch.randn(self.num_inputs, self.input_dim, generator=g, dtype=torch.float64)

    def kernel(self) -> NTK:
        return NTK(
            depth=self.depth,
            activation=self.activation,
            weight_std=self.weight_std,
            bias_std=self.bias_std,
        )


PRESETS = {
    "smoke": Spec(widths=(16, 64), seeds=2, num_inputs=4),
    "quick": Spec(),
    "paper": Spec(depth=3, widths=(64, 128, 256, 512, 1024, 2048, 4096, 8192), seeds=32),
}


def _entries(K: torch.Tensor, **cols) -> pd.DataFrame:
    n = K.shape[0]
    i, j = np.triu_indices(n)
    return pd.DataFrame({**cols, "i": i, "j": j, "ntk": K.numpy()[i, j]})


def theory(spec: Spec) -> pd.DataFrame:
    return _entries(gram(spec.kernel(), spec.inputs()))


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    X = spec.inputs().to(device)
    rows = []
    with progress.task("empirical NTKs", len(spec.widths) * spec.seeds) as advance:
        for width in spec.widths:
            for s in range(spec.seeds):
                model = NTKMLP(
                    spec.input_dim,
                    width,
                    spec.depth,
                    activation=spec.activation,
                    weight_std=spec.weight_std,
                    bias_std=spec.bias_std,
                    seed=seed * 100_003 + s * 1_009 + width,
                ).to(device)
                K = empirical_ntk(model, X, mode="trace").detach().cpu()
                rows.append(_entries(K, width=width, init=s))
                advance(1)
    return pd.concat(rows, ignore_index=True)


def errors(pred: pd.DataFrame, meas: pd.DataFrame) -> pd.DataFrame:
    """Relative Frobenius error per (width, init), off-diagonal entries counted twice."""
    m = meas.merge(pred[["i", "j", "ntk"]].rename(columns={"ntk": "limit"}), on=["i", "j"])
    weight = np.where(m["i"] == m["j"], 1.0, 2.0)
    m["num"] = weight * (m["ntk"] - m["limit"]) ** 2
    m["den"] = weight * m["limit"] ** 2
    g = m.groupby(["width", "init"])[["num", "den"]].sum()
    return np.sqrt(g["num"] / g["den"]).rename("rel_err").reset_index()


def _fit(errs: pd.DataFrame) -> tuple[pd.DataFrame, float, float]:
    per_width = errs.groupby("width")["rel_err"].agg(["mean", "std", "count"]).reset_index()
    slope, intercept = np.polyfit(np.log(per_width["width"]), np.log(per_width["mean"]), 1)
    return per_width, float(slope), float(intercept)


def compare(pred: pd.DataFrame, meas: pd.DataFrame) -> Verdict:
    per_width, slope, _ = _fit(errors(pred, meas))
    detail = f"log-log slope {slope:.3f} (theory -0.5); mean rel. error " + ", ".join(
        f"w={int(w)}: {e:.3g}" for w, e in zip(per_width["width"], per_width["mean"], strict=True)
    )
    return Verdict.from_metric(
        "abs_slope_minus_theory", abs(slope - PREDICTED_SLOPE), TOLERANCE, detail=detail
    )


def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    errs = errors(pred, meas)
    per_width, slope, intercept = _fit(errs)
    fig = Figure(figsize=(6.0, 4.4), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter(
        errs["width"], errs["rel_err"], s=8, alpha=0.3, color="C0", label="one initialization"
    )
    sem = per_width["std"] / np.sqrt(per_width["count"])
    ax.errorbar(
        per_width["width"],
        per_width["mean"],
        yerr=sem,
        fmt="o",
        color="C0",
        capsize=3,
        label="mean over initializations",
    )
    w = np.geomspace(per_width["width"].min(), per_width["width"].max(), 50)
    ax.plot(w, np.exp(intercept) * w**slope, color="C1", label=f"fit: slope {slope:.2f}")
    anchor = per_width["mean"].iloc[0] * (w / w[0]) ** PREDICTED_SLOPE
    ax.plot(w, anchor, "k--", lw=1, label="theory: slope -1/2")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # keep the tick labels readable
    ax.set_yscale("log")
    ax.set_xlabel("width w")
    ax.set_ylabel(r"$\|\hat\Theta_w - \Theta\|_F / \|\Theta\|_F$")
    ax.set_title("Empirical NTK at initialization -> analytic NTK", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, frameon=False)
    return fig


LAW = Law(
    name="ntk-width-convergence",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    compare=compare,
    figure=figure,
    metric="abs_slope_minus_theory",
    tolerance=TOLERANCE,
    source="Jacot, Gabriel, Hongler, Neural Tangent Kernel, NeurIPS 2018, Thm. 1",
    claim="the empirical NTK of an NTK-parameterized MLP converges to the analytic NTK as w^-1/2",
    tags=("kernels", "ntk", "infinite-width"),
    theory_columns=("i", "j", "ntk"),
    experiment_columns=("width", "init", "i", "j", "ntk"),
    doc=__doc__ or "",
)
