r"""hea-eigenvalues-gaussian: the HEA eigenvalues are the kernel's eigenvalues on Gaussian data.

Claim:
    On x ~ N(0, diag(gamma)), the top-100 kernel eigenvalues are
    lambda_alpha = c_|alpha| prod_i (gamma_i / Tr Sigma)^alpha_i, with c_l the derivatives
    of the on-shell kernel (:mod:`lmech.spectra.hea`), within 5% relative error rank by
    rank, for the Gaussian (RBF) kernel and the ReLU NTK.

System:
    d = 200, gamma_i proportional to (i + 6)^{-exponent}, Tr Sigma = 1.
    - RBF, bandwidth 4 (the paper's default setting), exponent 2 (d_eff = 19.6): the top
      100 modes are of degrees 0, 1 and 2.
    - ReLU NTK, 1 hidden layer, W_std = sqrt(2), b_std = 0.1 (neural-tangents
      conventions), exponent 1 (d_eff = 69). The NTK's c_l decay only algebraically, so
      the HEA needs gamma_1 c_{l+1} << c_l, i.e. a small top eigenvalue / large d_eff
      (the paper's condition); at exponent 2 we measured +5.7% at rank 20, where degree-1
      and degree-2 modes hybridize, so that setting is outside the claim.

Measurement:
    The eigenvalues of K / N for a Gram matrix of N Gaussian samples, averaged over
    ``trials`` independent draws, sorted. Variance reduction: each draw's standard-normal
    matrix is replaced by sqrt(N) times its Q factor, so its empirical second moments are
    exactly the identity (rows stay exchangeable and marginally Gaussian to O(d/N)). This
    removes the first-order O(sqrt(2/N)) fluctuation of the degree-1 eigenvalues (2.6% at
    N = 3000, which alone would put some of 100 ranks beyond 5%); the degree-2 ones keep
    theirs. Remaining estimator bias: eigenvalues of K/N overestimate small operator
    eigenvalues by about (eigenvalue mass below them) / (N lambda); measured for the NTK
    as a drift from 0% at rank 1 to -4.7% at rank 100 at N = 3000 and -3.3% at N = 5000.

Tolerance:
    5% for each kernel (one check each), rank by rank. Measured at the quick preset,
    seeds 0 / 1 / 2: RBF max 2.3% / 2.6% / 2.2% (median 0.4-0.5%, the worst at ranks
    78-89); NTK max 3.3% / 3.3% / 3.3% (median 1.7-1.8%, the worst at ranks 99-100, the
    estimator bias above). Before the draws came from :mod:`lmech.seeding` streams:
    RBF 2.4% / 1.9% / 2.3%, NTK 3.2% / 3.1% / 3.2%.

Where the ansatz is weaker (not part of the claim):
    the NTK's degree-2 eigenvalues. At d = 50, exponent 1 (d_eff 33), where 49 of the top
    100 modes have degree 2, the max error was 9.9% (median 1.8%); on isotropic data
    (d = 40) 76%: off the shell, |x|^2 fluctuates by sqrt(2 / d_eff) and the NTK's
    radial dependence (unlike the RBF's, which factorizes) couples to the degree-2 modes
    at their own order.

Source:
    Karkada, Turnbull, Liu, Simon, arXiv 2510.14878 (ICLR 2026), Sec. 3, Fig. 2.

Run:
    ``lmech check hea-eigenvalues-gaussian`` (quick, ~12 s on 2 CPU cores).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from lmech import progress
from lmech.errors import ConfigError
from lmech.kernels.base import RBF, gram
from lmech.kernels.infinite import NTK
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.spec import LawSpec, param
from lmech.seeding import rng
from lmech.spectra.hea import hea_modes, level_coefficients

KERNELS = ("rbf", "relu-ntk")
METRICS = {k: f"max_rel_err_eigenvalue_{k.replace('-', '_')}" for k in KERNELS}


@dataclass(frozen=True)
class Spec(LawSpec):
    """Gaussian data with gamma_i ~ (i + offset)^-exponent; the RBF and ReLU-NTK spectra."""

    dim: int = param(200, ge=2, doc="d: data dimension")
    offset: float = param(6.0, gt=0, doc="gamma_i ~ (i + offset)^-exponent")
    rbf_exponent: float = param(2.0, gt=0, doc="exponent of the RBF's data (d_eff 19.6)")
    ntk_exponent: float = param(1.0, gt=0, doc="exponent of the NTK's data (d_eff 69)")
    bandwidth: float = param(4.0, gt=0, doc="RBF sigma")
    ntk_depth: int = param(1, ge=1, doc="hidden layers of the ReLU MLP")
    top: int = param(100, ge=1, doc="ranks compared")
    rbf_samples: int = param(3000, ge=2, doc="N of each RBF Gram matrix")
    rbf_trials: int = param(4, ge=1)
    ntk_samples: int = param(5000, ge=2, doc="N of each NTK Gram matrix")
    ntk_trials: int = param(1, ge=1)

    def validate(self) -> None:
        if min(self.rbf_samples, self.ntk_samples) <= self.top:
            raise ConfigError(
                f"rbf_samples and ntk_samples must exceed top={self.top} (a Gram matrix of "
                f"N samples has N eigenvalues); got {self.rbf_samples} and {self.ntk_samples}"
            )

    def memory_bytes(self) -> int:
        # the largest Gram matrix with its scaled copy and eigvalsh's workspace (5 N^2
        # float64), the data (Z, its QR factors and the scaled inputs: 4 N x d), one row
        # block of the kernel's intermediates (4 x 1024 x N) and 64 MiB for the interpreter
        # and torch's temporaries (measured at quick: 699 MB of peak RSS growth)
        n = max(self.rbf_samples, self.ntk_samples)
        return 2**26 + 8 * (5 * n * n + 4 * n * self.dim + 4 * 1024 * n)

    def gammas(self, kernel: str) -> np.ndarray:
        exponent = self.rbf_exponent if kernel == "rbf" else self.ntk_exponent
        g = (np.arange(self.dim) + self.offset) ** -exponent
        return g / g.sum()  # Tr Sigma = 1

    def kernel(self, name: str):
        if name == "rbf":
            return RBF(self.bandwidth)
        return NTK(depth=self.ntk_depth, weight_std=2.0**0.5, bias_std=0.1)

    def draws(self, name: str) -> tuple[int, int]:
        if name == "rbf":
            return self.rbf_samples, self.rbf_trials
        return self.ntk_samples, self.ntk_trials


PRESETS = {
    "smoke": Spec(dim=20, top=20, rbf_samples=300, rbf_trials=1, ntk_samples=300),
    "quick": Spec(),
    "paper": Spec(rbf_samples=8000, rbf_trials=4, ntk_samples=8000, ntk_trials=4),
}


def theory(spec: Spec) -> pd.DataFrame:
    rows = []
    for name in KERNELS:
        g = spec.gammas(name)
        c = level_coefficients(spec.kernel(name), float(g.sum()), dimension=spec.dim)
        modes = hea_modes(g, c, spec.top)  # lambda_alpha = c_|alpha| prod gamma_i^alpha_i
        rank = np.arange(1, len(modes) + 1)
        rows.append(
            pd.DataFrame(
                {
                    "kernel": name,
                    "rank": rank,
                    "eigenvalue": modes.eigenvalues,
                    "degree": modes.degrees,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    rows = []
    with progress.task("kernel Gram eigenvalues", spec.rbf_trials + spec.ntk_trials) as advance:
        for name in KERNELS:
            num, trials = spec.draws(name)
            sqrt_g = torch.from_numpy(np.sqrt(spec.gammas(name))).to(device)
            for trial in range(trials):
                Z = torch.from_numpy(
                    rng(seed, "gaussian-data", name, trial).standard_normal((num, spec.dim))
                )
                Q = torch.linalg.qr(Z).Q * num**0.5  # (N, d), exact identity second moments
                K = gram(spec.kernel(name), Q.to(device) * sqrt_g)
                ev = torch.linalg.eigvalsh(K / num).flip(0)[: spec.top].cpu().numpy()
                rank = np.arange(1, ev.size + 1)
                rows.append(
                    pd.DataFrame({"kernel": name, "trial": trial, "rank": rank, "eigenvalue": ev})
                )
                advance(1)
    return pd.concat(rows, ignore_index=True)


def _joined(pred: pd.DataFrame, meas: pd.DataFrame) -> pd.DataFrame:
    m = meas.groupby(["kernel", "rank"])["eigenvalue"].mean().rename("measured").reset_index()
    j = pred.merge(m, on=["kernel", "rank"])
    j["rel_err"] = (j["eigenvalue"] - j["measured"]).abs() / j["measured"]
    return j


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    """Per kernel, the max over ranks of |HEA - measured| / measured eigenvalue."""
    j = _joined(pred, meas)
    values, parts = {}, []
    for name in KERNELS:
        g = j[j["kernel"] == name]
        w = g.loc[g["rel_err"].idxmax()]
        values[METRICS[name]] = float(w["rel_err"])
        parts.append(
            f"{name}: max {w['rel_err']:.2%} at rank {int(w['rank'])} (degree "
            f"{int(w['degree'])}), median {g['rel_err'].median():.2%}"
        )
    return Evaluation(values, "; ".join(parts))


def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    j = _joined(pred, meas)
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    for ax, name in zip(fig.subplots(1, 2), KERNELS, strict=True):
        g = j[j["kernel"] == name]
        ax.plot(g["rank"], g["eigenvalue"], color="C0", lw=1.6, label="HEA prediction")
        for deg in sorted(g["degree"].unique()):
            h = g[g["degree"] == deg]
            ax.plot(h["rank"], h["measured"], "o", ms=3.5, mfc="white", color=f"C{deg + 1}",
                    label=f"measured (HEA degree {deg})")  # fmt: skip
        ax.set(xscale="log", yscale="log", xlabel="rank", ylabel="kernel eigenvalue")
        ax.set_title(f"{name}: max rel err {g['rel_err'].max():.1%}", fontsize=10)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7.5, frameon=False)
    fig.suptitle("HEA eigenvalues vs Gram-matrix eigenvalues on Gaussian data", fontsize=11)
    return fig


LAW = Law(
    name="hea-eigenvalues-gaussian",
    claim="top-100 kernel eigenvalues on Gaussian data = c_l prod_i gamma_i^alpha_i "
    "(l = degree of alpha; RBF and ReLU NTK)",
    source="Karkada, Turnbull, Liu, Simon 2025 (arXiv 2510.14878), Sec. 3, Fig. 2",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=Criterion(
        Check(
            METRICS["rbf"],
            "<=",
            0.05,
            why="worst of 100 ranks: the Gram estimator's bias on small eigenvalues and the "
            "degree-2 modes' sampling error at N = 3000, 4 draws (~2% each)",
        ),
        Check(
            METRICS["relu-ntk"],
            "<=",
            0.05,
            why="worst of 100 ranks: the Gram estimator overestimates small eigenvalues by "
            "~(mass below) / (N lambda), 3.3% at rank 100 for N = 5000, plus sampling error",
        ),
    ),
    # 12% is 2.4 times the tolerance: ranks within 2% of the theory then miss by >= 10%
    prediction=Prediction("eigenvalue", relative=0.12),
    theory_columns=("kernel", "rank", "eigenvalue", "degree"),
    experiment_columns=("kernel", "trial", "rank", "eigenvalue"),
    tags=("kernels", "hea", "spectra", "synthetic"),
    doc=__doc__ or "",
)
