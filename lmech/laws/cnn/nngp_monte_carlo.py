r"""cnn-nngp-monte-carlo: the output covariance of random wide CNNs is the stax NNGP kernel.

Claim:
    Over random initializations of wide convolutional networks (NTK parameterization,
    weights and biases i.i.d. N(0, 1)), the output covariance E[f(x) f(x')] equals the
    NNGP kernel of the same :mod:`lmech.kernels.stax` description: every entry of the
    Monte-Carlo estimate lies within 3.5 standard errors of the kernel, for a CNN without
    pooling (Flatten readout: the kernel keeps only the pixel-diagonal covariances), a
    CNN with global average pooling (all pixel pairs), a strided/circular/valid CNN with
    local average pooling, and a residual CNN with LayerNorm. A second check rejects the
    simpler null that the network is a fully connected net on the flattened image (the
    MLP NNGP of the same depth and scales): it must miss by more than 6 SE somewhere.

System:
    ``num_inputs`` Gaussian images of shape (1, s, s), s = ``image_size``; image 1 is a
    noisy copy of image 0 (a correlated pair). Architectures: ``lmech.laws.cnn._nets``.

Measurement:
    ``networks`` independent modules ``net.module(seed)`` per architecture, each with a
    readout of ``readouts`` outputs: the outputs of one network are i.i.d. given its
    hidden layers, so the per-network estimate is the mean over outputs of
    f_k(x_i) f_k(x_j); the estimate is the mean over networks and its SE the standard
    deviation over networks / sqrt(networks) (the outputs have mean zero exactly by the
    sign symmetry of the readout weights).

Known limits:
    At finite width the covariance differs from the kernel at order depth/width (the
    fully connected law measured 0.3-0.9% at width 1024). At width 256 here, over 100
    networks (seeds 0-99, 1000-1099, 2000-2099) the residual CNN's entries sat within
    |z| <= 2.2 of the kernel (mean z -2.0, +0.24, -0.08: the entries share networks, so
    they move together); the quick preset's 60 networks give an SE of 2-4% of each entry,
    several times the finite-width bias. The cnn-pool architecture's off-diagonal entries
    are near zero (strided circular conv of independent images), so their relative SE is
    large; z stays meaningful. Quick preset, seed 0: max |z| 1.43 (cnn-flatten 1.22,
    cnn-gap 0.80, cnn-pool 1.43, resnet 0.32); the fully connected null misses by
    1,338 SE.

Source:
    Novak et al., "Bayesian Deep Convolutional Networks with Many Channels are Gaussian
    Processes", ICLR 2019, Sec. 2-3 and Fig. 1 (Monte-Carlo CNN-GP); Garriga-Alonso et
    al., "Deep Convolutional Networks as shallow Gaussian Processes", ICLR 2019.

Run:
    ``lmech check cnn-nngp-monte-carlo`` (quick, ~10 s of CPU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from lmech import progress
from lmech.figures.cnn import nngp_scatter_figure
from lmech.kernels.infinite import NNGP
from lmech.laws.base import Check, Criterion, Evaluation, Law, Prediction
from lmech.laws.cnn._nets import ARCHITECTURES, architecture, image_inputs, upper_entries
from lmech.laws.spec import LawSpec, param
from lmech.seeding import derive_seed


@dataclass(frozen=True)
class Spec(LawSpec):
    """Inputs, the architectures, width and the Monte-Carlo budget."""

    image_size: int = param(6, ge=3, le=16, doc="s: images are (1, s, s)")
    num_inputs: int = param(4, ge=2, le=32, doc="images compared")
    depth: int = param(2, ge=1, le=8, doc="conv layers (residual blocks for resnet)")
    width: int = param(256, ge=1, le=4096, doc="channels of every hidden layer")
    weight_std: float = param(1.5, gt=0, le=10, doc="sigma_w")
    bias_std: float = param(0.2, ge=0, le=10, doc="sigma_b")
    architectures: tuple[str, ...] = param(
        ARCHITECTURES, choices=ARCHITECTURES, min_len=1, distinct=True
    )
    networks: int = param(60, ge=2, le=100_000, doc="random networks per architecture")
    readouts: int = param(64, ge=1, le=4096, doc="readout outputs per network")
    data_seed: int = param(0, ge=0, doc="seed of the images")

    def network(self, arch: str):
        return architecture(
            arch, self.width, image_size=self.image_size, depth=self.depth,
            weight_std=self.weight_std, bias_std=self.bias_std, readout=self.readouts,
        )  # fmt: skip

    def memory_bytes(self) -> int:
        # one network at a time, float64 with 4x for initialization and forward
        # temporaries: the conv weights (9 w^2 per layer), a flattened readout
        # (w s^2 x readouts), the activations (p x w x s^2 per layer); the estimates
        # (networks x p^2, 3 copies per architecture); the analytic kernels' tiles
        # (6 x 8 MiB),
        # and 64 MiB for the interpreter and torch's temporaries
        w, s2, p, L = self.width, self.image_size**2, self.num_inputs, self.depth
        net = 9 * w * w * (L + 1) + w * s2 * self.readouts + p * w * s2 * (L + 2)
        est = 3 * len(self.architectures) * self.networks * p * p
        return 2**26 + 6 * 2**23 + 8 * (4 * net + est)

    def inputs(self) -> torch.Tensor:
        return image_inputs(self.num_inputs, self.image_size, self.data_seed)


PRESETS = {
    "smoke": Spec(width=16, networks=4, readouts=8, architectures=("cnn-gap", "resnet")),
    "quick": Spec(),
    "paper": Spec(width=1024, networks=400, num_inputs=8),
}


def theory(spec: Spec) -> pd.DataFrame:
    X = spec.inputs()
    rows = X.reshape(X.shape[0], -1)
    # the null: a fully connected network of the same depth and scales on the flat image
    null = NNGP(depth=spec.depth, activation="relu", weight_std=spec.weight_std,
                bias_std=spec.bias_std).block(rows, rows)  # fmt: skip
    out = []
    for a in spec.architectures:
        t = upper_entries(spec.network(a).nngp().block(rows, rows), "nngp", architecture=a)
        t["null"] = upper_entries(null, "null")["null"]
        out.append(t)
    return pd.concat(out, ignore_index=True)


def experiment(spec: Spec, seed: int, device: str) -> pd.DataFrame:
    X = spec.inputs().to(device)
    i, j = np.triu_indices(spec.num_inputs)
    rows = []
    with progress.task("random CNNs", spec.networks * len(spec.architectures)) as advance:
        for a in spec.architectures:
            net = spec.network(a)
            ests = []
            for s in range(spec.networks):
                model = net.module(derive_seed(seed, "cnn-nngp", a, s), device=device)
                with torch.no_grad():
                    f = model(X)  # (p, readouts)
                ests.append((f @ f.T / f.shape[1]).cpu())
                advance()
            E = torch.stack(ests)
            mean = E.mean(0).numpy()[i, j]
            se = (E.std(0) / math.sqrt(spec.networks)).numpy()[i, j]
            rows.append(pd.DataFrame({"architecture": a, "i": i, "j": j, "estimate": mean,
                                      "se": se, "networks": spec.networks}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def evaluate(pred: pd.DataFrame, meas: pd.DataFrame) -> Evaluation:
    m = meas.merge(pred, on=["architecture", "i", "j"])
    m["z"] = (m["estimate"] - m["nngp"]) / m["se"]
    m["z_null"] = (m["estimate"] - m["null"]) / m["se"]
    worst = m.loc[m["z"].abs().idxmax()]
    per = m.groupby("architecture")["z"].apply(lambda z: z.abs().max())
    detail = (
        f"worst {worst['architecture']} ({int(worst['i'])},{int(worst['j'])}): "
        f"{worst['estimate']:.4g} vs NNGP {worst['nngp']:.4g}, z = {worst['z']:.2f}; max |z| "
        + ", ".join(f"{a}: {v:.2f}" for a, v in per.items())
        + f"; fully connected null: max |z| {m['z_null'].abs().max():.1f}"
    )
    return Evaluation(
        {"max_abs_z": float(m["z"].abs().max()), "null_max_abs_z": float(m["z_null"].abs().max())},
        detail,
    )


LAW = Law(
    name="cnn-nngp-monte-carlo",
    claim="the output covariance of random wide CNNs (with and without pooling, residual) "
    "equals the stax NNGP kernel",
    source="Novak et al., Bayesian Deep CNNs with Many Channels are GPs, ICLR 2019, Sec. 2-3",
    spec=Spec,
    presets=PRESETS,
    theory=theory,
    experiment=experiment,
    evaluate=evaluate,
    figure=nngp_scatter_figure,
    criterion=Criterion(
        Check(
            "max_abs_z",
            "<=",
            3.5,
            why="worst of <= 40 correlated entries in Monte-Carlo SE units (2-4% of each "
            "entry); the O(depth/width) bias at width 256 is a fraction of the SE",
        ),
        Check(
            "null_max_abs_z",
            ">=",
            6.0,
            why="the fully connected NNGP of the flat image must be rejected (6 SE) for the "
            "convolution's kernel to be what was measured",
        ),
    ),  # fmt: skip
    # 15% off is >= 4 SE on every entry whose SE is <= 4% (all diagonal entries)
    prediction=Prediction("nngp", relative=0.15),
    theory_columns=("architecture", "i", "j", "nngp", "null"),
    experiment_columns=("architecture", "i", "j", "estimate", "se", "networks"),
    tags=("kernels", "nngp", "cnn", "infinite-width"),
    doc=__doc__ or "",
)
