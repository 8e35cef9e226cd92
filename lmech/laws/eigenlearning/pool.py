r"""Eigenlearning on real images, the eigensystem estimated on a held-out pool.

Two laws share this protocol and differ by data, kernel and presets:
``eigenlearning-digits`` (RBF on scikit-learn's digits) and
``eigenlearning-fashion-mnist`` (a deep ReLU NTK on two Fashion-MNIST classes).

Split (fixed by ``split_seed``, shared by theory and experiment):
    ``pool_size`` images form the held-out pool, read only by the theory; the others form
    the experiment pool (:func:`lmech.experiment.pool.split_pool`). Each trial draws n_max
    training images from the experiment pool without replacement (prefixes give the
    smaller n) and tests on ``test_points`` further images (all the images not drawn
    when None).

Estimator (theory side, :mod:`lmech.spectra.empirical`):
    eigenvalues lambda_hat_i = eig(K_MM / M) and coefficients
    v_hat_ik = U_{:i}^T Y_{:k} / sqrt(M) on the pool (M = ``pool_size``); with several
    outputs the per-mode power is v_hat_i^2 = mean_k v_hat_ik^2 (matching an MSE averaged
    over outputs). The total power and trace are unbiased, but power is moved from the
    tail into the top modes (O(E[y^2]/M) per mode), so the prediction is optimistic,
    increasingly with n/M: the sizes stop where n/M is about 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lmech.data.cache import digits, fashion_mnist
from lmech.data.digits import one_hot_targets
from lmech.errors import ConfigError
from lmech.experiment.pool import held_out_pool_experiment, split_pool
from lmech.kernels.base import RBF
from lmech.kernels.infinite import NTK
from lmech.laws import _learning_curve as lc
from lmech.laws.base import Check, Criterion, Law, Prediction
from lmech.laws.spec import LawSpec, param

DIGITS_DOC = r"""eigenlearning-digits: RBF kernel ridge regression on scikit-learn's digits.

Claim:
    The eigenlearning prediction E_te = E_0 (sum_i (1 - L_i)^2 v_i^2 + eps^2), with the
    kernel's eigenvalues and the target's eigen-coefficients estimated on a held-out pool,
    predicts the trial-averaged test MSE of KRR on real images over a grid of n and two
    ridges, to within 15% (max over the grid of |pred - meas| / meas).

System:
    The 1,797 8x8 digits (pixels / 16, d = 64), RBF kernel, multi-output target: the
    centered one-hot label e_y - 1/10 (10 outputs; MSE averaged over outputs). The labels
    are a deterministic function of the image, so eps^2 = 0. A pool of 1,400 images; the
    397 others are the experiment pool, each trial testing on all those not drawn.

Known limits:
    The pool estimator's bias (below) makes the prediction optimistic at large n/M: at
    ridge 1e-2 the measured error crosses the prediction near n = 100 and is 7-8% above
    it at n = 160 (n/M = 0.11). The split matters too: the experiment pool is only 397
    images and every trial re-draws from it, so the measured curve carries that
    subset's own fluctuation, which the trial standard error does not show. With the
    split of split_seed 0 (a :mod:`lmech.seeding` stream) the ridge-1 curve sits 5-7%
    below the prediction for n >= 53; with the earlier split (numpy's
    ``default_rng(0)``) it stayed within 3%. Measured at the quick preset: worst error
    over the grid 7.9% / 7.4% / 8.1% at seeds 0 / 1 / 2 (seed 0 at ridge 1e-2, seeds 1
    and 2 at ridge 1, all at n = 160); 9.0% at seed 0 with the earlier seeding.

Tolerance:
    15%: the estimator bias above (<= ~10% for n <= M/9, the largest size used), plus
    Monte-Carlo error of the trial mean (~1%) and the finite-n correction of the theory
    (~2%, see eigenlearning-synthetic). It is not tuned per run. With digits this small,
    sizes are capped at n = 160 so that n/M stays near 0.1; a larger held-out pool
    (Fashion-MNIST, eigenlearning-fashion-mnist) is what allows larger n.

Source:
    Simon, Dickens, Karkada, DeWeese, "The Eigenlearning Framework", TMLR 2023
    (arXiv 2110.03922), Sec. 4 and Fig. 2 (image tasks); Canatar, Bordelon, Pehlevan,
    Nat. Commun. 2021 (eigendecomposition on a finite image pool).

Run:
    ``lmech check eigenlearning-digits`` (quick, ~5 s on 2 CPU cores).
"""

FASHION_DOC = r"""eigenlearning-fashion-mnist: NTK regression on real images, predicted from a pool.

Claim:
    The eigenlearning prediction E_te = E_0 sum_i (1 - L_i)^2 v_i^2, with the eigenvalues of
    a deep ReLU NTK and the target's eigen-coefficients estimated on a held-out pool of
    Fashion-MNIST images, predicts the trial-averaged test MSE of NTK kernel regression on
    fresh images over a grid of n and two ridges, within 10% (max over the grid of
    |pred - meas| / meas).

System:
    Fashion-MNIST (train + test files, 70,000 images), pixels / 255 flattened (d = 784).
    Binary task: Sandal (class 5) -> +1 vs Sneaker (class 7) -> -1, 14,000 images. Kernel:
    the NTK of a 3-hidden-layer ReLU MLP with W_std = sqrt(2), b_std = 0.1
    (neural-tangents conventions, the eigenlearning paper's Fig. 2 network with one layer
    fewer), :class:`lmech.kernels.infinite.NTK`. A pool of 3,000 images; each trial tests
    on 2,000 of the other 11,000. Sizes stop at n = 160 (n/M = 0.053).

Tolerance:
    10%: at small n the measured mean sits below the prediction at ridge 1e-2 by 3-9%
    (n = 16-25, every seed and both splits tried; the finite-n, non-Gaussian-feature
    correction to the deterministic equivalent, which eigenlearning-synthetic bounds by
    1.5% for Gaussian features), plus 2 standard errors of the trial mean (1.5-2% per
    point at n = 16). The pool-estimator bias is a few % at n/M = 0.05. Measured at the
    quick preset: worst error 7.3% / 4.8% / 8.9% at seeds 0 / 1 / 2 (n = 25, 16, 16;
    the prediction above the measurement); 5.7% at seed 0 with the earlier seeding.

Data:
    ``apt-get install dataset-fashion-mnist`` (or set LMECH_FASHION_MNIST to a folder with
    the four IDX files); without it the law is reported as skipped, never as passed.

Source:
    Simon, Dickens, Karkada, DeWeese, "The Eigenlearning Framework", TMLR 2023
    (arXiv 2110.03922), Sec. 4 and Fig. 2 (NTK regression on binary image tasks).

Run:
    ``lmech check eigenlearning-fashion-mnist`` (quick, ~25 s on 2 CPU cores).
"""

NUM_DIGITS = 1797  # images in scikit-learn's digits
_SIZES = dict(ge=1, min_len=1, distinct=True)
_RIDGES = dict(ge=0, min_len=1, doc="explicit ridges on the raw Gram matrix")


@dataclass(frozen=True)
class DigitsSpec(LawSpec):
    """RBF KRR on the digits; the eigensystem from ``pool_size`` held-out images."""

    bandwidth: float = param(3.0, gt=0, doc="RBF sigma; median |x-x'|^2 ~ 9.3")
    pool_size: int = param(1400, ge=2, le=NUM_DIGITS - 2, doc="held-out pool (theory only)")
    split_seed: int = param(0, ge=0, doc="which images form the pool")
    sizes: tuple[int, ...] = param((10, 15, 23, 35, 53, 80, 120, 160), **_SIZES)
    ridges: tuple[float, ...] = param((1e-2, 1.0), **_RIDGES)
    trials: int = param(60, ge=1)
    test_points: int | None = param(None, ge=1, doc="None: every image not drawn")

    def validate(self) -> None:
        rest = NUM_DIGITS - self.pool_size
        if max(self.sizes) + (self.test_points or 1) > rest:
            raise ConfigError(
                f"the largest size {max(self.sizes)} plus test points leaves no test images: "
                f"the experiment pool has {rest} images; lower sizes or pool_size"
            )

    def memory_bytes(self) -> int:
        # the pool's eigensystem (Gram, scaled copy, eigenvectors, solver workspace: 5 M x M
        # float64), the trial Grams at n_max (train 4 n^2, test T x n), the digits' float
        # features, and 64 MiB for the interpreter's tables and torch's temporaries
        m, n = self.pool_size, max(self.sizes)
        test = self.test_points or NUM_DIGITS - m
        return 2**26 + 8 * (5 * m * m + 4 * n * n + 3 * test * n + 3 * NUM_DIGITS * 64)

    def kernel(self) -> RBF:
        return RBF(self.bandwidth)

    def task(self):
        """(features (1797, 64) = pixels / 16, centered one-hot targets (1797, 10))."""
        images = digits()
        return images.features(), one_hot_targets(images.labels, 10)


@dataclass(frozen=True)
class FashionSpec(LawSpec):
    """ReLU-NTK regression on two Fashion-MNIST classes; eigensystem from a held-out pool."""

    positive: tuple[int, ...] = param((5,), ge=0, le=9, min_len=1, distinct=True, doc="Sandal")
    negative: tuple[int, ...] = param((7,), ge=0, le=9, min_len=1, distinct=True, doc="Sneaker")
    depth: int = param(3, ge=0, doc="hidden layers of the ReLU MLP")
    weight_std: float = param(2.0**0.5, gt=0)
    bias_std: float = param(0.1, ge=0)
    pool_size: int = param(3000, ge=2, doc="held-out pool (theory only)")
    split_seed: int = param(0, ge=0, doc="which images form the pool")
    sizes: tuple[int, ...] = param((10, 16, 25, 40, 63, 100, 160), **_SIZES)
    ridges: tuple[float, ...] = param((1e-2, 1.0), **_RIDGES)
    trials: tuple[int, ...] = param((120, 80, 60, 40, 30, 20, 20), ge=1, doc="one per size")
    test_points: int = param(2000, ge=1, doc="test images per trial")

    def validate(self) -> None:
        lc.check_trials(self.sizes, self.trials)
        if set(self.positive) & set(self.negative):
            raise ConfigError(
                f"positive {list(self.positive)} and negative {list(self.negative)} classes "
                "must be disjoint; drop the shared classes from one of them"
            )

    def memory_bytes(self) -> int:
        # the cached uint8 images (70,000 x 784, twice while loading), the pool's eigensystem
        # (5 M x M float64), the trial Grams at n_max (4 n^2 + 3 T n), the float rows of
        # the pool and of a trial (x 784), one row block of the NTK's intermediates
        # (4 x 1024 x M) and 64 MiB for the interpreter and torch's temporaries
        m, n, test = self.pool_size, max(self.sizes), self.test_points
        floats = 5 * m * m + 4 * n * n + 3 * test * n + 3 * (m + n + test) * 784
        return 2**26 + 2 * 70_000 * 784 + 8 * (floats + 4 * 1024 * max(m, test))

    def kernel(self) -> NTK:
        return NTK(
            depth=self.depth, activation="relu", weight_std=self.weight_std, bias_std=self.bias_std
        )

    def task(self):
        """(features = pixels / 255 of the two classes' images, targets +-1)."""
        images = fashion_mnist()
        rows, t = images.binary_task(list(self.positive), list(self.negative))
        return images.features(rows), t


def _split(spec):
    X, Y = spec.task()
    needed = max(spec.sizes) + (spec.test_points or 1)
    return X, Y, *split_pool(len(X), spec.pool_size, spec.split_seed, needed)


def theory(spec) -> pd.DataFrame:
    X, Y, pool, _ = _split(spec)
    return lc.held_out_pool_theory(spec.kernel(), X[pool], Y[pool], spec.sizes, spec.ridges)


def experiment(spec, seed: int, device: str) -> pd.DataFrame:
    X, Y, _, rest = _split(spec)
    return held_out_pool_experiment(
        spec.kernel(), X, Y, rest, spec.sizes, spec.ridges, spec.trials,
        seed=seed, device=device, test_points=spec.test_points,
    )  # fmt: skip


_COMMON = dict(
    theory=theory,
    experiment=experiment,
    evaluate=lc.test_mse_errors,
    source="Simon et al. 2023, The Eigenlearning Framework (arXiv 2110.03922), Sec. 4, Fig. 2",
    theory_columns=lc.THEORY_COLUMNS,
    experiment_columns=lc.EXPERIMENT_COLUMNS,
)

LAW_DIGITS = Law(
    name="eigenlearning-digits",
    claim="RBF KRR test MSE on digits = eigenlearning prediction from a held-out pool's eigensystem",
    spec=DigitsSpec,
    presets={
        "smoke": DigitsSpec(pool_size=600, sizes=(10, 40), trials=2),
        "quick": DigitsSpec(),
        "paper": DigitsSpec(trials=400),
    },
    figure=lc.curve_figure("Eigenlearning on digits: RBF KRR, eigensystem from a held-out pool"),
    criterion=Criterion(
        Check(
            lc.METRIC,
            "<=",
            0.15,
            why="pool-estimator bias (<= ~10% at n/M <= 0.11) or the 397-image experiment "
            "pool's own offset (5-7%), plus ~1% sem and ~2% finite-n correction",
        ),
    ),
    # 30% is twice the tolerance: every point the theory gets within 3% then misses by 27%
    prediction=Prediction("test_mse", relative=0.30),
    tags=("kernels", "eigenlearning", "real-data"),
    doc=DIGITS_DOC + "\n" + (__doc__ or ""),
    **_COMMON,
)

LAW_FASHION = Law(
    name="eigenlearning-fashion-mnist",
    claim="NTK regression test MSE on Fashion-MNIST (sandal vs sneaker) = eigenlearning "
    "prediction from a held-out pool",
    spec=FashionSpec,
    presets={
        "smoke": FashionSpec(pool_size=300, sizes=(10, 30), trials=(2, 2), test_points=100),
        "quick": FashionSpec(),
        "paper": FashionSpec(
            pool_size=20_000,
            sizes=(10, 20, 40, 80, 160, 320, 640, 1280),
            trials=(400, 200, 100, 50, 30, 20, 10, 10),
            test_points=5000,
        ),
    },
    figure=lc.curve_figure(
        "Eigenlearning on Fashion-MNIST (sandal vs sneaker): ReLU NTK regression"
    ),
    criterion=Criterion(
        Check(
            lc.METRIC,
            "<=",
            0.10,
            why="the measurement's small-n offset on real images (3-9% below the theory at "
            "n = 16-25) plus 2 standard errors of the trial mean (1.5-2% per point)",
        ),
    ),
    # 25% is 2.5 times the tolerance: points within 5% of the theory then miss by >= 20%
    prediction=Prediction("test_mse", relative=0.25),
    tags=("kernels", "eigenlearning", "ntk", "real-data"),
    doc=FASHION_DOC + "\n" + (__doc__ or ""),
    **_COMMON,
)

__all__ = ["LAW_DIGITS", "LAW_FASHION", "DigitsSpec", "FashionSpec", "theory", "experiment"]
