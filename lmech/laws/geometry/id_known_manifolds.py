r"""id-known-manifolds: TwoNN and the MLE recover the dimension of manifolds of known d.

Claim:
    On n = 5000 points of a d-dimensional manifold embedded in R^50 by a random rotation
    (small isotropic noise), TwoNN (Facco et al. 2017) and the Levina-Bickel MLE (k = 10..20,
    MacKay-Ghahramani averaging) estimate d within 10% for every d <= 10 tested
    (spheres S^2, S^5, S^10; flat tori (S^1)^2, (S^1)^5; the swiss roll; the cube [0,1]^3;
    Gaussian linear subspaces of dimension 5 and 10), and the PCA participation ratio
    recovers d within 5% on the linear subspaces. At larger d (S^30) both nearest-neighbour
    estimators fall below d by more than 10%: the known downward bias.

System:
    :mod:`lmech.data.manifolds`: uniform points on the manifold in its natural coordinates,
    zero-padded to R^D, rotated by a Haar-random Q, plus N(0, noise^2 I_D).

Measurement:
    One cloud per row (seeded by the row); TwoNN (linear fit, 10% of the largest ratios
    discarded), MLE averaged over k = 10..20, participation ratio of the centred covariance.
    The theory is the true d of each manifold.

Null:
    The linear estimate is blind to curvature: the participation ratio of the flat torus
    (S^1)^d is 2d and of the sphere S^d is d + 1 (both have isotropic covariance in their
    2d or d + 1 ambient coordinates), so on the curved manifolds its worst relative error
    is >= 0.5 (torus: 1.0), where the nearest-neighbour estimators are within 10%.

Known limits:
    Measured at seeds 0, 1, 2 (quick, noise 1e-4): worst TwoNN error 5.1%, 5.7%, 5.4% and
    worst MLE error 7.9%, 7.7%, 7.3%, all on S^10 (TwoNN 9.4-9.8, MLE 9.2-9.3); on S^20
    TwoNN gives 17.3-17.5 and MLE 16.1-16.4 (12-19% low), on S^30 23.1-23.5 and 21.7-22.0
    (22-28% low). The
    bias grows with d at fixed n because a k-neighbourhood has radius ~ n^{-1/d}, so it is
    no longer small against the curvature radius, and the volume growth ~ r^d is distorted
    (Levina & Bickel 2005, Sec. 4 and Fig. 2; Facco et al. 2017, Fig. 3). Boundaries add to
    it: the cube [0,1]^10 gives 8.8 (TwoNN) and 8.4 (MLE), so the cube enters the claim only
    at d = 3. Noise inflates the estimates at the smallest scales: at noise 1e-3 in R^50
    (displacements ~0.01, against nearest-neighbour distances ~0.05 on S^2) TwoNN reads
    2.48 on S^2 (+24%); the claim is for noise 1e-4.

Source:
    Facco, d'Errico, Rodriguez, Laio, Sci. Rep. 7, 12140 (2017), eqs. (1)-(4), Fig. 3;
    Levina & Bickel, NIPS 2005, eqs. (8)-(10), Fig. 2; MacKay & Ghahramani (2005).

Run:
    ``lmech check id-known-manifolds`` (quick, ~6 s CPU on one core).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech.data.manifolds import MANIFOLDS, manifold
from lmech.errors import ConfigError
from lmech.figures.geometry import dimension_figure
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.spec import LawSpec, param
from lmech.measure.geometry import LevinaBickel, ParticipationRatio, TwoNN
from lmech.seeding import derive_seed

_AMBIENT_NEED = {"sphere": 1, "torus": 0, "swiss_roll": 1, "hypercube": 0, "linear_subspace": 0}


def _coordinates(name: str, d: int) -> int:
    """Natural coordinates of the manifold (what the ambient space must hold)."""
    return {"sphere": d + 1, "torus": 2 * d, "swiss_roll": 3}.get(name, d)


@dataclass(frozen=True)
class Spec(LawSpec):
    """Point clouds of known dimension and the estimator settings."""

    num_points: int = param(5000, ge=50, le=200_000, doc="n, points per cloud")
    ambient_dim: int = param(50, ge=3, doc="D, the ambient dimension")
    noise: float = param(1e-4, ge=0, le=0.05, doc="std of the isotropic ambient noise")
    manifolds: tuple[str, ...] = param(
        (
            "sphere",
            "sphere",
            "sphere",
            "torus",
            "torus",
            "swiss_roll",
            "hypercube",
            "linear_subspace",
            "linear_subspace",
        ),
        choices=MANIFOLDS,
        min_len=1,
        doc="one manifold per row of the claim",
    )
    dims: tuple[int, ...] = param(
        (2, 5, 10, 2, 5, 2, 3, 5, 10), ge=1, le=10, min_len=1, doc="d per manifold (<= 10)"
    )
    large_dims: tuple[int, ...] = param(
        (30,), ge=11, le=40, min_len=1, distinct=True, doc="sphere dimensions of the bias rows"
    )
    discard_fraction: float = param(0.1, gt=0, lt=0.5, doc="TwoNN: largest ratios dropped")
    k_min: int = param(10, ge=3, doc="MLE: smallest k")
    k_max: int = param(20, ge=3, doc="MLE: largest k")

    def validate(self) -> None:
        if len(self.manifolds) != len(self.dims):
            raise ConfigError(
                f"manifolds and dims need one entry each per row; got {len(self.manifolds)} "
                f"and {len(self.dims)}"
            )
        if self.k_min > self.k_max:
            raise ConfigError(f"k_min must be <= k_max; got {self.k_min} > {self.k_max}")
        if self.num_points <= self.k_max:
            raise ConfigError(f"num_points must exceed k_max = {self.k_max}")
        rows = list(zip(self.manifolds, self.dims, strict=True))
        rows += [("sphere", d) for d in self.large_dims]
        for name, d in rows:
            if name == "swiss_roll" and d != 2:
                raise ConfigError(f"the swiss roll has d = 2; got d = {d}")
            if _coordinates(name, d) > self.ambient_dim:
                raise ConfigError(
                    f"{name} of d = {d} needs ambient_dim >= {_coordinates(name, d)}; "
                    f"got {self.ambient_dim}"
                )
        if "linear_subspace" not in self.manifolds:
            raise ConfigError("manifolds must include a linear_subspace row (the PR check)")
        if not {"sphere", "torus"} & set(self.manifolds):
            raise ConfigError("manifolds must include a sphere or torus row (the null check)")

    def memory_bytes(self) -> int:
        # float64: one point cloud with its noise and embedding (2 n D + D^2, 2x), the kNN
        # search (a 64 MiB block of squared distances with its broadcast and top-k copies,
        # 3 x 64 MiB, plus the k_max nearest rows, n x k x (D + 2)), the participation
        # ratio's covariance (3 D^2), and 64 MiB for the interpreter and torch's
        # temporaries (measured at quick: 201 MB of peak RSS growth)
        n, D, k = self.num_points, self.ambient_dim, self.k_max
        return 2**26 + 3 * 2**26 + 8 * (2 * (2 * n * D + D * D) + n * k * (D + 2) + 3 * D * D)

    def rows(self) -> list[tuple[str, int, str]]:
        small = [(m, d, "small") for m, d in zip(self.manifolds, self.dims, strict=True)]
        return small + [("sphere", d, "large") for d in self.large_dims]


PRESETS = {
    "smoke": Spec(
        num_points=400,
        manifolds=("sphere", "linear_subspace"),
        dims=(2, 3),
        large_dims=(12,),
        ambient_dim=20,
    ),
    "quick": Spec(),
    "paper": Spec(num_points=20000),
}

KEYS = ["manifold", "intrinsic_dim", "regime"]


def theory(spec: Spec) -> pd.DataFrame:
    rows = spec.rows()
    return pd.DataFrame(
        {
            "manifold": [r[0] for r in rows],
            "intrinsic_dim": [r[1] for r in rows],
            "regime": [r[2] for r in rows],
            "dimension": [float(r[1]) for r in rows],
        }
    )


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    out = []
    for name, d, regime in spec.rows():
        X = manifold(
            name,
            spec.num_points,
            d,
            spec.ambient_dim,
            noise=spec.noise,
            seed=derive_seed(seed, "cloud", name, d),
        )
        out.append(
            {
                "manifold": name,
                "intrinsic_dim": d,
                "regime": regime,
                "twonn": TwoNN(spec.discard_fraction, device=device).fit(X).dimension_,
                "mle": LevinaBickel((spec.k_min, spec.k_max), device=device).fit(X).dimension_,
                "participation_ratio": ParticipationRatio(device=device).fit(X).dimension_,
                "n": spec.num_points,
            }
        )
    return pd.DataFrame(out)


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    t = pred.merge(meas, on=KEYS, validate="one_to_one")
    small, large = t[t.regime == "small"], t[t.regime == "large"]
    rel = lambda col, f: (f[col] - f["dimension"]).abs() / f["dimension"]  # noqa: E731
    err_two, err_mle = rel("twonn", small), rel("mle", small)
    lin = small[small.manifold == "linear_subspace"]
    curved = small[small.manifold.isin(["sphere", "torus"])]
    under = pd.concat(
        [(large["dimension"] - large[c]) / large["dimension"] for c in ("twonn", "mle")]
    )
    worst = small.iloc[int(np.argmax(np.maximum(err_two.to_numpy(), err_mle.to_numpy())))]
    return Evaluation(
        {
            "max_rel_err_twonn": float(err_two.max()),
            "max_rel_err_mle": float(err_mle.max()),
            "max_rel_err_pr_linear": float(rel("participation_ratio", lin).max()),
            "min_underestimate_large_d": float(under.min()),
            "null_max_rel_err_pr_curved": float(rel("participation_ratio", curved).max()),
        },
        detail=(
            f"worst d <= 10 row: {worst.manifold} d={worst.intrinsic_dim} (TwoNN "
            f"{worst.twonn:.2f}, MLE {worst.mle:.2f}); large d: "
            + ", ".join(
                f"S^{r.intrinsic_dim} TwoNN {r.twonn:.1f} MLE {r.mle:.1f}"
                for r in large.itertuples()
            )
        ),
    )


LAW = Law(
    name="id-known-manifolds",
    claim="TwoNN and MLE recover d within 10% for d <= 10 at n = 5000 in R^50; PR recovers "
    "linear subspaces; both underestimate at d = 30",
    source="Facco et al. 2017 (Sci. Rep. 7:12140), eqs. (1)-(4); Levina & Bickel 2005, eqs. (8)-(10)",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=dimension_figure,
    criterion=Criterion(
        Check(
            "max_rel_err_twonn",
            "<=",
            0.10,
            why="the claimed 10%: TwoNN's spread at N = 5000 is d/sqrt(N) ~ 1.4% of d, "
            "measured worst 5.1-5.7% (S^10, seeds 0-2)",
        ),
        Check(
            "max_rel_err_mle",
            "<=",
            0.10,
            why="the claimed 10%: MLE is biased low by 7-8% on S^10 (measured, seeds 0-2); "
            "its statistical spread is < 1%",
        ),
        Check(
            "max_rel_err_pr_linear",
            "<=",
            0.05,
            why="PR of N(0, I_d) from n samples is biased low by ~(d + 1)/n < 0.3% plus a "
            "spread of ~ sqrt(2/n) ~ 2%",
        ),
        Check(
            "min_underestimate_large_d",
            ">=",
            0.10,
            why="the known downward bias at d = 30, n = 5000: measured 22-28% on S^30 "
            "(seeds 0-2), Levina & Bickel Fig. 2; 10% is half the smallest",
        ),
        Check(
            "null_max_rel_err_pr_curved",
            ">=",
            0.5,
            why="population PR of (S^1)^d is 2d (error 1.0) and of S^d is d + 1: the linear "
            "null misses curvature by far more than the 10% claim",
        ),
    ),
    # d off by 25% is 2.5 times the 10% tolerance (and flips the sign of the large-d bias)
    prediction=Prediction("dimension", relative=0.25),
    theory_columns=("manifold", "intrinsic_dim", "regime", "dimension"),
    experiment_columns=(
        "manifold",
        "intrinsic_dim",
        "regime",
        "twonn",
        "mle",
        "participation_ratio",
        "n",
    ),
    tags=("geometry", "intrinsic-dimension", "synthetic"),
    doc=__doc__ or "",
)
