r"""Gaussian features with a power-law covariance and a power-law linear target.

x ~ N(0, diag(lambda)), f*(x) = sum_i v_i x_i / sqrt(lambda_i), y = f*(x) + eps * xi.
With the linear kernel k(x, x') = x . x' the integral operator has eigenvalues lambda_i
and orthonormal eigenfunctions phi_i(x) = x_i / sqrt(lambda_i), so f* has eigen-coefficients
v_i exactly: the eigenlearning theory sees the true eigensystem, nothing estimated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lmech._validate import as_float_array, as_positive_int
from lmech.errors import InputError

__all__ = ["GaussianPowerLaw"]


@dataclass(frozen=True)
class GaussianPowerLaw:
    """Sampler of (x, f*(x), y) for given eigenvalues lambda_i and coefficients v_i.

    Args:
        eigenvalues: (d,) feature variances lambda_i > 0.
        coefficients: (d,) target eigen-coefficients v_i.
        noise_variance: label-noise variance eps^2 >= 0.
    """

    eigenvalues: np.ndarray
    coefficients: np.ndarray
    noise_variance: float = 0.0

    def __post_init__(self) -> None:
        lam = as_float_array(self.eigenvalues, "eigenvalues", ndim=1, nonnegative=True)
        v = as_float_array(self.coefficients, "coefficients", ndim=1)
        if lam.shape != v.shape:
            raise InputError(
                f"eigenvalues and coefficients must have the same length; got {lam.size} and {v.size}"
            )
        if (lam <= 0).any():
            raise InputError("eigenvalues of GaussianPowerLaw must be > 0 (feature variances)")
        if not (np.isfinite(self.noise_variance) and self.noise_variance >= 0):
            raise InputError(f"noise_variance must be >= 0; got {self.noise_variance!r}")
        object.__setattr__(self, "eigenvalues", lam)
        object.__setattr__(self, "coefficients", v)

    def sample(
        self, n: int, generator: torch.Generator, *, device="cpu", dtype=torch.float64
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Draw n points: features (n, d), clean targets f*(x) (n,), noisy labels y (n,)."""
        n = as_positive_int(n, "n")
        d = self.eigenvalues.size
        # whitened (n, d); drawn in float32 (4x faster on CPU), then cast: the experiment
        # uses these exact values, so the precision of the draw does not bias anything
        z = torch.randn(n, d, generator=generator, dtype=torch.float32).to(device, dtype)
        sqrt_lam = torch.as_tensor(np.sqrt(self.eigenvalues), dtype=dtype, device=device)
        v = torch.as_tensor(self.coefficients, dtype=dtype, device=device)
        X = z * sqrt_lam  # (n, d), cov diag(lambda)
        f = z @ v  # f*(x) = sum_i v_i x_i / sqrt(lambda_i) = sum_i v_i z_i
        noise = torch.randn(n, generator=generator, dtype=torch.float32).to(device, dtype)
        y = f + float(np.sqrt(self.noise_variance)) * noise
        return X, f, y
