"""Shared pieces of the cnn family: the described architectures and the test inputs.

Every law builds its networks here from one :mod:`lmech.kernels.stax` description, so
the theory (``net.nngp()``, ``net.ntk()``) and the experiment (``net.module(seed)``, its
empirical NTK) come from the same object.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from lmech.kernels import stax
from lmech.seeding import torch_generator

__all__ = ["ARCHITECTURES", "architecture", "image_inputs", "upper_entries", "loglog_slope"]

#: Architectures the law specs accept.
ARCHITECTURES = ("cnn-flatten", "cnn-gap", "cnn-pool", "resnet")


def architecture(
    name: str,
    width: int,
    *,
    image_size: int,
    depth: int = 2,
    weight_std: float = 1.5,
    bias_std: float = 0.2,
    readout: int = 1,
) -> stax.Network:
    """One described network on (1, image_size, image_size) inputs:

    - ``cnn-flatten``: depth x [Conv2d(3, zero padding), ReLU], Flatten, Dense (CNN-GP
      without pooling: only the pixel-diagonal of the covariance is kept);
    - ``cnn-gap``: depth x [Conv2d(3), ReLU], GlobalAvgPool, Dense (CNN-GAP);
    - ``cnn-pool``: Conv2d(3, stride 2, circular), erf, AvgPool2d(2, stride 1, zero), Conv2d(2,
      valid), GELU, GlobalAvgPool, Dense (strides, paddings and local pooling);
    - ``resnet``: Conv2d(3), then depth residual blocks x + 2^-1/2 [ReLU, Conv2d(3)],
      LayerNorm, ReLU, GlobalAvgPool, Dense.
    """
    w, b = weight_std, bias_std
    if name in ("cnn-flatten", "cnn-gap"):
        layers = []
        for _ in range(depth):
            layers += [stax.Conv2d(width, 3, weight_std=w, bias_std=b), stax.Relu()]
        layers.append(stax.Flatten() if name == "cnn-flatten" else stax.GlobalAvgPool())
    elif name == "cnn-pool":
        layers = [
            stax.Conv2d(width, 3, stride=2, padding="circular", weight_std=w, bias_std=b),
            stax.Erf(),
            stax.AvgPool2d(2, stride=1, padding="zero"),
            stax.Conv2d(width, 2, padding="valid", weight_std=w, bias_std=b),
            stax.Gelu(),
            stax.GlobalAvgPool(),
        ]
    elif name == "resnet":
        layers = [stax.Conv2d(width, 3, weight_std=w, bias_std=b)]
        for _ in range(depth):
            layers.append(
                stax.Residual(stax.Relu(), stax.Conv2d(width, 3, weight_std=w), multiplier=0.5**0.5)
            )
        layers += [stax.LayerNorm(), stax.Relu(), stax.GlobalAvgPool()]
    else:  # the specs restrict the choices
        raise ValueError(name)
    layers.append(stax.Dense(readout, weight_std=1.0, bias_std=0.1))
    return stax.serial(*layers, input_shape=(1, image_size, image_size))


def image_inputs(num: int, image_size: int, data_seed: int) -> torch.Tensor:
    """(num, 1, s, s) float64 Gaussian images; image 1 is image 0 plus 30% noise (a
    correlated pair), the others independent."""
    g = torch_generator(data_seed, "cnn-inputs")
    X = torch.randn(num, 1, image_size, image_size, generator=g, dtype=torch.float64)
    X[1] = (X[0] + 0.3 * X[1]) / (1 + 0.09) ** 0.5
    return X


def upper_entries(K: torch.Tensor, column: str, **cols) -> pd.DataFrame:
    """Entries i <= j of a symmetric (p, p) matrix as rows (``cols`` repeated)."""
    i, j = np.triu_indices(K.shape[0])
    return pd.DataFrame({**cols, "i": i, "j": j, column: K.detach().cpu().numpy()[i, j]})


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])
