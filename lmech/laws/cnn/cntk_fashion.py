r"""cntk-fashion-mnist: CNN-GAP NTK regression on Fashion-MNIST, predicted by eigenlearning.

Claim:
    The eigenlearning prediction E_te = E_0 sum_i (1 - L_i)^2 v_i^2, with the eigenvalues
    of the CNN-GAP NTK (one :mod:`lmech.kernels.stax` description) and the target's
    eigen-coefficients estimated on a held-out pool of Fashion-MNIST images, predicts the
    trial-averaged test MSE of kernel regression with that kernel on fresh images, within
    15% at every (n, ridge) of the grid. The fully connected ReLU NTK on the same pixels
    gets the same protocol; both kernels' learning curves (theory and measured) and test
    accuracies (sign of the regression) are reported, and the accuracy ordering is
    reported, not assumed.

System:
    Fashion-MNIST (70,000 images), binary task Pullover (class 2) -> +1 vs Coat (class 4)
    -> -1 (a hard pair), pixels / 255 averaged over ``downsample`` x ``downsample``
    blocks (28 / 7 = 4 pixels at the quick preset: images (1, 4, 4), so that the
    all-pixel-pair CNN-GAP kernel fits the CPU budget). A seeded subset of
    ``subset`` images: ``pool_size`` form the held-out pool (theory only), the others the
    experiment pool. CNN-GAP: Conv2d(3, zero padding, sigma_w = sqrt(2), sigma_b = 0.1),
    ReLU, [Conv2d, ReLU] x (conv_layers - 1), GlobalAvgPool, Dense(1, 1, 0.1). FC: the
    ReLU MLP NTK with ``fc_depth`` hidden layers, sigma_w = sqrt(2), sigma_b = 0.1.

Measurement:
    One Gram matrix per kernel on the subset; each trial draws n_max training images of
    the experiment pool (prefixes give smaller n) and tests on all the others; KRR with
    explicit ridge on the raw Gram, (K + delta I)^-1 y. Accuracy: the sign of the
    prediction at the largest n and smallest ridge, averaged over trials.

Known limits:
    The pool estimator moves power from the tail into the top modes, so the prediction is
    optimistic at large n / M (eigenlearning-fashion-mnist measures this): sizes stop at
    n / M ~ 0.1. At (1, 4, 4) the images are coarse; the kernels' accuracy gap there says
    nothing about full-resolution CNTKs (Arora et al. report 77% on CIFAR-10 at full size);
    the paper preset uses 7 x 7. The quick preset has 60 trials per size. Quick preset,
    seed 0: CNN-GAP worst error 6.9% (n = 36, ridge 1e-2: prediction 0.886 above the
    measured 0.829 +- 0.008, the pool estimator's optimism), FC 5.4%; accuracy at n = 36
    CNN-GAP 0.670, FC 0.695 (FC higher at this size and resolution). No check against a
    null here: the FC kernel's curve is reported, and the battery's perturbed prediction
    (35%) is what shows the check can fail.

Data:
    ``apt-get install dataset-fashion-mnist`` (or LMECH_FASHION_MNIST); without it the law
    is skipped, never passed.

Source:
    Arora et al., "On Exact Computation with an Infinitely Wide Neural Net", NeurIPS 2019,
    Sec. 4-5 (CNTK-GAP); Simon, Dickens, Karkada, DeWeese, "The Eigenlearning Framework",
    TMLR 2023 (arXiv 2110.03922), Sec. 4 and Fig. 2 (held-out-pool eigensystems).

Run:
    ``lmech check cntk-fashion-mnist`` (quick, ~10 s of CPU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from lmech.data.cache import fashion_mnist
from lmech.errors import ConfigError
from lmech.kernels import stax
from lmech.kernels.base import gram
from lmech.kernels.infinite import NTK
from lmech.laws import _learning_curve as lc
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.spec import LawSpec, param
from lmech.seeding import rng

KERNELS = ("cnn-gap", "fc")


@dataclass(frozen=True)
class Spec(LawSpec):
    """Task, image size, kernels, the pool and the trial grid."""

    positive: tuple[int, ...] = param((2,), ge=0, le=9, min_len=1, distinct=True, doc="Pullover")
    negative: tuple[int, ...] = param((4,), ge=0, le=9, min_len=1, distinct=True, doc="Coat")
    downsample: int = param(7, choices=(1, 2, 4, 7, 14), doc="block size: images 28/b square")
    conv_layers: int = param(1, ge=1, le=4, doc="[Conv, ReLU] layers before pooling")
    fc_depth: int = param(2, ge=1, le=8, doc="hidden layers of the FC NTK")
    subset: int = param(560, ge=20, le=70_000, doc="images used (pool + experiment pool)")
    pool_size: int = param(320, ge=10, doc="held-out pool (theory only)")
    split_seed: int = param(0, ge=0, doc="which images form the subset and the pool")
    sizes: tuple[int, ...] = param((8, 12, 18, 26, 36), ge=1, min_len=2, distinct=True,
                                   increasing=True)  # fmt: skip
    ridges: tuple[float, ...] = param((1e-2, 1.0), ge=0, min_len=1, doc="ridges on the raw Gram")
    trials: int = param(60, ge=1, le=100_000)

    def validate(self) -> None:
        if set(self.positive) & set(self.negative):
            raise ConfigError("positive and negative classes must be disjoint")
        if self.pool_size + max(self.sizes) + 10 > self.subset:
            raise ConfigError(
                f"pool_size {self.pool_size} + the largest size {max(self.sizes)} + 10 test "
                f"images exceed the subset of {self.subset}; raise subset or lower them"
            )

    def memory_bytes(self) -> int:
        # the cached uint8 images (70,000 x 784, twice while loading); float64: the
        # subset's rows and their block means (3 S x 784), the experiment's Gram and the
        # pool's eigensystem (5 S^2 at most), the analytic kernels' tiles (6 x 8 MiB),
        # and 64 MiB for the interpreter and torch's temporaries
        S = self.subset
        return 2**26 + 2 * 70_000 * 784 + 6 * 2**23 + 8 * (3 * S * 784 + 5 * S * S)

    @property
    def side(self) -> int:
        return 28 // self.downsample

    def cnn(self) -> stax.Network:
        layers = []
        for _ in range(self.conv_layers):
            layers += [stax.Conv2d(1, 3, weight_std=2**0.5, bias_std=0.1), stax.Relu()]
        return stax.serial(*layers, stax.GlobalAvgPool(), stax.Dense(1, 1.0, 0.1),
                           input_shape=(1, self.side, self.side))  # fmt: skip

    def kernel(self, name: str):
        if name == "cnn-gap":
            return self.cnn().ntk()
        return NTK(depth=self.fc_depth, weight_std=2**0.5, bias_std=0.1)


PRESETS = {
    "smoke": Spec(subset=120, pool_size=60, sizes=(5, 10), trials=3),
    "quick": Spec(),
    "paper": Spec(
        downsample=4,
        conv_layers=2,
        subset=6000,
        pool_size=4000,
        sizes=(10, 20, 40, 80, 160, 320),
        trials=100,
    ),  # fmt: skip
}


def _data(spec: Spec):
    """(features (N, side^2), targets (N,), pool rows, experiment rows) of the subset."""
    images = fashion_mnist()
    rows, t = images.binary_task(list(spec.positive), list(spec.negative))
    if spec.subset > len(rows):
        raise ConfigError(f"subset {spec.subset} exceeds the {len(rows)} images of the task")
    pick = rng(spec.split_seed, "cntk-subset").permutation(len(rows))[: spec.subset]
    X = images.features(rows[pick])[np.arange(spec.subset)]  # (N, 784) pixels / 255
    b = spec.downsample
    X = X.reshape(-1, 28 // b, b, 28 // b, b).mean(axis=(2, 4)).reshape(spec.subset, -1)
    return torch.from_numpy(X), t[pick].astype(np.float64), np.arange(spec.pool_size), \
        np.arange(spec.pool_size, spec.subset)  # fmt: skip


def theory(spec: Spec) -> pd.DataFrame:
    X, y, pool, _ = _data(spec)
    out = []
    for name in KERNELS:
        t = lc.held_out_pool_theory(spec.kernel(name), X[pool].numpy(), y[pool], spec.sizes,
                                    spec.ridges)  # fmt: skip
        t.insert(0, "kernel", name)
        out.append(t)
    return pd.concat(out, ignore_index=True)


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    X, y, _, rest = _data(spec)
    Xr = X[rest].to(device)
    yr = torch.from_numpy(y[rest]).to(device)
    n_max, rows = max(spec.sizes), []
    for name in KERNELS:
        K = gram(spec.kernel(name), Xr)  # (E, E), computed once
        for trial in range(spec.trials):
            perm = torch.from_numpy(rng(seed, "cntk-trial", trial).permutation(len(rest))).to(
                device
            )
            test = perm[n_max:]
            for n in spec.sizes:
                tr = perm[:n]
                Ktr, Kte = K[tr][:, tr], K[test][:, tr]
                for ridge in spec.ridges:
                    c = torch.linalg.solve(Ktr + ridge * torch.eye(n, dtype=K.dtype, device=device),
                                           yr[tr])  # fmt: skip
                    f_te, f_tr = Kte @ c, Ktr @ c
                    rows.append({
                        "kernel": name, "trial": trial, "n": n, "ridge": ridge,
                        "test_mse": float(((f_te - yr[test]) ** 2).mean()),
                        "train_mse": float(((f_tr - yr[tr]) ** 2).mean()),
                        "accuracy": float((torch.sign(f_te) == yr[test]).double().mean()),
                    })  # fmt: skip
    return pd.DataFrame(rows)


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    res = {}
    for name in KERNELS:
        j = lc.joined(pred[pred["kernel"] == name], meas[meas["kernel"] == name])
        res[name] = j
    j = res["cnn-gap"]
    worst = j.loc[j["rel_err"].idxmax()]
    n_max, r_min = meas["n"].max(), meas["ridge"].min()
    acc = meas[(meas["n"] == n_max) & (meas["ridge"] == r_min)].groupby("kernel")["accuracy"].mean()
    better = "CNN-GAP" if acc["cnn-gap"] > acc["fc"] else "FC"
    detail = (
        f"CNN-GAP worst at n={int(worst['n'])}, ridge={worst['ridge']:.3g}: pred "
        f"{worst['pred']:.4g} vs meas {worst['mean']:.4g} +- {worst['sem']:.2g}; FC worst rel err "
        f"{res['fc']['rel_err'].max():.3f}; accuracy at n={n_max}, ridge={r_min:g}: CNN-GAP "
        f"{acc['cnn-gap']:.3f}, FC {acc['fc']:.3f} ({better} higher)"
    )
    return Evaluation(
        {lc.METRIC: float(j["rel_err"].max()), "fc_" + lc.METRIC: float(res["fc"]["rel_err"].max()),
         "accuracy_cnn_gap": float(acc["cnn-gap"]), "accuracy_fc": float(acc["fc"])},
        detail,
    )  # fmt: skip


def figure(pred: pd.DataFrame, meas: pd.DataFrame):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.0, 4.2), layout="constrained")
    for k, name in enumerate(KERNELS):
        ax = fig.add_subplot(1, 2, k + 1)
        lc.draw_learning_curves(ax, pred[pred["kernel"] == name], meas[meas["kernel"] == name],
                                f"{name} NTK on Fashion-MNIST (pullover vs coat)")  # fmt: skip
    return fig


LAW = Law(
    name="cntk-fashion-mnist",
    claim="CNN-GAP NTK regression test MSE on Fashion-MNIST = eigenlearning prediction from a "
    "held-out pool; FC NTK and accuracies reported beside it",
    source="Arora et al., NeurIPS 2019, Sec. 4-5; Simon et al., The Eigenlearning Framework, "
    "TMLR 2023, Sec. 4",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=figure,
    criterion=Criterion(
        Check(
            lc.METRIC,
            "<=",
            0.15,
            why="pool-estimator bias (a few % at n/M ~ 0.1), the small-n offset on real "
            "images (3-9% in eigenlearning-fashion-mnist) and 2 sem of 60 trials (~3%)",
        ),
    ),  # fmt: skip
    # 35% is more than twice the tolerance at every grid point
    prediction=Prediction("test_mse", relative=0.35, where={"kernel": "cnn-gap"}),
    theory_columns=("kernel", *lc.THEORY_COLUMNS),
    experiment_columns=("kernel", *lc.EXPERIMENT_COLUMNS, "accuracy"),
    tags=("kernels", "eigenlearning", "ntk", "cnn", "real-data"),
    doc=__doc__ or "",
)
